"""The example apps, built with the Python API and used in Chromium as a visitor would."""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

import staticml
from tests.support import ROOT
from tests.support.browser import watch
from tests.support.serving import serve_subprocess

pytestmark = pytest.mark.browser

WINE = ROOT / "examples" / "wine"
DIABETES = ROOT / "examples" / "diabetes"


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    result = staticml.build(WINE, tmp_path_factory.mktemp("wine") / "dist")
    with serve_subprocess(result.out_dir) as server:
        yield result, server


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory):
    result = staticml.build(DIABETES, tmp_path_factory.mktemp("diabetes") / "dist")
    with serve_subprocess(result.out_dir) as server:
        yield result, server


@pytest.fixture
def page_for(browser):
    """A fresh page on a served example, checked for off-origin requests and console errors."""
    opened = []

    def open_page(server):
        watched = watch(browser, server.url, accept_downloads=True)
        opened.append(watched)
        page = watched.new_page()
        page.goto(server.url)
        page.evaluate("window.staticml.ready")
        return page

    yield open_page
    for watched in opened:
        watched.assert_clean()
        watched.context.close()


def samples(result) -> list[dict]:
    manifest = json.loads((result.out_dir / "bundle.json").read_text())
    [path] = [p for p, meta in manifest["assets"].items() if meta["kind"] == "samples"]
    return json.loads((result.out_dir / path).read_text())["samples"]


def fill_form(page, record: dict) -> None:
    for name, value in record.items():
        control = page.locator(f"#field-{name}")
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(str(value))
        else:
            control.fill(str(value))


def test_the_api_returns_what_was_built(wine, diabetes):
    for (result, _), kind, count in ((wine, "classification", 12), (diabetes, "regression", 10)):
        assert result.kind == kind and result.samples == count
        assert (result.out_dir / "bundle.json").is_file()
        assert json.loads((result.out_dir / "bundle.json").read_text())["release"] == result.release


def test_apps_without_dependencies_ship_one_python_snapshot(wine, diabetes, built_site):
    """The snapshot holds staticml's runtime, not the app: three apps, one file."""
    snapshots = [
        sorted(site.glob("runtime/python-*/python.part*.snapshot"))
        for site in (wine[0].out_dir, diabetes[0].out_dir, built_site.path)
    ]
    assert all(snapshots), "a site without its snapshot's parts"
    assert len({parts[0].parent.name for parts in snapshots}) == 1
    assert len({b"".join(p.read_bytes() for p in parts) for parts in snapshots}) == 1


def test_wine_form_entry_gives_the_cpython_prediction(wine, page_for):
    result, server = wine
    page = page_for(server)
    for sample in samples(result)[:3]:
        fill_form(page, sample["record"])
        page.click("#predict")
        page.locator("#result-label", has_text=sample["expected"]["label"]).wait_for()
        shown = {
            row.get_attribute("data-class"): float(
                row.locator(".bar-value").text_content().rstrip("%")
            )
            for row in page.locator("#bars li").all()
        }
        expected = sample["expected"]["probabilities"]
        assert shown == {name: round(p * 100, 1) for name, p in expected.items()}
        exact = page.evaluate("(record) => window.staticml.predict(record)", sample["record"])
        assert all(abs(exact["probabilities"][k] - p) <= 1e-5 for k, p in expected.items())


def test_diabetes_form_shows_the_regression_value_with_its_unit(diabetes, page_for):
    result, server = diabetes
    page = page_for(server)
    sample = samples(result)[0]
    fill_form(page, sample["record"])
    page.click("#predict")
    page.locator("#result-note", has_text="Disease progression").wait_for()
    value = sample["expected"]["value"]
    assert (
        page.text_content("#result-label")
        == f"{float(f'{value:.4g}'):g} (score, 25–346 in the data)"
    )
    exact = page.evaluate("(record) => window.staticml.predict(record)", sample["record"])
    assert abs(exact["value"] - value) <= 1e-5 * abs(value)


