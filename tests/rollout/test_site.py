"""The site API on real builds: immutable releases, a shared runtime, the plan and its history."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from staticml.errors import RolloutError
from staticml.rollout import Site
from staticml.rollout.release import PAGE_CONFIG, read_bundle, runtime_folders
from staticml.rollout.site import HISTORY, SITE_MANIFEST


def release_id(build: Path) -> str:
    return read_bundle(build)["release"]


def files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_a_release_is_its_build_with_the_runtime_shared(site, wine_releases):
    a, b = release_id(wine_releases.a), release_id(wine_releases.b)
    assert a != b
    assert site.releases() == [a, b]
    runtimes = {f"runtime/{p.name}" for p in (site.root / "runtime").iterdir()}
    assert runtimes == runtime_folders(read_bundle(wine_releases.a))  # one copy for both releases
    assert runtimes == runtime_folders(read_bundle(wine_releases.b))
    build = files(wine_releases.a)
    copied = files(site.root / "releases" / a)
    for path, data in build.items():
        if path.startswith("runtime/"):
            assert (site.root / path).read_bytes() == data
            assert path not in copied
        elif not path.startswith(("index.html", "bundle.json", "sw.js")):
            assert copied[path] == data, path
    bundle, original = json.loads(copied["bundle.json"]), json.loads(build["bundle.json"])
    for rewritten in ("index.html", "sw.js"):
        entry = bundle["assets"].pop(rewritten)
        original["assets"].pop(rewritten)
        assert entry["sha256"] == hashlib.sha256(copied[rewritten]).hexdigest()
    assert bundle == original  # only the page and its service worker changed
    worker = copied["sw.js"].decode()
    precache = json.loads(worker[len("const PRECACHE = ") : worker.index("};") + 1])
    page_hash = base64.b64encode(hashlib.sha256(copied["index.html"]).digest()).decode()
    assert precache["files"]["index.html"] == f"sha256-{page_hash}"
    kept = [path for path in precache["files"] if "runtime/" in path]
    assert kept and all(path.startswith("../../runtime/") for path in kept)
    config = json.loads(copied[PAGE_CONFIG])
    assert config["runtime"]["pyodide"]["module"].startswith("../../runtime/pyodide-")
    # The release's own files stay in it: its wheels, model, samples and the worker's modules.
    modules = set(config["runtime"]["modules"].values())
    assert modules and all(url.startswith(("static/", "wasm/")) for url in modules)
    assert all(
        url.startswith(("../../runtime/", "wheels/", "model/", "data/")) or url in modules
        for url in config["runtime"]["assets"]
    )
    page = copied["index.html"].decode()
    assert '"module": "../../runtime/pyodide-' in page
    assert "index.html.br" not in copied and "index.html.gz" not in copied


def test_adding_a_release_again_changes_nothing(site, wine_releases):
    before = files(site.root)
    assert site.add(wine_releases.a) == release_id(wine_releases.a)
    assert files(site.root) == before


def test_the_first_release_is_stable_and_later_ones_wait(site, wine_releases):
    plan = site.state()
    assert plan.mode == "stable" and plan.stable == release_id(wine_releases.a)
    assert plan.shares() == {plan.stable: 1.0}
    on_disk = json.loads((site.root / SITE_MANIFEST).read_text())
    assert on_disk["routes"] == [{"release": plan.stable, "share": 1.0}]
    assert [e["action"] for e in site.history()] == ["release", "release"]


def test_canary_ramp_keeps_its_salt_and_a_new_canary_gets_a_new_one(site, wine_releases):
    a, b = release_id(wine_releases.a), release_id(wine_releases.b)
    first = site.canary(b, 10)
    ramped = site.canary(b, 30)
    assert ramped.routes[0].release == b and ramped.routes[0].share == pytest.approx(0.3)
    assert ramped.salt == first.salt and ramped.serial == first.serial + 1
    site.rollback()
    assert site.state().shares() == {a: 1.0}
    assert site.canary(b, 10).salt != first.salt


def test_promote_then_rollback_returns_to_the_previous_release(site, wine_releases):
    a, b = release_id(wine_releases.a), release_id(wine_releases.b)
    site.canary(b, 5)
    assert site.promote(b).shares() == {b: 1.0}
    assert site.rollback().shares() == {a: 1.0}
    history = site.history()
    assert [e["action"] for e in history][-3:] == ["canary", "promote", "rollback"]
    assert history[-2]["previous"] == a
    with pytest.raises(RolloutError, match="Nothing to roll back to"):
        site.rollback()


def test_a_shadow_is_pinned_by_its_config_and_unpinned_with_it(site, wine_releases):
    b = release_id(wine_releases.b)
    config = (site.root / "releases" / b / PAGE_CONFIG).read_bytes()
    pin = "sha256-" + base64.b64encode(hashlib.sha256(config).digest()).decode()
    assert site.shadow(b).shadow_integrity == pin
    assert json.loads((site.root / SITE_MANIFEST).read_text())["shadow_integrity"] == pin
    assert site.canary(b, 10).shadow_integrity == pin  # later changes carry it along
    promoted = site.promote(b)
    assert (promoted.shadow, promoted.shadow_integrity) == (None, None)
    assert site.state() == promoted


def test_shadow_and_ab_check_their_releases(site, wine_releases):
    a, b = release_id(wine_releases.a), release_id(wine_releases.b)
    assert site.shadow(b).shadow == b
    with pytest.raises(RolloutError, match="already serves visitors"):
        site.shadow(a)
    with pytest.raises(RolloutError, match="is not in"):
        site.canary("0123456789ab", 10)
    with pytest.raises(RolloutError, match="out of range"):
        site.canary(b, 100)
    plan = site.split([a, b])
    assert plan.mode == "ab" and plan.shares() == {a: 0.5, b: 0.5}
    assert plan.shadow == b  # shadowing continues beside the test
    with pytest.raises(RolloutError, match="two or more different"):
        site.split([a, a])


def test_every_plan_is_in_the_history(site, wine_releases):
    b = release_id(wine_releases.b)
    site.canary(b, 10)
    site.shadow(None)
    history = json.loads((site.root / HISTORY).read_text())
    assert history[-1]["plan"] == json.loads((site.root / SITE_MANIFEST).read_text())
    assert [e["plan"]["serial"] for e in history] == [1, 1, 2, 3]


def test_collection_keeps_what_is_referenced_and_the_newest(tmp_path, wine_releases):
    site = Site(tmp_path / "site")
    a = site.add(wine_releases.a)
    builds = []
    for name in ("c", "d"):  # two more releases: the same build with another page title
        build = tmp_path / name
        shutil.copytree(wine_releases.b, build)
        bundle = json.loads((build / "bundle.json").read_text())
        bundle["release"] = f"{name * 12}"
        (build / "bundle.json").write_text(json.dumps(bundle))
        builds.append(build)
    b = site.add(wine_releases.b, keep=1)
    assert site.releases() == [a, b]  # a is stable: referenced
    site.promote(b)
    c = site.add(builds[0], keep=1)
    assert site.releases() == [a, b, c]  # a is b's rollback target, b is stable, c the newest
    site.promote(c)
    site.add(builds[1], keep=1)
    assert site.releases() == [b, c, "d" * 12]  # a is nobody's now
    site.add(wine_releases.a, keep=1)  # a collected release can come back, as the newest
    assert site.releases() == [b, c, a]  # d is neither new nor referenced
    assert len(list((site.root / "runtime").iterdir())) == len(
        runtime_folders(read_bundle(wine_releases.a))
    )


def test_a_broken_manifest_is_named(site):
    (site.root / SITE_MANIFEST).write_text('{"format": 1}')
    with pytest.raises(RolloutError, match=r"manifest\.json is not a staticml site manifest"):
        site.state()


def test_a_folder_that_is_not_a_build_is_refused(tmp_path):
    with pytest.raises(RolloutError, match="is not a staticml build"):
        Site(tmp_path / "site").add(tmp_path)
