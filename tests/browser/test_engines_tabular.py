"""The wine example, a tabular app, in Firefox and WebKit as in Chromium (test_results_view.py,
tests/test_examples.py): its form, typed into, and its CSV batch, a file chosen in the page
and the predictions downloaded, scored as `staticml batch` and CPython's onnxruntime score
them. Driven as test_engines.py drives the demo, every request through a proxy that forwards
only to the site's origin and collects the engine's CSP violations.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

import staticml
from tests.support import off_the_loop
from tests.support.engines import ENGINES, READY, assert_clean, download, engine_page
from tests.support.scoring import WINE, shipped_samples
from tests.support.serving import serve_subprocess
from tests.test_examples import (
    assert_within_tolerance,
    cpython_probabilities,
    scored_by_the_cli,
    wine_csv,
)

pytestmark = pytest.mark.browser

CLASSES = ("cultivar 1", "cultivar 2", "cultivar 3")
ROWS = 500
BAD = {4: (0, "abc"), 250: (4, "1.5"), 499: (0, "99")}


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    out = tmp_path_factory.mktemp("wine") / "dist"
    result = off_the_loop(staticml.build, WINE, out, compress="off")
    with serve_subprocess(result.out_dir) as server:
        yield result, server


@pytest.fixture(scope="module", params=ENGINES)
def wine_page(request, wine):
    """One page per engine on the wine example, its runtime booted."""
    _, server = wine
    with engine_page(request.param, server.url) as page:
        page.goto(server.url)
        page.wait_until("window.staticml", timeout=60)
        page.call(READY)
        yield page
        assert_clean(page)


def test_a_sample_typed_into_the_form_shows_its_cpython_label(wine_page, wine):
    page = wine_page
    sample = shipped_samples(wine[0].out_dir)[5]
    for name, value in sample["record"].items():
        page.fill(f"#field-{name}", str(value))
    page.click("#predict")
    page.wait_until("document.querySelectorAll('#bars li').length === 3", timeout=60)
    assert page.text("#result-label") == sample["expected"]["label"]
    shown = page.call(
        "() => Object.fromEntries([...document.querySelectorAll('#bars li')].map((row) =>"
        " [row.querySelector('.bar-name').textContent,"
        " parseFloat(row.querySelector('.bar-value').textContent)]))"
    )
    for name, p in sample["expected"]["probabilities"].items():
        assert abs(shown[name] - 100 * p) <= 0.5, (name, shown)  # shown rounded


def test_a_bad_field_in_the_form_is_marked(wine_page, wine):
    page = wine_page
    for name, value in shipped_samples(wine[0].out_dir)[2]["record"].items():
        page.fill(f"#field-{name}", str(value))
    page.fill("#field-alcohol", "99")
    page.click("#predict")
    page.wait_until("document.querySelector('#field-alcohol').getAttribute('aria-invalid')")
    assert page.text("#error-alcohol") == "alcohol: expected a number from 8 to 18, got 99"
    assert page.text("#result-label") == "–"
    assert page.text("#result-note") == "Check the highlighted field."


def test_a_chosen_csv_is_scored_as_staticml_batch_and_cpython_score_it(wine_page, wine, tmp_path):
    page = wine_page
    rows = wine_csv(tmp_path / "wines.csv", ROWS, BAD)
    page.choose_file("#batch-file", tmp_path / "wines.csv")
    page.wait_until("!document.querySelector('#batch-download').hidden", timeout=120)
    assert page.text("#batch-status") == (
        f"{ROWS} rows: {ROWS - len(BAD)} scored, {len(BAD)} with errors"
        " (kept in the file, with the reason)."
    )
    listed = page.call(
        "() => [...document.querySelectorAll('#batch-errors li')].map((e) => e.textContent)"
    )
    assert listed == [
        "Row 5: alcohol: expected a number, got 'abc'",
        "Row 251: magnesium: expected a whole number, got '1.5'",
        "Row 500: alcohol: expected a number from 8 to 18, got 99",
    ]
    page_csv = download(page, "#batch-download", "wines-predictions.csv").read_text()
    cli_csv = scored_by_the_cli(wine[0].out_dir, (tmp_path / "wines.csv").read_text(), tmp_path)
    assert_within_tolerance(page_csv, cli_csv, {f"p_{c}" for c in CLASSES}, relative=False)
    output = list(csv.DictReader(io.StringIO(page_csv)))
    assert [i for i, row in enumerate(output) if row["error"]] == sorted(BAD)
    good = [i for i in range(ROWS) if i not in BAD]
    reference = cpython_probabilities([rows[i] for i in good])
    for index, expected in zip(good, reference, strict=True):
        row = output[index]
        assert row["prediction"] == CLASSES[int(np.argmax(expected))], index
        for name, p in zip(CLASSES, expected, strict=True):
            assert abs(float(row[f"p_{name}"]) - p) <= 1e-5, (index, name)