def test_invalid_form_values_are_explained_at_the_field(wine, page_for):
    result, server = wine
    page = page_for(server)
    fill_form(page, samples(result)[0]["record"])
    page.fill("#field-alcohol", "99")
    page.click("#predict")
    page.locator("#error-alcohol", has_text="expected a number from 8 to 18, got 99").wait_for()
    assert page.get_attribute("#field-alcohol", "aria-invalid") == "true"
    assert page.text_content("#result-label") == "–"
    page.fill("#field-alcohol", "13")
    page.fill("#field-proline", "")
    page.click("#predict")
    page.locator("#error-proline", has_text="missing required field").wait_for()
    assert page.text_content("#error-alcohol") == ""


def test_a_category_select_rejects_what_it_does_not_offer(diabetes, page_for):
    _, server = diabetes
    page = page_for(server)
    outcome = page.evaluate(
        "async () => { try { await window.staticml.predict({age: 50, sex: '3', bmi: 25, bp: 90, s1: 200, s2: 100, s3: 50, s4: 4, s5: 4.5, s6: 90}); }"
        " catch (error) { return error.message; } }"
    )
    assert outcome == "Invalid record: sex: expected one of '1', '2', got '3'"


def wine_csv(path: Path, rows: int, bad: dict[int, tuple[int, str]]) -> list[list[str]]:
    with (WINE / "samples.csv").open(newline="") as handle:
        source = list(csv.reader(handle))
    header, data = source[0], source[1:]
    generator = random.Random(7)
    written = []
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for index in range(rows):
            row = list(generator.choice(data))
            if index in bad:
                column, value = bad[index]
                row[column] = value
            writer.writerow(row)
            written.append(row)
    return written


def cpython_probabilities(rows: list[list[str]]) -> np.ndarray:
    """The same rows through the example's model in CPython onnxruntime, independently."""
    import joblib
    from skl2onnx import to_onnx

    model = joblib.load(WINE / "model.joblib")
    features = np.asarray(rows, dtype=np.float32)
    onnx_model = to_onnx(model, features[:1], options={id(model.steps[-1][1]): {"zipmap": False}})
    session = onnxruntime.InferenceSession(onnx_model.SerializeToString())
    return session.run(None, {session.get_inputs()[0].name: features})[1]


def test_a_csv_of_ten_thousand_rows_is_scored_with_every_row_accounted_for(
    wine, page_for, tmp_path
):
    _, server = wine
    bad = {4: (0, "abc"), 250: (4, "1.5"), 7000: (12, ""), 9999: (0, "99")}
    rows = wine_csv(tmp_path / "wines.csv", 10_000, bad)
    page = page_for(server)
    page.set_input_files("#batch-file", str(tmp_path / "wines.csv"))
    page.locator("#batch-download").wait_for(state="visible", timeout=120_000)
    assert (
        page.text_content("#batch-status")
        == "10,000 rows: 9,996 scored, 4 with errors (kept in the file, with the reason)."
    )
    listed = page.locator("#batch-errors li").all_text_contents()
    assert listed == [
        "Row 5: alcohol: expected a number, got 'abc'",
        "Row 251: magnesium: expected a whole number, got '1.5'",
        "Row 7001: proline: missing required field (Proline (mg/l))",
        "Row 10000: alcohol: expected a number from 8 to 18, got 99",
    ]
    with page.expect_download() as download:
        page.click("#batch-download")
    assert download.value.suggested_filename == "wines-predictions.csv"
    output = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(output) == 10_000
    assert [i for i, row in enumerate(output) if row["error"]] == sorted(bad)
    good = [i for i in range(10_000) if i not in bad]
    reference = cpython_probabilities([rows[i] for i in good])
    classes = ["cultivar 1", "cultivar 2", "cultivar 3"]
    for position, index in enumerate(good[::97]):
        row = output[index]
        assert row["prediction"] == classes[int(np.argmax(reference[good.index(index)]))]
        for k, name in enumerate(classes):
            assert abs(float(row[f"p_{name}"]) - reference[good.index(index)][k]) <= 1e-5, (
                position,
                index,
            )


def test_a_batch_can_be_cancelled(wine, page_for, tmp_path):
    _, server = wine
    wine_csv(tmp_path / "big.csv", 300_000, {})
    page = page_for(server)
    page.set_input_files("#batch-file", str(tmp_path / "big.csv"))
    page.locator("#batch-cancel").click()
    page.locator("#batch-status", has_text="Cancelled; nothing was saved.").wait_for()
    assert page.locator("#batch-download").is_hidden()


