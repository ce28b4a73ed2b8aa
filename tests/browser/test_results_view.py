"""The result view and the form of a tabular app in Chromium: long class names shown whole,
and every bad field of a record marked at once."""

from __future__ import annotations

import pytest

import staticml
from tests.support.iris import NAMES, iris_app
from tests.support.serving import serve_subprocess

pytestmark = pytest.mark.browser

# One name that breaks at hyphens, one that has no break at all.
CLASSES = (
    "Iris-setosa-long-class-name",
    "Iris-versicolor-long-class-name",
    "Iris_virginica_long_class_name_without_any_break",
)
RECORD = {"sepal_length": "5.6", "sepal_width": "2.8", "petal_length": "4.9", "petal_width": "2"}


@pytest.fixture(scope="module")
def long_named(tmp_path_factory):
    """An iris app whose class names are long and whose fields go from 0 to 10, served."""
    root = tmp_path_factory.mktemp("long-names")
    result = staticml.build(
        iris_app(root, classes=CLASSES, bounds=(0, 10)), root / "dist", compress="off"
    )
    with serve_subprocess(result.out_dir) as server:
        yield server


def ready_page(open_browser, server, width: int):
    watched = open_browser(server.url, viewport={"width": width, "height": 900})
    page = watched.new_page()
    page.goto(server.url)
    page.evaluate("window.staticml.ready")
    return watched, page


# What the visitor sees of the result box: every element showing a class name, with whether
# its text is wider than it (clipped, or drawn under its neighbour), and where it is against
# the box's content area.
LAYOUT = """() => {
  const box = document.querySelector(".result");
  const style = getComputedStyle(box);
  const outer = box.getBoundingClientRect();
  const inner = {
    left: outer.left + parseFloat(style.paddingLeft),
    right: outer.right - parseFloat(style.paddingRight),
  };
  const seen = (element) => {
    const rect = element.getBoundingClientRect();
    return {
      text: element.innerText,
      overflows: element.scrollWidth > element.clientWidth,
      left: rect.left, right: rect.right, width: rect.width,
    };
  };
  const rows = [...document.querySelectorAll("#bars li")].map((row) => ({
    row: seen(row),
    name: seen(row.querySelector(".bar-name")),
    track: seen(row.querySelector(".bar-track")),
    value: seen(row.querySelector(".bar-value")),
  }));
  return {
    inner, rows,
    label: seen(document.getElementById("result-label")),
    note: seen(document.getElementById("result-note")),
    pageOverflows: document.documentElement.scrollWidth > window.innerWidth,
  };
}"""


@pytest.mark.parametrize("width", [1280, 360])
def test_long_class_names_are_shown_whole_and_the_bars_stay_in_the_box(
    long_named, open_browser, width
):
    watched, page = ready_page(open_browser, long_named, width)
    page.locator("button.sample").first.click()
    page.locator("#result-note", has_text="CPython reference").wait_for()
    layout = page.evaluate(LAYOUT)
    inner = layout["inner"]

    assert sorted(row["name"]["text"] for row in layout["rows"]) == sorted(CLASSES)
    assert layout["label"]["text"] in CLASSES
    for part in [layout["label"], layout["note"], *(p for r in layout["rows"] for p in r.values())]:
        assert not part["overflows"], part
        assert inner["left"] - 0.5 <= part["left"] and part["right"] <= inner["right"] + 0.5, part
    for row in layout["rows"]:
        assert row["name"]["right"] <= row["track"]["left"], row  # the bar does not cover it
        assert row["track"]["right"] <= row["value"]["left"], row
        assert row["track"]["width"] > 0, row
    tracks = {(row["track"]["left"], row["track"]["right"]) for row in layout["rows"]}
    assert len(tracks) == 1, "the bars do not line up"
    assert not layout["pageOverflows"]
    watched.assert_clean()


def test_every_bad_field_is_marked_at_once(long_named, open_browser):
    watched, page = ready_page(open_browser, long_named, 1280)
    for name, value in RECORD.items():
        page.fill(f"#field-{name}", value)
    page.fill("#field-sepal_length", "")
    page.fill("#field-petal_width", "99")
    page.click("#predict")

    page.locator("#error-petal_width", has_text="expected a number from 0 to 10, got 99").wait_for()
    assert page.text_content("#error-sepal_length") == (
        "sepal_length: missing required field (sepal_length)"
    )
    assert page.is_visible("#error-sepal_length") and page.is_visible("#error-petal_width")
    invalid = {name: page.get_attribute(f"#field-{name}", "aria-invalid") for name in NAMES}
    assert invalid == {
        "sepal_length": "true",
        "sepal_width": None,
        "petal_length": None,
        "petal_width": "true",
    }
    assert (
        page.text_content("#error-sepal_width") == ""
        and page.text_content("#error-petal_length") == ""
    )
    assert page.text_content("#result-label") == "–"
    assert page.text_content("#result-note") == "Check the highlighted fields."

    page.fill("#field-sepal_length", "5.6")
    page.click("#predict")
    page.locator("#result-note", has_text="Check the highlighted field.").wait_for()
    assert page.get_attribute("#field-sepal_length", "aria-invalid") is None
    assert page.text_content("#error-sepal_length") == ""
    assert page.get_attribute("#field-petal_width", "aria-invalid") == "true"

    page.fill("#field-petal_width", "2")
    page.click("#predict")
    page.locator("#bars li").first.wait_for()
    assert page.text_content("#result-label") in CLASSES
    assert page.locator("[aria-invalid]").count() == 0
    watched.assert_clean()


def test_the_api_names_every_bad_field(long_named, open_browser):
    watched, page = ready_page(open_browser, long_named, 1280)
    error = page.evaluate(
        "async (record) => { try { await window.staticml.predict(record); return null; }"
        " catch (error) { return {message: error.message, field: error.field, problems: error.problems}; } }",
        {**RECORD, "sepal_width": "-1", "petal_length": "11"},
    )
    assert error is not None, "a record with two bad fields was accepted"
    assert error["field"] == "sepal_width"
    assert error["problems"] == [
        {"field": "sepal_width", "message": "sepal_width: expected a number from 0 to 10, got -1"},
        {
            "field": "petal_length",
            "message": "petal_length: expected a number from 0 to 10, got 11",
        },
    ]
    assert error["message"] == "Invalid record: " + "; ".join(
        problem["message"] for problem in error["problems"]
    )
    watched.assert_clean()
