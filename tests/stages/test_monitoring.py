"""The build's monitoring baseline, and what serving a monitored site allows."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import shutil
import textwrap

import pytest

import staticml
from staticml.collector.releases import load_bundle, parse_baselines
from staticml.config import load_config
from staticml.errors import BuildError, ConfigError
from staticml.serve import create_app
from staticml.stages.model import load_model
from staticml.stages.monitoring import monitoring_baseline
from staticml.stages.wheels import pack_wheels
from tests.support import APP_DIR, ROOT

WINE = ROOT / "examples" / "wine"


@pytest.fixture(scope="module")
def wine_monitor():
    config = load_config(WINE)
    model = load_model(config)
    return config, model, monitoring_baseline(config, model, pack_wheels(config))


def test_a_tabular_baseline_has_one_feature_per_field_and_the_predicted_classes(wine_monitor):
    config, _, monitor = wine_monitor
    baseline = monitor.baseline
    with (WINE / "reference.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert baseline.rows == len(rows) == 124
    assert [f.name for f in baseline.features] == [f.name for f in config.input]
    assert all(
        f.kind == "numeric" and sum(f.counts) == 124 and f.missing == 0 for f in baseline.features
    )
    assert baseline.output.kind == "categorical"
    assert set(baseline.output.categories) <= set(config.output.classes)
    assert sum(baseline.output.counts) == 124
    alcohol = baseline.feature("alcohol")
    values = [float(r["alcohol"]) for r in rows]
    bounds = [-float("inf"), *alcohol.edges, float("inf")]
    expected = [
        sum(1 for v in values if low <= v < high) for low, high in itertools.pairwise(bounds)
    ]
    assert list(alcohol.counts) == expected


def test_image_apps_are_summarised_by_model_features(demo_model):
    config = load_config(APP_DIR)
    monitor = monitoring_baseline(config, demo_model, pack_wheels(config))
    names = [f.name for f in monitor.baseline.features]
    assert names == [f"f{i}" for i in range(64)]
    assert monitor.sources["f10"] == ["feature", 10]
    assert monitor.baseline.output.categories and set(monitor.baseline.output.categories) <= {
        str(d) for d in range(10)
    }


def test_the_runtime_spec_drops_counts_and_adds_sources(wine_monitor):
    config, _, monitor = wine_monitor
    spec = monitor.runtime_spec(config, "r1")
    assert spec["release"] == "r1" and spec["k"] == 20 and spec["epsilon"] is None
    assert all("counts" not in f and f["source"] == ["field", f["name"]] for f in spec["features"])


def copy_wine(tmp_path, monitor: str):
    app = tmp_path / "wine"
    shutil.copytree(WINE, app)
    text = (
        (app / "staticml.toml")
        .read_text()
        .replace('[monitor]\nreference_file = "reference.csv"\n', "")
    )
    (app / "staticml.toml").write_text(text + "\n[monitor]\n" + textwrap.dedent(monitor))
    return app


def test_a_collector_needs_a_baseline(tmp_path):
    app = copy_wine(tmp_path, 'collector = "https://beacon.example.com"\n')
    with pytest.raises(ConfigError, match=r"monitor.collector: monitoring needs a baseline"):
        load_config(app)


def test_invalid_reference_records_are_listed(tmp_path):
    app = copy_wine(tmp_path, 'reference_file = "reference.csv"\n')
    rows = (app / "reference.csv").read_text().splitlines()
    rows[3] = rows[3].replace(rows[3].split(",")[0], "strong", 1)
    (app / "reference.csv").write_text("\n".join(rows) + "\n")
    config = load_config(app)
    with pytest.raises(BuildError) as raised:
        monitoring_baseline(config, load_model(config), pack_wheels(config))
    assert str(raised.value).splitlines()[:2] == [
        f"monitor.reference_file {app / 'reference.csv'} (the monitoring baseline) has 1 bad "
        "row(s) of 124:",
        "  reference.csv:4: alcohol: expected a number, got 'strong'",
    ]


def test_batch_preprocessing_that_does_not_fit_the_model_is_reported_once(tmp_path):
    app = copy_wine(tmp_path, 'reference_file = "reference.csv"\n')
    source = app / "wine_app" / "preprocess.py"
    source.write_text(source.read_text().replace('    "proline",\n', ""))
    config = load_config(app)
    batch = (
        config.source.read_text().splitlines().index('batch = "wine_app.preprocess:features_batch"')
    )
    with pytest.raises(BuildError) as raised:
        monitoring_baseline(config, load_model(config), pack_wheels(config))
    assert str(raised.value) == (
        f"preprocess.batch = 'wine_app.preprocess:features_batch' (staticml.toml:{batch + 1}) "
        "returns 12 features per record, but the model expects 13 (seen first on "
        "reference.csv:2). Make the preprocessing return 13 features, or give a model that "
        "takes 12."
    )


def test_too_few_reference_records_are_refused(tmp_path, wine_monitor):
    config, model, _ = wine_monitor
    few = tmp_path / "few.csv"
    few.write_text("\n".join((WINE / "reference.csv").read_text().splitlines()[:6]) + "\n")
    odd = dataclasses.replace(
        config, monitor=dataclasses.replace(config.monitor, reference_file=few)
    )
    with pytest.raises(BuildError, match="needs at least 20 reference records for 10 bins, got 5"):
        monitoring_baseline(odd, model, pack_wheels(config))


def test_a_monitored_site_ships_its_baseline_and_allows_its_collector(tmp_path):
    app = copy_wine(
        tmp_path,
        'reference_file = "reference.csv"\ncollector = "https://beacon.example.com/drift"\n',
    )
    result = staticml.build(app, tmp_path / "site")
    release, text = load_bundle(result.out_dir)
    assert release == result.release
    assert parse_baselines({release: text})[release].rows == 124
    manifest = json.loads((result.out_dir / "bundle.json").read_text())
    assert manifest["monitor"] == {"collector": "https://beacon.example.com/drift"}
    from starlette.testclient import TestClient

    with TestClient(create_app(result.out_dir)) as client:
        policy = client.get("/").headers["content-security-policy"]
    assert "connect-src 'self' https://beacon.example.com;" in policy
    # ...and so do the hosting configs the build wrote.
    assert f"Content-Security-Policy: {policy}\n" in (result.out_dir / "_headers").read_text()
    assert (
        f'Content-Security-Policy "{policy}" always;' in (result.out_dir / "nginx.conf").read_text()
    )
    # A classifier's baseline carries the calibration model.json reports, for the estimate.
    confidence = parse_baselines({release: text})[release].confidence
    assert confidence is not None
    calibration = json.loads((result.out_dir / "model.json").read_text())["calibration"]
    assert confidence.ece == calibration["ece"] and list(confidence.rows) == calibration["rows"]
    assert (
        sum(confidence.rows)
        == json.loads((result.out_dir / "model.json").read_text())["evaluation"]["rows"]
    )
    html = (result.out_dir / "index.html").read_text()
    assert '"endpoint": "https://beacon.example.com/drift/v1/summaries"' in html
    assert 'id="monitor-consent"' in html
