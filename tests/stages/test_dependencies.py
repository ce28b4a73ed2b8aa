"""Browser dependencies: pure-Python wheels for Pyodide's Python, downloaded by pip."""

from __future__ import annotations

import pytest

from staticml.errors import BuildError
from staticml.stages.dependencies import fetch_dependencies
from staticml.stages.purity import check_browser_imports
from staticml.stages.wheels import pack_wheels
from tests.support.dependencies import SIX, with_dependencies


def test_a_pure_package_is_downloaded_with_its_top_level_names():
    (wheel,) = fetch_dependencies(with_dependencies(SIX))
    assert wheel.filename == "six-1.16.0-py2.py3-none-any.whl"
    assert wheel.top_level == ("six",)
    wheels = pack_wheels(with_dependencies(), (wheel,))
    assert [w.filename for w in wheels.all()][1] == wheel.filename
    assert "six" in wheels.importable()


def test_a_package_without_a_pure_wheel_is_named():
    with pytest.raises(
        BuildError, match=r"preprocess.dependencies: numpy has no pure-Python wheel for Python 3.14"
    ):
        fetch_dependencies(with_dependencies("numpy"))


def test_imports_of_declared_dependencies_are_allowed(tmp_path):
    source = tmp_path / "pkg" / "pre.py"
    source.parent.mkdir()
    source.write_text("import six\n")
    check_browser_imports([source], {"pkg", "six"}, tmp_path)
    with pytest.raises(BuildError, match="imports six"):
        check_browser_imports([source], {"pkg"}, tmp_path)


def test_no_dependencies_means_no_download():
    assert fetch_dependencies(with_dependencies()) == ()


def test_a_requirement_without_a_hash_is_refused_with_the_line_to_paste():
    with pytest.raises(BuildError) as refused:
        fetch_dependencies(with_dependencies("six==1.16.0"))
    message = str(refused.value)
    assert "'six==1.16.0' is not pinned with a hash" in message
    assert f'"{SIX}",' in message


def test_an_unpinned_version_is_refused_with_the_version_and_hash_downloaded():
    with pytest.raises(
        BuildError,
        match=r"(?s)'six' is not pinned with a hash.*\n  \"six==[\d.]+ --hash=sha256:[0-9a-f]{64}\",",
    ):
        fetch_dependencies(with_dependencies("six"))


def test_a_wrong_hash_is_refused():
    wrong = SIX[: -len("0254")] + "0000"
    with pytest.raises(BuildError, match=r"does not match its pinned hash"):
        fetch_dependencies(with_dependencies(wrong))


def test_a_dependency_of_a_pinned_package_needs_its_own_hash():
    with pytest.raises(BuildError) as refused:
        fetch_dependencies(with_dependencies("python-dateutil==2.9.0.post0"))
    message = str(refused.value)
    assert "'python-dateutil==2.9.0.post0' is not pinned with a hash" in message
    assert '"python-dateutil==2.9.0.post0 --hash=sha256:' in message
    assert '"six==' in message


def test_a_hashed_package_whose_dependency_has_no_hash_gets_that_line():
    dateutil = (
        "python-dateutil==2.9.0.post0 "
        "--hash=sha256:a8b2bc7bffae282281c8140a97d3aa9c14da0b136dfe83f850eea9a5f7470427"
    )
    with pytest.raises(
        BuildError,
        match=r"(?s)a package they need is not pinned with a hash.*\n  \"six==[\d.]+ --hash=sha256:",
    ):
        fetch_dependencies(with_dependencies(dateutil))
