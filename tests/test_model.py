from __future__ import annotations

import dataclasses
import textwrap

import onnx
import pytest

from staticml.build.model import train_model
from staticml.config import load_config
from staticml.errors import BuildError


def test_the_demo_model_is_onnx_with_plain_tensor_outputs(demo_model):
    proto = onnx.load_from_string(demo_model.onnx)
    assert [o.name for o in proto.graph.output] == ["label", "probabilities"]
    assert not any(node.op_type == "ZipMap" for node in proto.graph.node)
    assert proto.graph.input[0].name == "input"
    assert demo_model.classes == tuple(str(d) for d in range(10))


def app_with_training(tmp_path, body: str, n_features: int = 4):
    (tmp_path / "staticml.toml").write_text(
        textwrap.dedent(
            f"""
            [app]
            name = "t"
            [model]
            train = "train:train"
            n_features = {n_features}
            [preprocess]
            entry = "pre:features"
            [[input]]
            name = "image"
            type = "image"
            """
        )
    )
    (tmp_path / "train.py").write_text(textwrap.dedent(body))
    return load_config(tmp_path)


def test_a_regressor_is_refused(tmp_path):
    config = app_with_training(
        tmp_path,
        """
        from sklearn.linear_model import LinearRegression
        def train():
            return LinearRegression().fit([[0, 0, 0, 0], [1, 1, 1, 1]], [0, 1])
        """,
    )
    with pytest.raises(BuildError, match="not a fitted scikit-learn classifier"):
        train_model(config)


def test_a_feature_count_mismatch_is_refused(tmp_path):
    config = app_with_training(
        tmp_path,
        """
        from sklearn.linear_model import LogisticRegression
        def train():
            return LogisticRegression().fit([[0, 0], [1, 1]], [0, 1])
        """,
    )
    with pytest.raises(
        BuildError, match=r"model.n_features is 4, but the trained model takes 2 features"
    ):
        train_model(config)


def test_an_error_in_training_points_at_the_line(tmp_path):
    config = app_with_training(tmp_path, "def train():\n    return 1 / 0\n")
    with pytest.raises(
        BuildError,
        match=r"model.train = 'train:train' raised ZeroDivisionError: division by zero \(at .*train.py:2\)",
    ):
        train_model(config)


def test_a_missing_function_is_named(tmp_path):
    config = app_with_training(tmp_path, "def fit():\n    pass\n")
    with pytest.raises(BuildError, match="has no function 'train'"):
        train_model(config)
    assert dataclasses.is_dataclass(config)
