"""The plan a site's `manifest.json` holds, read back: what a page may be routed by.

Release ids become folder names and URLs (`releases/<id>/`) and shares decide who gets what,
so a plan naming anything else is refused with the file's name, never half used.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from staticml.errors import RolloutError
from staticml.rollout.plan import Plan, Route, plan_from_json

PIN = "sha256-" + "A" * 43 + "="


def plan(**changes: Any) -> dict[str, Any]:
    data = {
        "format": 1,
        "serial": 3,
        "mode": "canary",
        "stable": "aaaaaaaaaaaa",
        "routes": [
            {"release": "bbbbbbbbbbbb", "share": 0.25},
            {"release": "aaaaaaaaaaaa", "share": 0.75},
        ],
        "salt": "9fee489686624367",
        "shadow": "cccccccccccc",
        "shadow_integrity": PIN,
    }
    return data | changes


def with_route(release: Any = "bbbbbbbbbbbb", share: Any = 0.25) -> dict[str, Any]:
    return plan(
        routes=[{"release": release, "share": share}, {"release": "aaaaaaaaaaaa", "share": 0.75}]
    )


def test_a_good_plan_reads_back_as_written():
    read = plan_from_json(plan(), "site/manifest.json")
    assert read.routes == (Route("bbbbbbbbbbbb", 0.25), Route("aaaaaaaaaaaa", 0.75))
    assert (read.stable, read.shadow, read.shadow_integrity) == (
        "aaaaaaaaaaaa",
        "cccccccccccc",
        PIN,
    )
    assert read.to_json() == plan()


def test_a_plan_from_before_pins_still_reads_without_one():
    read = plan_from_json({k: v for k, v in plan().items() if k != "shadow_integrity"}, "m.json")
    assert read.shadow == "cccccccccccc" and read.shadow_integrity is None


BAD_IDS = ["..", ".", "a/b", "a\\b", "", "x" * 65, "abc\n", "abc ", "%2e%2e", "é", 7, None]


@pytest.mark.parametrize("release", BAD_IDS, ids=repr)
def test_a_route_to_anything_but_a_release_id_is_refused(release):
    with pytest.raises(RolloutError, match=r"^site/manifest\.json: .* is not a release id"):
        plan_from_json(with_route(release=release), "site/manifest.json")


@pytest.mark.parametrize("key", ["stable", "shadow"])
@pytest.mark.parametrize("release", [r for r in BAD_IDS if r is not None], ids=repr)
def test_a_stable_or_shadow_that_is_not_a_release_id_is_refused(key, release):
    with pytest.raises(RolloutError, match=r"^m\.json: .* is not a release id"):
        plan_from_json(plan(**{key: release}), "m.json")


def test_a_plan_without_a_stable_release_is_refused():
    with pytest.raises(RolloutError, match=r"^m\.json: None is not a release id"):
        plan_from_json(plan(stable=None), "m.json")


def test_a_release_id_may_be_64_letters_digits_dashes_and_underscores():
    longest = "A-z_9" * 12 + "abcd"
    assert len(longest) == 64
    assert plan_from_json(with_route(release=longest), "m.json").routes[0].release == longest


@pytest.mark.parametrize(
    "share", [math.nan, math.inf, -math.inf, -0.25, 1.25, "0.25", True, None, [0.25]], ids=repr
)
def test_a_share_that_is_not_a_finite_number_from_0_to_1_is_refused(share):
    with pytest.raises(RolloutError, match=r"^m\.json"):
        plan_from_json(with_route(share=share), "m.json")


def test_non_finite_shares_in_the_file_itself_are_refused():
    """Python's json reads NaN and Infinity, which JSON does not have; a manifest with them is
    not a plan."""
    for text in ("NaN", "Infinity", "-Infinity", "1e999"):
        data = json.loads(json.dumps(plan()).replace("0.25", text))
        with pytest.raises(RolloutError, match=r"^m\.json"):
            plan_from_json(data, "m.json")


def test_shares_must_add_up_to_one():
    with pytest.raises(RolloutError, match="add up to"):
        plan_from_json(with_route(share=0.5), "m.json")


@pytest.mark.parametrize(
    "pin", ["", "sha256-", "sha384-" + "A" * 64, "sha256-" + "A" * 44, PIN + " ", 5], ids=repr
)
def test_a_shadow_pin_that_is_not_a_sha256_integrity_is_refused(pin):
    with pytest.raises(RolloutError, match=r"^m\.json: shadow_integrity .* is not the sha256"):
        plan_from_json(plan(shadow_integrity=pin), "m.json")


def test_a_pin_without_a_shadow_is_refused():
    with pytest.raises(RolloutError, match="set, but no shadow is"):
        plan_from_json(plan(shadow=None), "m.json")


def test_what_a_plan_writes_it_reads():
    written = Plan(
        serial=1, mode="stable", stable="a1", routes=(Route("a1", 1.0),), salt="s"
    ).to_json()
    assert plan_from_json(written, "m.json").to_json() == written
