"""Baseline 3's server: the built bundle's preprocessing and model behind `POST /predict`.

The page and its script are served by `staticml serve`'s app (same headers); FastAPI runs the
endpoint with the bundle's own Python preprocessing (imported from its wheels) and its model
in CPython onnxruntime, as `staticml batch` does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Body, FastAPI, HTTPException

from staticml.runtime.schema import RecordError
from staticml.scoring.bundle import load_bundle
from staticml.scoring.scorer import Scorer, open_scorer
from staticml.serve import create_app


@contextlib.contextmanager
def prediction_api(site: Path, pages: Path) -> Iterator[FastAPI]:
    """The FastAPI app for the built `site`, serving the baseline page from `pages`."""
    with open_scorer(load_bundle(site)) as scorer:
        app = FastAPI()

        @app.post("/predict")
        def predict(record: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
            return _predict(scorer, record)

        app.mount("/", create_app(pages))
        yield app


def _predict(scorer: Scorer, record: dict[str, Any]) -> dict[str, Any]:
    try:
        _, vector = scorer.predictor.prepare(record)
    except RecordError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    features = np.asarray(vector, dtype=np.float32).reshape(1, -1)
    spec = scorer.spec
    fetched = scorer.session.run(spec.fetches(), {spec.input: features})
    [prediction] = spec.predictions(*spec.split(fetched))
    return prediction.to_json()
