"""Continual learning: retrain a model on new data, judge it against the live release, and
hand it to the rollout machinery only on evidence (see docs/continual-learning.md)."""
