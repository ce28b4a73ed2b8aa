"""The inputs of a model that takes the record's fields directly, checked against the fields.

Without `preprocess.entry`, every input of the ONNX graph is fed from the `[[input]]` field of
the same name: a [batch, 1] float tensor from a number, an integer or a category whose values
are numbers; a [batch, 1] string tensor from a category or a text field.
"""

from __future__ import annotations

import onnx

from staticml.config import AppConfig
from staticml.errors import BuildError
from staticml.runtime.columns import FLOAT, STRING, ModelInput

_TYPES = {onnx.TensorProto.FLOAT: FLOAT, onnx.TensorProto.STRING: STRING}
_FIELD_TYPES = {FLOAT: ("number", "integer", "category"), STRING: ("category", "text")}


def field_inputs(proto: onnx.ModelProto, config: AppConfig, origin: str) -> tuple[ModelInput, ...]:
    initializers = {i.name for i in proto.graph.initializer}
    graph_inputs = [i for i in proto.graph.input if i.name not in initializers]
    fields = {f.name: f for f in config.input}
    names = ", ".join(i.name for i in graph_inputs)
    found = []
    for graph_input in graph_inputs:
        name = graph_input.name
        if name not in fields:
            raise BuildError(
                f"{origin} has an input {name!r}, but no [[input]] field is named so. Without "
                "preprocess.entry the model takes the record's fields directly, so each of its "
                f"inputs ({names}) must be a field: declare it in {config.source.name}, or set "
                "preprocess.entry to a function turning a record into the model's features."
            )
        tensor = graph_input.type.tensor_type
        kind = _TYPES.get(tensor.elem_type)
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        if kind is None or len(dims) != 2 or dims[1] not in (1, None):
            shown = onnx.TensorProto.DataType.Name(tensor.elem_type).lower()
            raise BuildError(
                f"{origin}: input {name!r} is {shown} of shape {dims}; a model taking the "
                "record's fields needs one [batch, 1] float or string input per field. Convert "
                "it with FloatTensorType([None, 1]) or StringTensorType([None, 1]) per column."
            )
        field = fields[name]
        if field.type not in _FIELD_TYPES[kind]:
            raise BuildError(
                f"{origin}: input {name!r} takes {'text' if kind == STRING else 'numbers'}, but "
                f"the field {name!r} is of type {field.type!r}; declare it as one of "
                f"{', '.join(_FIELD_TYPES[kind])} in {config.source.name}."
            )
        found.append(ModelInput(name, kind))
    return tuple(found)
