"""Small ONNX models made here, for tests that need a model file but not a trained one."""

from __future__ import annotations


def linear_onnx(path, *, domain: str = "", op: str = "MatMul", dtype=None, features: int = 3):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    dtype = dtype or TensorProto.FLOAT
    weights = numpy_helper.from_array(np.ones((features, 1), dtype=np.float32), "w")
    node = helper.make_node(op, ["x", "w"], ["y"], domain=domain)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", dtype, [None, features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
        initializer=[weights],
    )
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
