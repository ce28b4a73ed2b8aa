"""Batch scoring in one process: the examples' bundles, their samples, bad rows, bad bundles."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import staticml
from staticml.errors import ScoringError
from staticml.runtime.table import CsvScorer
from staticml.scoring.bundle import load_bundle
from staticml.scoring.job import BatchJob, run_batch
from staticml.scoring.scorer import open_scorer
from tests.support.scoring import (
    BAD_ROW_NUMBERS,
    BAD_ROWS_CSV,
    DIABETES,
    TARGET,
    WINE,
    assert_matches_expected,
    read_errors,
    read_output,
    shipped_samples,
    write_csv,
    write_parquet,
)


@pytest.fixture(scope="module")
def wine(tmp_path_factory) -> Path:
    return staticml.build(WINE, tmp_path_factory.mktemp("wine") / "dist").out_dir


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory) -> Path:
    return staticml.build(DIABETES, tmp_path_factory.mktemp("diabetes") / "dist").out_dir


@pytest.fixture
def bundles(wine, diabetes) -> dict[str, Path]:
    return {"wine": wine, "diabetes": diabetes}


def page_csv(bundle: Path, text: str) -> tuple[str, list[tuple[int, str]]]:
    """What the page's CSV scorer (the same runtime code, run here in CPython) writes."""
    loaded = load_bundle(bundle)
    with open_scorer(loaded) as scorer:
        table = CsvScorer(scorer.predictor, loaded.output)
        prepared = table.feed(text, final=True)
        features = np.frombuffer(prepared.features, np.float32).reshape(-1, 13)
        model = loaded.spec
        labels, probabilities = scorer.session.run(
            [model.label, model.probabilities], {model.input: features}
        )
        written = table.complete(list(labels), list(probabilities.reshape(-1)))
    return written, table.totals.errors


def assert_same_table(text: str, expected: str) -> None:
    """The same rows and cells; predicted numbers within 1e-5 (a model run's batch size can
    move the last float32 bit)."""
    rows, reference = (list(csv.reader(io.StringIO(t))) for t in (text, expected))
    assert rows[0] == reference[0] and len(rows) == len(reference)
    numbers = [i for i, name in enumerate(rows[0]) if name.startswith("p_")]
    for row, want in zip(rows[1:], reference[1:], strict=True):
        assert [c for i, c in enumerate(row) if i not in numbers] == [
            c for i, c in enumerate(want) if i not in numbers
        ]
        for i in numbers:
            assert (row[i] == want[i] == "") or abs(float(row[i]) - float(want[i])) <= 1e-5


