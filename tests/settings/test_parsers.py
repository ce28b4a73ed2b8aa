"""Every pattern-checked value refuses a trailing newline.

`re.match(r"^...$")` accepts `"value\\n"`: `$` also matches before a final newline. A newline
that got through would end up in a CSP header split over two lines, a release folder's name,
or a key echoed into a message, so every validator matches the whole value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from staticml.collector.app import check_origins
from staticml.collector.errors import InvalidRequest
from staticml.collector.validate import check_hour, parse_summary
from staticml.errors import CollectorError, RolloutError
from staticml.rollout.hosting import SitePolicy
from staticml.rollout.plan import check_release_id
from staticml.settings import parsers
from staticml.stages.dependencies import _PURE
from tests.support.collector import RELEASE, body, wine_baseline, wine_summary

NOW = datetime(2026, 11, 29, 18, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        (parsers.slug, "demo", "is not a valid name"),
        (parsers.identifier, "size", "is not a valid identifier"),
        (parsers.entry_point, "pkg.pre:features", "is not a 'module:function' reference"),
        (parsers.compress_mode, "pruned-50", "expected auto, off or a variant"),
        (parsers.collector_url, "http://127.0.0.1:8701", "is not a collector URL"),
    ],
)
def test_settings_refuse_a_trailing_newline(parse, value, message):
    assert str(parse(value)) == value
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        parse(value + "\n")
    assert repr(value + "\n") in str(refused.value)


def test_an_allowed_origin_refuses_a_trailing_newline():
    assert check_origins(["https://app.example"]) == ("https://app.example",)
    with pytest.raises(CollectorError, match=r"--allow-origin 'https://app.example\\n' is not"):
        check_origins(["https://app.example\n"])


def test_a_release_id_refuses_a_trailing_newline():
    assert check_release_id(RELEASE) == RELEASE
    with pytest.raises(RolloutError, match=r"'06b3db358ae3\\n' is not a release id"):
        check_release_id(RELEASE + "\n")


def test_a_summary_hour_refuses_a_trailing_newline():
    assert check_hour("2026-11-29T18", NOW) == "2026-11-29T18"
    with pytest.raises(InvalidRequest, match=r"expected a UTC hour as YYYY-MM-DDTHH"):
        check_hour("2026-11-29T18\n", NOW)


def test_an_unknown_key_with_a_newline_is_echoed_quoted():
    with pytest.raises(InvalidRequest) as refused:
        parse_summary(body({**wine_summary(), "ip\n": 1}), {RELEASE: wine_baseline()}, NOW)
    assert refused.value.key == '"ip\\n"'


def test_only_the_router_script_itself_is_immutable(tmp_path):
    policy = SitePolicy(tmp_path)
    assert policy.immutable("router.0123456789ab.js")
    assert not policy.immutable("router.0123456789ab.js\n")


def test_a_wheel_name_with_a_trailing_newline_is_not_pure():
    assert _PURE.search("six-1.16.0-py2.py3-none-any.whl")
    assert not _PURE.search("six-1.16.0-py2.py3-none-any.whl\n")
