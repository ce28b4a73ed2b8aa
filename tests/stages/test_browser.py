"""The browser measurement's memory: the same inputs are measured once per process."""

from __future__ import annotations

import numpy as np

from staticml.runtimes import RuntimeFiles
from staticml.stages import browser
from staticml.stages.browser import BrowserRuns, run_in_browser
from staticml.stages.model import ModelArtifact

MODEL = ModelArtifact(b"m", "t", "regression", "input", 2, None, None, "y", (), ())


def test_a_measurement_is_reused_only_for_byte_identical_inputs(tmp_path, monkeypatch):
    runtime = tmp_path / "ort.wasm"
    runtime.write_bytes(b"wasm")
    ort = RuntimeFiles(spec=None, files=(runtime,))  # type: ignore[arg-type]
    measured: list[np.ndarray] = []

    def measure(variants, model, features, ort):  # stands in for Chromium: counts the runs
        measured.append(features.copy())
        return BrowserRuns(f"run {len(measured)}", {})

    monkeypatch.setattr(browser, "_run_in_browser", measure)
    monkeypatch.setattr(browser, "_measured", type(browser._measured)())
    rows = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    variants = [("fp32", b"model bytes")]
    first = run_in_browser(variants, MODEL, rows, ort)
    assert run_in_browser(variants, MODEL, rows.copy(), ort) is first
    assert len(measured) == 1

    changed = rows.copy()
    changed[1, 1] = np.nextafter(np.float32(4.0), np.float32(5.0))
    assert run_in_browser(variants, MODEL, changed, ort).browser == "run 2"
    assert run_in_browser([("fp32", b"other bytes")], MODEL, rows, ort).browser == "run 3"
    runtime.write_bytes(b"wasm, rebuilt")
    assert run_in_browser(variants, MODEL, rows, ort).browser == "run 4"
