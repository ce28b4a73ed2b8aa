"""The parsers of setting values: each takes the raw TOML value and returns the parsed one.

A parser raises ValueError with a reason written for a person; the loader adds the file, line
and key. The declarations in `staticml.settings.sections` and `.fields` name one per setting.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FIELD_TYPES = ("number", "integer", "category", "text", "image")
# `.json`/`.ubj`: an XGBoost booster; `.txt`: a LightGBM booster (staticml/converters.py).
MODEL_SUFFIXES = (".onnx", ".joblib", ".pkl", ".pickle", ".json", ".ubj", ".txt")
TABLE_SUFFIXES = (".csv", ".json")
OUTPUT_KINDS = ("classification", "regression")
# The compressed variants of a model the build can make (besides `pruned-NN`, `pruned-NN-int8`
# and `pruned-NN-int8-static`, three per `compress.prune` level); `fp32` is the model as given.
VARIANTS = ("fp32", "fp16", "int8-dynamic", "int8-static")
COMPRESS_MODES = ("auto", "off")
_PRUNED = re.compile(r"(pruned-\d{2})(-int8|-int8-static)?")
_TREES = re.compile(r"trees-\d{2}")

_SLUG = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_COLLECTOR = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")
_REQUIREMENT = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?\s*([<>=!~]=?[^;\s]+(\s*,\s*[<>=!~]=?[^;\s]+)*)?"
    r"([ ]+--hash=sha256:[0-9a-f]{64})*"
)


@dataclass(frozen=True)
class EntryPoint:
    """A `module:function` reference; the module is imported from the app directory."""

    module: str
    function: str

    def __str__(self) -> str:
        return f"{self.module}:{self.function}"

    @property
    def package(self) -> str:
        return self.module.split(".")[0]


def describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {describe(value)}")
    return value


def slug(value: Any) -> str:
    text = string(value)
    if not _SLUG.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a valid name: use lowercase letters, digits, '-' or '_', "
            "starting with a letter (at most 64 characters)"
        )
    return text


def identifier(value: Any) -> str:
    text = string(value)
    if not _IDENTIFIER.fullmatch(text):
        raise ValueError(f"{text!r} is not a valid identifier (letters, digits and '_')")
    return text


def tensor_name(value: Any) -> str:
    text = string(value)
    if not text or len(text) > 200:
        raise ValueError("expected the name of a tensor of the ONNX model")
    return text


def entry_point(value: Any) -> EntryPoint:
    text = string(value)
    module, sep, function = text.partition(":")
    if not sep or not _DOTTED.fullmatch(module) or not _IDENTIFIER.fullmatch(function):
        raise ValueError(
            f"{text!r} is not a 'module:function' reference (for example 'digits.preprocess:features')"
        )
    return EntryPoint(module, function)


@dataclass(frozen=True)
class AppFunction:
    """A `module:function` setting naming a function of the app, called with `arguments`.

    The parser checks the reference's form; the loader checks that the function exists and
    accepts that many arguments (`staticml.settings.entry_points`).
    """

    arguments: tuple[str, ...] = ()

    def __call__(self, value: Any) -> EntryPoint:
        return entry_point(value)


@dataclass(frozen=True)
class AppFile:
    """A file inside the app directory, with one of `suffixes`.

    The parser returns the text as written; the loader checks the file exists and gives the
    setting as `app_dir / text` (a `Path`).
    """

    suffixes: tuple[str, ...] = ()

    def __call__(self, value: Any) -> str:
        text = string(value)
        if not text or text.startswith(("/", "\\")) or ".." in text.replace("\\", "/").split("/"):
            raise ValueError(f"{text!r} must be a path inside the app directory, like 'model.onnx'")
        if self.suffixes and not text.lower().endswith(self.suffixes):
            raise ValueError(f"{text!r} must end with one of {', '.join(self.suffixes)}")
        return text


def int_range(low: int, high: int | None = None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {describe(value)}")
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ValueError(f"expected a number {bound}, got {value}")
        return value

    return parse


def number(
    what: str,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
    as_float: bool = True,
) -> Callable[[Any], float]:
    """A parser of numbers (not booleans) within bounds; `what` completes "expected ...".

    Give at most one lower bound (`above` excludes it, `at_least` includes it) and one upper
    bound. Without one the range is open: an infinite value passes only where a bound says so
    (`at_most=math.inf`), and NaN never does. The parsed value is a float, or the number as
    written with `as_float=False`.
    """
    if (above is not None and at_least is not None) or (below is not None and at_most is not None):
        raise TypeError("number(): give at most one lower and one upper bound")
    low = above if above is not None else at_least if at_least is not None else -math.inf
    high = below if below is not None else at_most if at_most is not None else math.inf
    low_open, high_open = at_least is None, at_most is None

    def parse(value: Any) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (low < value if low_open else low <= value)
            or not (value < high if high_open else value <= high)
        ):
            raise ValueError(f"expected {what}, got {describe(value)}")
        return float(value) if as_float else value

    return parse


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {describe(value)}")
    return value


def anything(value: Any) -> Any:
    return value


def one_of(options: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = string(value)
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {text!r}")
        return text

    return parse


def fractions(value: Any) -> tuple[float, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < 1 for v in value
    ):
        raise ValueError(f"expected a list of fractions between 0 and 1, got {describe(value)}")
    percents = [round(v * 100) for v in value]
    if len(set(percents)) != len(percents) or any(not 1 <= p <= 99 for p in percents):
        raise ValueError("the levels must differ in whole percents, from 0.01 to 0.99")
    return tuple(p / 100 for p in sorted(percents))


def compress_mode(value: Any) -> str:
    """`auto`, `off`, or the name of one variant to ship regardless of the gate."""
    text = string(value)
    if text in COMPRESS_MODES or text in VARIANTS or _PRUNED.fullmatch(text):
        return text
    if _TREES.fullmatch(text):
        return text
    raise ValueError(
        f"expected auto, off or a variant ({', '.join(VARIANTS)}, pruned-NN, pruned-NN-int8, "
        "pruned-NN-int8-static, trees-NN), "
        f"got {text!r}"
    )


def pruned_name(level: float) -> str:
    return f"pruned-{round(level * 100):02d}"


def trees_name(share: float) -> str:
    return f"trees-{round(share * 100):02d}"


def unknown_trees(mode: str, shares: tuple[float, ...]) -> str | None:
    """Why `mode` names a fewer-trees variant the `compress.trees` shares do not make, if it does."""
    if not _TREES.fullmatch(mode) or mode in map(trees_name, shares):
        return None
    made = ", ".join(trees_name(share) for share in shares) or "none"
    return f"{mode} is not made by the compress.trees shares (they make {made})"


def unknown_pruning(mode: str, levels: tuple[float, ...]) -> str | None:
    """Why `mode` names a pruned variant the `compress.prune` levels do not make, if it does."""
    found = _PRUNED.fullmatch(mode)
    if found is None or found.group(1) in map(pruned_name, levels):
        return None
    made = ", ".join(pruned_name(level) for level in levels) or "none"
    return f"{mode} is not made by the compress.prune levels (they make {made})"


def string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"expected a list of strings, got {describe(value)}")
    if len(set(value)) != len(value):
        raise ValueError("the list has duplicates")
    return tuple(value)


def choice_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        value = [str(v) for v in value]
    parsed = string_list(value)
    if not parsed:
        raise ValueError("a category needs at least one choice")
    return parsed


def collector_url(value: Any) -> str:
    text = string(value).rstrip("/")
    if not _COLLECTOR.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a collector URL: write http(s)://host[:port][/path], e.g. "
            "https://beacon.example.com (the page posts to <url>/v1/summaries)"
        )
    return text


def drift_conditions(value: Any) -> tuple[str, ...]:
    from staticml.collector.alerts import parse_condition
    from staticml.errors import StaticMLError

    texts = string_list(value)
    for text in texts:
        try:
            parse_condition(text)
        except StaticMLError as exc:
            raise ValueError(str(exc).replace("--fail-on ", "")) from exc
    return texts


def drift_window(value: Any) -> str:
    from staticml.collector.report import parse_window
    from staticml.errors import StaticMLError

    text = string(value)
    try:
        parse_window(text)
    except StaticMLError as exc:
        raise ValueError(str(exc)) from exc
    return text


def requirements(value: Any) -> tuple[str, ...]:
    parsed = string_list(value)
    for requirement in parsed:
        if not _REQUIREMENT.fullmatch(requirement.strip()):
            raise ValueError(
                f"{requirement!r} is not a requirement like "
                "'package==1.2 --hash=sha256:<64 hex digits>'"
            )
    return parsed


finite = number("a number", as_float=False)
non_negative = number("a number of at least 0", at_least=0, below=1e6)
positive_seconds = number("a positive number of seconds", above=0, at_most=math.inf)
fraction = number("a number between 0 and 1 (exclusive)", above=0, below=1)
percent = number("a percentage above 0 and at most 100", above=0, at_most=100)
epsilon = number("a privacy budget ε from 0.01 to 10", at_least=0.01, at_most=10)
daily_epsilon = number("a daily privacy budget from 0.01 to 10000", at_least=0.01, at_most=10_000)