def test_a_csv_without_a_required_column_is_refused_whole(wine, page_for, tmp_path):
    _, server = wine
    (tmp_path / "partial.csv").write_text("alcohol,ash\n13,2\n")
    page = page_for(server)
    page.set_input_files("#batch-file", str(tmp_path / "partial.csv"))
    page.locator(
        "#batch-status", has_text="The file could not be scored: the CSV has no column 'malic_acid'"
    ).wait_for()


def test_batch_progress_is_reported(wine, page_for, tmp_path):
    _, server = wine
    wine_csv(tmp_path / "some.csv", 20_000, {})
    page = page_for(server)
    updates = page.evaluate(
        """async (text) => {
            const updates = [];
            const file = new File([text], "some.csv", {type: "text/csv"});
            const result = await window.staticml.predictFile(file, {onProgress: (p) => updates.push(p)});
            return {updates, rows: result.rows};
        }""",
        (tmp_path / "some.csv").read_text(),
    )
    assert updates["rows"] == 20_000
    progress = updates["updates"]
    assert len(progress) > 1
    assert [p["rows"] for p in progress] == sorted(p["rows"] for p in progress)
    assert progress[-1]["bytes"] == progress[-1]["totalBytes"]


def test_the_diabetes_example_scores_a_csv_with_its_target_column(diabetes, page_for, tmp_path):
    result, server = diabetes
    records = [s["record"] for s in samples(result)]
    names = list(records[0])
    lines = [",".join(names)] + [
        ",".join(str(records[i % len(records)][n]) for n in names) for i in range(10_000)
    ]
    lines[1234] = (
        lines[1234].replace(",2,", ",3,", 1)
        if ",2," in lines[1234]
        else lines[1234].replace(",1,", ",3,", 1)
    )
    (tmp_path / "patients.csv").write_text("\n".join(lines) + "\n")
    page = page_for(server)
    page.set_input_files("#batch-file", str(tmp_path / "patients.csv"))
    page.locator("#batch-download").wait_for(state="visible", timeout=120_000)
    assert page.locator("#batch-errors li").all_text_contents() == [
        "Row 1234: sex: expected one of '1', '2', got '3'"
    ]
    with page.expect_download() as download:
        page.click("#batch-download")
    output = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(output) == 10_000
    target = "Disease progression after one year"
    assert list(output[0])[-2:] == [target, "error"]
    expected = [s["expected"]["value"] for s in samples(result)]
    for index in (0, 1, 5, 9_999):
        assert abs(float(output[index][target]) - expected[index % len(expected)]) <= 1e-4


def test_the_pages_csv_scorer_gives_each_row_its_single_prediction(wine, page_for):
    """The CSV scorer runs the model on many rows at once, `predict` on one: a row must get the
    same label and probabilities (within 1e-5) either way."""
    _, server = wine
    text = (WINE / "eval.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    records = [
        {
            name: (int(value) if name in ("magnesium", "proline") else float(value))
            for name, value in row.items()
            if name != "label"
        }
        for row in rows
    ]
    page = page_for(server)
    result = page.evaluate(
        """async ([text, records]) => {
            const file = new File([text], "eval.csv", {type: "text/csv"});
            const scored = await window.staticml.predictFile(file);
            const single = [];
            for (const record of records) single.push(await window.staticml.predict(record));
            return {csv: await scored.csv.text(), single};
        }""",
        [text, records],
    )
    output = list(csv.DictReader(io.StringIO(result["csv"])))
    assert len(output) == len(result["single"]) == 54
    for row, single in zip(output, result["single"], strict=True):
        assert not row["error"] and row["prediction"] == single["label"]
        for name, probability in single["probabilities"].items():
            assert abs(float(row[f"p_{name}"]) - probability) <= 1e-5, (name, row, single)


def scored_by_the_page(page, text: str) -> str:
    return page.evaluate(
        """async (text) => {
            const file = new File([text], "rows.csv", {type: "text/csv"});
            return await (await window.staticml.predictFile(file)).csv.text();
        }""",
        text,
    )


