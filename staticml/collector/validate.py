"""Strict validation of a summary against its release's baseline (docs/summaries.md).

Pure functions: bytes in, a `Summary` or an `InvalidRequest` naming the key out. Anything the
contract does not allow is refused, so nothing but bin counts can ever be stored.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from staticml.baseline import Baseline, Variable
from staticml.collector.errors import InvalidRequest

VERSION = 1
MIN_N = 1  # the page enforces its own minimum k (default 20); any n >= 1 merges correctly
MAX_N = 10_000
MAX_CLOCK_SKEW = timedelta(hours=1)
MIN_EPSILON = 0.01
MAX_EPSILON = 10.0
# Two-sided geometric noise exceeds this many multiples of 1/ε with probability < e^-30.
DP_NOISE_BOUND = 30.0
HOUR_FORMAT = "%Y-%m-%dT%H"

_KEYS = ("v", "id", "release", "hour", "n", "features", "output", "dp", "confidence")
_REQUIRED = frozenset(_KEYS) - {"dp", "id", "confidence"}
_COUNT_KEYS = ("counts", "missing")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,39}")
_HOUR = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}")
_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Counts:
    counts: tuple[int, ...]
    missing: int


@dataclass(frozen=True)
class Summary:
    release: str
    hour: str
    n: int
    features: tuple[tuple[str, Counts], ...]
    output: Counts
    epsilon: float | None = None
    id: str | None = None  # random per summary (never per device): a repeat is merged once
    # Top-class probability counts over the baseline's confidence bins; None when the baseline
    # has none. A summary without them (an older page) counts all its n as missing.
    confidence: Counts | None = None

    @property
    def dp(self) -> bool:
        return self.epsilon is not None


def parse_summary(
    body: bytes, baselines: Mapping[str, Baseline], now: datetime | None = None
) -> Summary:
    """The summary in `body`, checked against the baseline of its release."""
    data = _object(_json(body), "summary")
    _exact_keys(data, _KEYS, _REQUIRED, "", "a summary has exactly " + ", ".join(_KEYS))
    if not _integer(data["v"]) or data["v"] != VERSION:
        raise InvalidRequest("v", f"is {data['v']!r}; this collector reads version {VERSION}.")
    release = data["release"]
    baseline = baselines.get(release) if isinstance(release, str) else None
    if baseline is None:
        raise unknown_release("release", release)
    hour = check_hour(data["hour"], now or datetime.now(UTC))
    n = data["n"]
    if not _integer(n) or not MIN_N <= n <= MAX_N:
        raise InvalidRequest("n", f"is {n!r}; expected an integer from {MIN_N} to {MAX_N}.")
    epsilon = _epsilon(data.get("dp"))
    bound = math.ceil(DP_NOISE_BOUND / epsilon) if epsilon is not None else None
    features = _features(data["features"], baseline, n, bound)
    output = _counts(data["output"], baseline.output, "output", n, bound)
    confidence = _confidence(data.get("confidence"), baseline, n, bound)
    return Summary(
        release, hour, n, features, output, epsilon, check_id(data.get("id")), confidence
    )


def check_id(value: object) -> str | None:
    """A summary's random id (feature and rollout summaries alike): a repeat is merged once."""
    if value is None or (isinstance(value, str) and _ID.fullmatch(value)):
        return value
    raise InvalidRequest(
        "id", f"is {_shown(value)}; expected 32 lowercase hex digits (random per summary) or null."
    )


def check_hour(value: object, now: datetime) -> str:
    """A `YYYY-MM-DDTHH` UTC hour not later than one hour after `now`."""
    if not isinstance(value, str) or not _HOUR.fullmatch(value):
        raise InvalidRequest("hour", f"is {value!r}; expected a UTC hour as YYYY-MM-DDTHH.")
    try:
        # What strptime(HOUR_FORMAT) reads, at a twentieth of its cost: the pattern matched.
        numbers = int(value[:4]), int(value[5:7]), int(value[8:10]), int(value[11:13])
        start = datetime(*numbers, tzinfo=UTC)
    except ValueError:
        raise InvalidRequest("hour", f"{value!r} is not a real date and hour.") from None
    if start > now + MAX_CLOCK_SKEW:
        raise InvalidRequest(
            "hour", f"{value} is in the future (now is {now:%Y-%m-%dT%H:%M} UTC); check the clock."
        )
    return value