@pytest.mark.parametrize("app", ["wine", "diabetes"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_shipped_samples_get_the_browser_reference(bundles, tmp_path, app, suffix):
    samples = shipped_samples(bundles[app])
    records = [s["record"] for s in samples]
    write = write_csv if suffix == ".csv" else write_parquet
    source = write(tmp_path / f"samples{suffix}", records)
    result = run_batch(BatchJob(bundles[app], source, tmp_path / f"scored{suffix}", chunk_rows=5))
    output = read_output(result.output)
    assert (result.rows, result.scored, result.failed) == (len(samples), len(samples), 0)
    assert len(output) == len(samples)
    for row, sample in zip(output, samples, strict=True):
        assert_matches_expected(row, sample["expected"], TARGET)
    assert read_errors(result.errors) == []


@pytest.mark.parametrize("chunk_rows", [1, 3, 10_000])
def test_bad_rows_are_kept_in_place_and_listed_as_the_page_does(wine, tmp_path, chunk_rows):
    source = tmp_path / "wines.csv"
    source.write_text(BAD_ROWS_CSV)
    result = run_batch(BatchJob(wine, source, tmp_path / "out.csv", chunk_rows=chunk_rows))
    expected_text, expected_errors = page_csv(wine, BAD_ROWS_CSV)
    if chunk_rows >= 9:  # one model run, as the page made here: the very same bytes
        assert result.output.read_text() == expected_text
    assert_same_table(result.output.read_text(), expected_text)
    assert read_errors(result.errors) == expected_errors
    assert [number for number, _ in expected_errors] == BAD_ROW_NUMBERS
    assert (result.rows, result.scored, result.failed) == (8, 2, 6)
    output = read_output(result.output)
    assert len(output) == 8
    assert [i + 1 for i, row in enumerate(output) if row["error"]] == BAD_ROW_NUMBERS
    assert output[5]["note"] == 'a, "quoted"\nnote'


def test_parquet_output_keeps_every_row_with_typed_predictions(wine, tmp_path):
    source = tmp_path / "wines.csv"
    source.write_text(BAD_ROWS_CSV)
    result = staticml.batch(wine, source, tmp_path / "out.parquet", chunk_rows=4)
    rows = read_output(result.output)
    assert [i + 1 for i, row in enumerate(rows) if row["error"]] == BAD_ROW_NUMBERS
    assert rows[0]["prediction"] == "cultivar 1" and isinstance(rows[0]["p_cultivar 1"], float)
    assert rows[1]["prediction"] is None and rows[1]["p_cultivar 1"] is None
    assert rows[1]["error"] == "alcohol: expected a number, got 'abc'"
    assert result.errors == tmp_path / "out.errors.csv"


def test_typed_parquet_input_with_missing_values(diabetes, tmp_path):
    records = [dict(s["record"]) for s in shipped_samples(diabetes)]
    records[1]["bmi"] = None
    records[2]["bmi"] = math.nan
    source = write_parquet(tmp_path / "patients.parquet", records)
    result = staticml.batch(diabetes, source, tmp_path / "scored.csv")
    assert read_errors(result.errors) == [
        (2, "bmi: missing required field (Body mass index)"),
        (3, "bmi: missing required field (Body mass index)"),
    ]
    assert len(read_output(result.output)) == len(records)


def test_an_empty_table_gives_an_output_with_only_the_header(wine, tmp_path):
    source = tmp_path / "empty.csv"
    source.write_text(BAD_ROWS_CSV.splitlines()[0] + "\n")
    result = staticml.batch(wine, source, tmp_path / "out.csv")
    assert result.rows == 0
    assert (
        result.output.read_text().startswith("alcohol,")
        and result.output.read_text().count("\n") == 1
    )


def test_a_tampered_file_is_refused_by_name(wine, tmp_path):
    copy = shutil.copytree(wine, tmp_path / "bundle")
    model = copy / load_bundle(wine).manifest.predict.model.url
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(ScoringError, match=f"{model}.*does not match the sha256"):
        staticml.batch(copy, WINE / "samples.csv", tmp_path / "out.csv")


def test_a_bundle_with_another_browser_runtime_is_refused(wine, tmp_path):
    copy = shutil.copytree(wine, tmp_path / "bundle")
    manifest = json.loads((copy / "bundle.json").read_text())
    runtime = next(p for p in manifest["predict"]["wheels"] if "staticml_runtime" in p)
    (copy / runtime).write_bytes((copy / runtime).read_bytes() + b"\0")
    from staticml.hashing import sha256_hex

    manifest["assets"][runtime]["sha256"] = sha256_hex((copy / runtime).read_bytes())
    (copy / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(ScoringError, match="browser runtime other than this staticml's"):
        staticml.batch(copy, WINE / "samples.csv", tmp_path / "out.csv")


def test_a_file_without_a_required_column_is_refused_whole(wine, tmp_path):
    source = tmp_path / "partial.csv"
    source.write_text("alcohol,ash\n13,2\n")
    with pytest.raises(ScoringError, match="the CSV has no column 'malic_acid'"):
        staticml.batch(wine, source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.errors.csv").exists()


@pytest.mark.parametrize(
    ("bundle", "output", "message"),
    [
        ("missing", "out.csv", "bundle.json does not exist"),
        ("wine", "out.txt", "cannot tell the output format from the name out.txt"),
        ("wine", "in.csv", "is the input file"),
    ],
)
def test_usage_errors_say_what_to_do(wine, tmp_path, bundle, output, message):
    source = write_csv(tmp_path / "in.csv", [{"alcohol": 13}])
    folder = wine if bundle == "wine" else tmp_path / bundle
    with pytest.raises(ScoringError, match=message):
        staticml.batch(folder, source, tmp_path / output)


def run_cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "staticml", "batch", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_command_reports_rows_and_errors(wine, tmp_path):
    source = tmp_path / "wines.csv"
    source.write_text(BAD_ROWS_CSV)
    done = run_cli(wine, source, "-o", tmp_path / "scored.data", "--format", "parquet", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"8 rows: 2 scored, 6 with errors (listed in {tmp_path / 'scored.errors.csv'})."
    )
    assert len(read_errors(tmp_path / "scored.errors.csv")) == 6


def test_a_row_gets_the_same_prediction_in_any_chunking(wine, tmp_path):
    """`staticml batch` runs the model once per chunk: the shipped model must give a row the
    same outputs whatever rows share its chunk, down to one row per run as the page's form."""
    source = tmp_path / "wines.csv"
    source.write_text((WINE / "eval.csv").read_text())
    outputs = {}
    for chunk_rows in (1, 7, 10_000):
        target = tmp_path / f"chunks-{chunk_rows}.csv"
        done = run_cli(wine, source, "-o", target, "--chunk-rows", chunk_rows, "-q")
        assert done.returncode == 0, done.stderr
        outputs[chunk_rows] = read_output(target)
    alone = outputs.pop(1)
    assert len(alone) == 54 and not any(row["error"] for row in alone)
    probabilities = [name for name in alone[0] if name.startswith("p_")]
    assert probabilities
    for chunked in outputs.values():
        assert [row["prediction"] for row in chunked] == [row["prediction"] for row in alone]
        for row, single in zip(chunked, alone, strict=True):
            for name in probabilities:
                assert abs(float(row[name]) - float(single[name])) <= 1e-5, (name, row, single)


def test_the_command_prints_an_error_not_a_traceback(wine, tmp_path):
    done = run_cli(wine, tmp_path / "absent.csv", "-o", tmp_path / "out.csv")
    assert done.returncode == 1
    assert done.stderr.startswith(f"Error: the input {tmp_path / 'absent.csv'} cannot be read")
    assert "Traceback" not in done.stderr
