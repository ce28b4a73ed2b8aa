"""The churn example: a scikit-learn Pipeline given as it is (a ColumnTransformer with string
categories, then gradient-boosted trees), no preprocessing code; built with --verify, used in
Chromium as a visitor would, and scored by `staticml batch`, all against scikit-learn itself."""

from __future__ import annotations

import csv
import io
import json

import pytest

import staticml
from staticml.runtime.contract import TOLERANCE
from tests.support import off_the_loop
from tests.support.browser import watch
from tests.support.churn import CHURN, CLASSES, csv_records, probabilities
from tests.support.serving import serve_subprocess
from tests.test_examples import (
    assert_within_tolerance,
    fill_form,
    samples,
    scored_by_the_cli,
    scored_by_the_page,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    out = tmp_path_factory.mktemp("churn") / "dist"
    result = off_the_loop(staticml.build, CHURN, out, verify=True)
    with serve_subprocess(result.out_dir) as server:
        yield result, server


@pytest.fixture
def page(churn, browser):
    watched = watch(browser, churn[1].url)
    page = watched.new_page()
    page.goto(churn[1].url)
    page.evaluate("window.staticml.ready")
    yield page
    watched.assert_clean()
    watched.context.close()


def shown_probabilities(prediction: dict) -> list[float]:
    return [prediction["probabilities"][name] for name in CLASSES]


def test_the_build_is_verified_and_ships_no_preprocessing(churn):
    result, _ = churn
    assert result.verification is not None
    assert result.verification.samples == 12
    assert result.verification.max_deviation <= TOLERANCE
    predict = json.loads((result.out_dir / "bundle.json").read_text())["predict"]
    assert len(predict["wheels"]) == 1  # staticml's runtime only: the app has no code to ship
    assert predict["python"]["entry"] is None
    assert {i["name"]: i["type"] for i in predict["model"]["inputs"]} == {
        "tenure_months": "float",
        "monthly_charges": "float",
        "support_calls": "float",
        "contract": "string",
        "payment": "string",
        "internet": "string",
    }


def test_the_shipped_reference_predictions_are_scikit_learns(churn):
    shipped = samples(churn[0])
    expected = probabilities([s["record"] for s in shipped])
    for sample, row in zip(shipped, expected, strict=True):
        got = shown_probabilities(sample["expected"])
        assert max(abs(a - b) for a, b in zip(got, row, strict=True)) <= TOLERANCE


def test_the_form_offers_the_fitted_categories_and_predicts_what_scikit_learn_does(page):
    options = page.locator("#field-payment option").all_text_contents()
    assert options == [
        "Choose…",
        "bank transfer",
        "credit card",
        "electronic check",
        "mailed check",
    ]
    record = {
        "tenure_months": 3,
        "monthly_charges": 91.5,
        "support_calls": 4,
        "contract": "month-to-month",
        "payment": "electronic check",
        "internet": "fibre",
    }
    fill_form(page, record)
    page.click("#predict")
    [stays, leaves] = probabilities([record])[0]
    label = "leaves" if leaves > stays else "stays"
    page.locator("#result-label", has_text=label).wait_for()
    exact = page.evaluate("(record) => window.staticml.predict(record)", record)
    assert exact["label"] == label
    assert abs(exact["probabilities"]["leaves"] - leaves) <= TOLERANCE


def test_empty_fields_reach_the_pipeline_as_it_was_fitted_to_fill_them(page):
    """An empty bill is NaN (the SimpleImputer's median), an empty service "" (imputed as
    "unknown", which the one-hot encoder ignores), exactly as in scikit-learn."""
    record = {
        "tenure_months": 30,
        "support_calls": 1,
        "contract": "one year",
        "payment": "mailed check",
    }
    fill_form(page, {**record, "monthly_charges": "", "internet": ""})
    page.click("#predict")
    page.locator("#result-label", has_text="stays").wait_for()
    exact = page.evaluate("(record) => window.staticml.predict(record)", record)
    expected = probabilities([{**record, "monthly_charges": None, "internet": None}])[0]
    assert (
        max(abs(a - b) for a, b in zip(shown_probabilities(exact), expected, strict=True))
        <= TOLERANCE
    )


def test_a_csv_scored_on_the_page_and_by_staticml_batch_is_scikit_learns(churn, page, tmp_path):
    text = (CHURN / "to-score.csv").read_text()
    header, *lines = text.splitlines(True)
    text = header + "".join(lines) + "5,40,1,one year,cash,DSL\n"  # one bad row at the end
    page_csv = scored_by_the_page(page, text)
    cli_csv = scored_by_the_cli(churn[0].out_dir, text, tmp_path)
    assert_within_tolerance(page_csv, cli_csv, {f"p_{c}" for c in CLASSES}, relative=False)
    rows = list(csv.DictReader(io.StringIO(page_csv)))
    assert len(rows) == 201 and "payment: expected one of" in rows[-1]["error"]
    assert any(row["monthly_charges"] == "" for row in rows[:-1])  # missing bills are scored
    expected = probabilities(csv_records(rows[:-1]))
    for row, (stays, leaves) in zip(rows[:-1], expected, strict=True):
        assert not row["error"]
        assert abs(float(row["p_leaves"]) - leaves) <= TOLERANCE
        assert row["prediction"] == ("leaves" if leaves > stays else "stays")