def _json(body: bytes) -> object:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("body", "is not UTF-8 text; send the summary as JSON.") from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except ValueError as exc:
        raise InvalidRequest("body", f"is not valid JSON ({exc}).") from None
    except RecursionError:
        # `[[[[...` within the body limit nests deeper than the parser's recursion limit.
        raise InvalidRequest(
            "body", "nests too deeply; a summary is JSON objects and lists four levels deep."
        ) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key!r} appears twice")
            seen.add(key)
    return result


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a count")


def _object(value: object, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest(key, f"must be a JSON object, not {type(value).__name__}.")
    return value


def _exact_keys(
    data: Mapping[str, Any],
    allowed: tuple[str, ...],
    required: frozenset[str],
    prefix: str,
    rule: str,
) -> None:
    for key in data:
        if key not in allowed:
            raise InvalidRequest(prefix + _printable(key), f"is not allowed: {rule}.")
    for key in allowed:
        if key in required and key not in data:
            raise InvalidRequest(prefix + key, f"is missing: {rule}.")


def unknown_release(key: str, value: object) -> InvalidRequest:
    """The refusal of a release id the collector was not started with (not naming the others)."""
    return InvalidRequest(
        key,
        f"{_shown(value)} is not a release this collector accepts: check the release id, or ask "
        "the operator to start the collector with that release's bundle.",
    )


def _shown(value: object) -> str:
    """A value someone sent, short enough to echo in a message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _printable(key: str) -> str:
    """A key someone sent, safe and short enough to echo in a message."""
    return key if _NAME.fullmatch(key) else json.dumps(key[:40])


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _epsilon(dp: object) -> float | None:
    if dp is None:
        return None
    obj = _object(dp, "dp")
    _exact_keys(
        obj,
        ("mechanism", "epsilon"),
        frozenset({"mechanism", "epsilon"}),
        "dp.",
        'dp is null or {"mechanism": "geometric", "epsilon": ε}',
    )
    if obj["mechanism"] != "geometric":
        raise InvalidRequest("dp.mechanism", f"is {obj['mechanism']!r}; only 'geometric' exists.")
    epsilon = obj["epsilon"]
    if (
        not isinstance(epsilon, int | float)
        or isinstance(epsilon, bool)
        or not MIN_EPSILON <= epsilon <= MAX_EPSILON
    ):
        raise InvalidRequest(
            "dp.epsilon", f"is {epsilon!r}; expected a number from {MIN_EPSILON} to {MAX_EPSILON}."
        )
    return float(epsilon)


def _confidence(value: object, baseline: Baseline, n: int, bound: int | None) -> Counts | None:
    bins = baseline.confidence
    if bins is None:
        if value is None:
            return None
        raise InvalidRequest(
            "confidence",
            "is not allowed: this release's baseline has no bins of top-class probability "
            "(a regressor, or a build before staticml measured calibration); leave it out.",
        )
    if value is None:
        return Counts((0,) * bins.bins, n)
    shape = Variable("confidence", "numeric", (0,) * bins.bins, 0, edges=bins.edges)
    return _counts(value, shape, "confidence", n, bound)


def _features(
    value: object, baseline: Baseline, n: int, bound: int | None
) -> tuple[tuple[str, Counts], ...]:
    data = _object(value, "features")
    names = tuple(f.name for f in baseline.features)
    _exact_keys(data, names, frozenset(names), "features.", "send exactly the baseline's features")
    return tuple(
        (f.name, _counts(data[f.name], f, f"features.{f.name}", n, bound))
        for f in baseline.features
    )


def _counts(value: object, variable: Variable, key: str, n: int, bound: int | None) -> Counts:
    data = _object(value, key)
    _exact_keys(
        data, _COUNT_KEYS, frozenset(_COUNT_KEYS), key + ".", "counts and missing, nothing else"
    )
    counts, missing = data["counts"], data["missing"]
    if not isinstance(counts, list) or len(counts) != variable.bins:
        size = len(counts) if isinstance(counts, list) else type(counts).__name__
        raise InvalidRequest(
            f"{key}.counts",
            f"has {size} entries; the baseline has {variable.bins} bins for {variable.name!r}.",
        )
    low, high = (0, n) if bound is None else (-bound, n + bound)
    values = [*counts, missing]
    if not all(type(count) is int and low <= count <= high for count in values):
        for index, count in enumerate(values):
            where = f"{key}.counts[{index}]" if index < len(counts) else f"{key}.missing"
            if not _integer(count) or not low <= count <= high:
                raise InvalidRequest(
                    where, f"is {count!r}; expected an integer from {low} to {high}."
                )
    if bound is None and sum(counts) + missing != n:
        raise InvalidRequest(
            key, f"counts and missing add up to {sum(counts) + missing}, not n = {n}."
        )
    return Counts(tuple(counts), missing)