def scored_by_the_cli(bundle: Path, text: str, folder: Path) -> str:
    source, output = folder / "rows.csv", folder / "scored.csv"
    source.write_text(text)
    command = [sys.executable, "-m", "staticml", "batch", str(bundle), str(source)]
    done = subprocess.run([*command, "-o", str(output), "-q"], capture_output=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return output.read_text()


def assert_within_tolerance(page_csv: str, cli_csv: str, outputs: set[str], relative: bool):
    """docs/cli.md's claim: every cell the same but the predicted numbers, which differ by at
    most TOLERANCE (absolute for probabilities, relative for regression values)."""
    from staticml.runtime.contract import TOLERANCE

    page_rows, cli_rows = (list(csv.reader(io.StringIO(t))) for t in (page_csv, cli_csv))
    assert page_rows[0] == cli_rows[0] and len(page_rows) == len(cli_rows)
    numbers = [i for i, name in enumerate(page_rows[0]) if name in outputs]
    for mine, theirs in zip(page_rows[1:], cli_rows[1:], strict=True):
        keep = [i for i in range(len(mine)) if i not in numbers]
        assert [mine[i] for i in keep] == [theirs[i] for i in keep]
        for i in numbers:
            if mine[i] == theirs[i]:
                continue
            a, b = float(mine[i]), float(theirs[i])
            assert abs(a - b) <= TOLERANCE * (max(abs(b), 1.0) if relative else 1.0), (mine, theirs)


def test_the_pages_csv_and_staticml_batch_agree_within_the_tolerance(
    wine, diabetes, page_for, tmp_path
):
    from tests.support.scoring import BAD_ROWS_CSV

    result, server = wine
    header, *bad = BAD_ROWS_CSV.splitlines(True)
    good = [
        line.rstrip("\n") + ",\n" for line in (WINE / "reference.csv").read_text().splitlines()[1:]
    ]
    text = header + "".join(good) + "".join(bad)  # 124 good wines (empty note), then bad rows
    (tmp_path / "wine").mkdir()
    page_csv = scored_by_the_page(page_for(server), text)
    cli_csv = scored_by_the_cli(result.out_dir, text, tmp_path / "wine")
    scored = list(csv.DictReader(io.StringIO(page_csv)))
    assert len(scored) == 124 + 8 and sum(bool(row["error"]) for row in scored) == 6
    classes = {f"p_{c}" for c in ("cultivar 1", "cultivar 2", "cultivar 3")}
    assert_within_tolerance(page_csv, cli_csv, classes, relative=False)

    result, server = diabetes
    records = json.loads((ROOT / "examples" / "diabetes" / "reference.json").read_text())
    lines = [",".join(records[0])] + [",".join(str(v) for v in r.values()) for r in records]
    text = "\n".join(lines) + "\n"
    (tmp_path / "diabetes").mkdir()
    page_csv = scored_by_the_page(page_for(server), text)
    cli_csv = scored_by_the_cli(result.out_dir, text, tmp_path / "diabetes")
    assert len(list(csv.DictReader(io.StringIO(page_csv)))) == 402
    assert_within_tolerance(
        page_csv, cli_csv, {"Disease progression after one year"}, relative=True
    )


def test_playwright_waits_in_either_form_under_the_pages_csp(wine, browser):
    """README's "Embedding and testing": Playwright evaluates both the expression form and the
    function form through the DevTools protocol, which the page's CSP (no 'unsafe-eval') does
    not govern; what the CSP refuses is script the page itself would make from text."""
    from playwright.sync_api import Error as PlaywrightError

    _, server = wine
    watched = watch(browser, server.url)
    page = watched.new_page()
    policy = page.goto(server.url).headers["content-security-policy"]
    assert "'unsafe-eval'" not in policy and "'unsafe-inline'" not in policy
    expression = page.wait_for_function("window.staticml.ready", timeout=180_000).json_value()
    function = page.wait_for_function("() => window.staticml.ready").json_value()
    assert expression == function and expression["python"]
    assert page.evaluate("window.staticml.ready.then((info) => info.python)") == function["python"]

    watched.expect_errors(r"Content Security Policy")
    with pytest.raises(PlaywrightError, match="violates the following Content Security Policy"):
        page.add_script_tag(content="window.injected = true")
    violated = page.evaluate(
        """() => new Promise((done) => {
            document.addEventListener("securitypolicyviolation",
                (e) => done([e.violatedDirective, e.blockedURI]), {once: true});
            setTimeout("window.injected = true", 0);
        })"""
    )
    assert violated == ["script-src", "eval"]
    assert page.evaluate("() => window.injected") is None
    watched.assert_clean()
    watched.context.close()
