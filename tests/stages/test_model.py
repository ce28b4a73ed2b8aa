from __future__ import annotations

import dataclasses
import pickle
import textwrap

import onnx
import pytest

from staticml.config import load_config
from staticml.errors import BuildError, ConfigError
from staticml.stages.model import canonical_bytes, load_model
from tests.support.models import linear_onnx


def test_the_demo_model_is_onnx_with_plain_tensor_outputs(demo_model):
    proto = onnx.load_from_string(demo_model.onnx)
    assert [o.name for o in proto.graph.output] == ["label", "probabilities"]
    assert not any(node.op_type == "ZipMap" for node in proto.graph.node)
    assert proto.graph.input[0].name == "input"
    assert demo_model.classes == tuple(str(d) for d in range(10))


def test_the_order_of_operator_sets_does_not_change_the_model_bytes(demo_model):
    """The same model with its operator sets listed the other way round, as skl2onnx lists them
    in some processes, is the same bytes (and so the same content hash)."""
    proto = onnx.load_from_string(demo_model.onnx)
    assert [entry.domain for entry in proto.opset_import] == ["", "ai.onnx.ml"]
    imports = list(reversed(proto.opset_import))
    del proto.opset_import[:]
    proto.opset_import.extend(imports)
    assert proto.SerializeToString(deterministic=True) != demo_model.onnx
    assert canonical_bytes(proto) == demo_model.onnx
    assert [entry.domain for entry in proto.opset_import] == ["ai.onnx.ml", ""], "left as given"


def app_config(tmp_path, model: str, fields: str = 'name = "image"\ntype = "image"'):
    """An app directory whose staticml.toml has the given [model] lines and one field."""
    (tmp_path / "pre.py").write_text("def features(record):\n    return [0.0]\n")
    (tmp_path / "staticml.toml").write_text(
        f'[app]\nname = "t"\n[model]\n{textwrap.dedent(model)}\n'
        f'[preprocess]\nentry = "pre:features"\n[[input]]\n{fields}\n'
    )
    return load_config(tmp_path)


def app_with_training(tmp_path, body: str, n_features: int = 4):
    (tmp_path / "train.py").write_text(textwrap.dedent(body))
    return app_config(tmp_path, f'train = "train:train"\nn_features = {n_features}')


def test_a_model_that_neither_classifies_nor_regresses_is_refused(tmp_path):
    config = app_with_training(
        tmp_path,
        """
        from sklearn.cluster import KMeans
        def train():
            return KMeans(n_clusters=2, n_init=1, random_state=0).fit([[0, 0, 0, 0], [1, 1, 1, 1]])
        """,
    )
    with pytest.raises(BuildError, match="KMeans, which is not a fitted scikit-learn classifier"):
        load_model(config)


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
        BuildError, match=r"model.n_features is 4, but model.train = 'train:train' takes 2 features"
    ):
        load_model(config)


def test_an_error_in_training_points_at_the_line(tmp_path):
    config = app_with_training(tmp_path, "def train():\n    return 1 / 0\n")
    with pytest.raises(
        BuildError,
        match=r"model.train = 'train:train' \(staticml.toml:4\) raised ZeroDivisionError: "
        r"division by zero\n  train.py:2 in train\n    return 1 / 0$",
    ):
        load_model(config)


def test_a_missing_function_is_named_before_the_build(tmp_path):
    with pytest.raises(
        ConfigError, match=r"model\.train: 'train:train': train\.py defines no 'train'"
    ):
        app_with_training(tmp_path, "def fit():\n    pass\n")


def app_with_model(tmp_path, model_file: str, extra: str = ""):
    return app_config(tmp_path, f'file = "{model_file}"\n{extra}', 'name = "x"\ntype = "number"')


def test_an_onnx_regressor_file_is_inspected(tmp_path):
    linear_onnx(tmp_path / "m.onnx")
    model = load_model(app_with_model(tmp_path, "m.onnx"))
    assert (model.kind, model.input_name, model.n_features, model.value_output) == (
        "regression",
        "x",
        3,
        "y",
    )


def test_the_diabetes_example_is_a_regression(tmp_path):
    from tests.support import ROOT

    model = load_model(load_config(ROOT / "examples" / "diabetes"))
    assert (model.kind, model.input_name, model.n_features) == ("regression", "features", 10)


def test_a_joblib_pipeline_is_converted_with_its_classes():
    from tests.support import ROOT

    model = load_model(load_config(ROOT / "examples" / "wine"))
    assert model.kind == "classification" and model.n_features == 13
    assert model.class_values == ("0", "1", "2")
    assert model.classes == ("cultivar 1", "cultivar 2", "cultivar 3")
    assert model.origin == "model.file model.joblib"


def test_a_custom_domain_operator_is_refused_by_name(tmp_path):
    linear_onnx(tmp_path / "m.onnx", domain="com.example", op="FancyMatMul")
    with pytest.raises(
        BuildError, match=r"uses operators that onnxruntime-web cannot run: com.example.FancyMatMul"
    ):
        load_model(app_with_model(tmp_path, "m.onnx"))


def test_a_double_precision_input_is_refused(tmp_path):
    from onnx import TensorProto

    linear_onnx(tmp_path / "m.onnx", dtype=TensorProto.DOUBLE)
    with pytest.raises(BuildError, match=r"input 'x' is double; staticml feeds float32 features"):
        load_model(app_with_model(tmp_path, "m.onnx"))


def test_a_feature_length_mismatch_with_the_onnx_file_is_refused(tmp_path):
    linear_onnx(tmp_path / "m.onnx")
    with pytest.raises(
        BuildError, match=r"model.n_features is 5, but model.file m.onnx takes 3 features"
    ):
        load_model(app_with_model(tmp_path, "m.onnx", "n_features = 5"))


def test_a_corrupt_or_foreign_file_is_named(tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"not onnx")
    with pytest.raises(BuildError, match=r"model.file m.onnx is not a valid ONNX model"):
        load_model(app_with_model(tmp_path, "m.onnx"))
    (tmp_path / "m.joblib").write_bytes(b"not a pickle")
    with pytest.raises(BuildError, match=r"m.joblib is neither a pickle nor a joblib file"):
        load_model(app_with_model(tmp_path, "m.joblib"))
    (tmp_path / "cut.pkl").write_bytes(pickle.dumps(list(range(100)))[:40])
    with pytest.raises(BuildError, match=r"cut.pkl could not be loaded \(EOFError"):
        load_model(app_with_model(tmp_path, "cut.pkl"))


@pytest.mark.parametrize("writer", ["joblib", "pickle"])
@pytest.mark.parametrize("suffix", [".joblib", ".pkl"])
def test_a_saved_estimator_is_read_whatever_wrote_it_and_its_suffix(tmp_path, writer, suffix):
    from tests.support.scaffold import named_forest

    named_forest(tmp_path / f"m{suffix}", writer)
    model = load_model(app_with_model(tmp_path, f"m{suffix}"))
    assert (model.kind, model.n_features) == ("classification", 4)
    assert model.class_values == ("setosa", "versicolor", "virginica")


def test_a_classifier_needs_one_label_per_class(tmp_path):
    from tests.support import ROOT

    config = load_config(ROOT / "examples" / "wine")
    odd = dataclasses.replace(config, output=dataclasses.replace(config.output, classes=("a", "b")))
    with pytest.raises(
        BuildError, match=r"output.classes has 2 labels, but model.file model.joblib has 3 classes"
    ):
        load_model(odd)
