"""Retraining the wine example (build time only; never shipped to the browser).

`retrain` is the stateless mode: a fresh fit on the original training wines plus the new ones.
`update` is the stateful mode: it continues from the current model's weights on the new wines
only, minimising the new data's log loss plus a penalty on moving away from the current
weights (the current model acts as the prior), so the model adapts to what changed without
forgetting what it knew. The scaler is kept: the features keep their meaning.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from wine_app.preprocess import FEATURES

SEED = 0
ANCHOR = 0.01  # strength of the pull toward the current weights


def retrain(records: list[dict[str, Any]], labels: list[Any]) -> Pipeline:
    import joblib

    train_x, _, train_y, _ = _original_split()
    model = clone(joblib.load(Path(__file__).with_name("model.joblib")))
    x = np.vstack([train_x, _matrix(records)])
    y = np.concatenate([train_y, _classes(labels)])
    return model.fit(x, y)


def update(model: Pipeline, records: list[dict[str, Any]], labels: list[Any]) -> Pipeline:
    model = copy.deepcopy(model)
    scaler, classifier = model[0], model[-1]
    z = scaler.transform(_matrix(records))
    truth = (_classes(labels)[:, None] == classifier.classes_[None, :]).astype(float)
    classes, width = truth.shape[1], z.shape[1]
    start = np.concatenate([classifier.coef_.ravel(), classifier.intercept_])

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        weights, bias = w[: classes * width].reshape(classes, width), w[classes * width :]
        scores = z @ weights.T + bias
        log_p = scores - logsumexp(scores, axis=1, keepdims=True)
        residual = (np.exp(log_p) - truth) / len(z)
        loss = -(truth * log_p).sum() / len(z) + ANCHOR * ((w - start) ** 2).sum()
        gradient = np.concatenate([(residual.T @ z).ravel(), residual.sum(axis=0)])
        return loss, gradient + 2 * ANCHOR * (w - start)

    fitted = minimize(objective, start, jac=True, method="L-BFGS-B").x
    classifier.coef_ = fitted[: classes * width].reshape(classes, width)
    classifier.intercept_ = fitted[classes * width :]
    return model


def _original_split() -> list[np.ndarray]:
    data = load_wine()
    return train_test_split(
        data.data, data.target, test_size=0.3, random_state=SEED, stratify=data.target
    )


def _matrix(records: list[dict[str, Any]]) -> np.ndarray:
    return np.asarray([[float(r[name]) for name in FEATURES] for r in records], dtype=float)


def _classes(labels: list[Any]) -> np.ndarray:
    return np.asarray([int(float(label)) for label in labels])
