"""Baseline 2: the built bundle in CPython onnxruntime with the same Python preprocessing.

    python bench/native.py SITE SAMPLES.json WARM

SAMPLES.json holds the records the pages predicted (`{"samples": [{"record": ...}]}`): bench/run.py
writes the samples as drawn on the page's canvas, so CPython preprocesses the very same drawings.

Run as a child process by bench/run.py: prints `first` as soon as the first prediction is
made (the parent times the process from its start, interpreter start included), then one JSON
line with the warm single-prediction times (ms) and the process's peak RSS.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> None:
    site, samples, warm = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    import numpy as np

    from staticml.scoring.bundle import load_bundle
    from staticml.scoring.scorer import open_scorer

    records = [s["record"] for s in json.loads(samples.read_text())["samples"]]
    with open_scorer(load_bundle(site)) as scorer:
        spec = scorer.spec

        def predict(record: dict) -> object:
            _, vector = scorer.predictor.prepare(record)
            features = np.asarray(vector, dtype=np.float32).reshape(1, -1)
            fetched = scorer.session.run(spec.fetches(), {spec.input: features})
            return spec.predictions(*spec.split(fetched))

        predict(records[0])
        print("first", flush=True)
        times = []
        for index in range(warm):
            began = time.perf_counter()
            predict(records[index % len(records)])
            times.append((time.perf_counter() - began) * 1000)
    status = Path("/proc/self/status").read_text()
    peak_kb = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    print(json.dumps({"warm_ms": times, "peak_rss": int(peak_kb) * 1024}), flush=True)


if __name__ == "__main__":
    main()
