r"""Export a model to ONNX, so that it runs outside minikws (ONNX Runtime, other languages, devices).

:func:`to_onnx` writes the network of eq. :eq:`kws-model` from the feature frames on: the
normalisation, one ONNX ``LSTM`` node per layer and the linear layer. MFCC is not an ONNX operator,
so the front end's settings are written beside the graph as JSON (:func:`feature_settings`), for
another program to compute the same frames; ``minikws mfcc`` or :meth:`KWSModel.featurize
<minikws.models.KWSModel.featurize>` compute them here.

The graph
    input ``features`` (T, B, K) float32: frames as ``KWSModel.featurize`` returns them (running CMN
    applied, not standardised); output ``logits`` (T, B, C): every frame's logits, as
    ``KWSModel.forward_frames`` gives them. A clip's label is read at its last frame.

Gate order
    ONNX's LSTM orders the gate blocks :math:`i, o, f, c` and stores weights row-major per gate
    (W: [num_directions, 4H, D]); minikws (like PyTorch) orders them :math:`i, f, g, o` in columns
    (Wx: (D, 4H)). The exporter transposes and permutes the blocks,

    .. math::
       :label: onnx-gates

       W_{\text{onnx}} = [W_x^{i}; W_x^{o}; W_x^{f}; W_x^{g}]^\top, \quad
       R_{\text{onnx}} = [W_h^{i}; W_h^{o}; W_h^{f}; W_h^{g}]^\top, \quad
       B_{\text{onnx}} = [b^{i}, b^{o}, b^{f}, b^{g}, 0, 0, 0, 0]

    and ONNX's bias is the input half :math:`W_b` followed by the recurrent half :math:`R_b`; minikws has
    one bias, so :math:`R_b = 0`.

Compressed models
    A pruned model exports as it is (its zeros are ordinary weights). An int8 model
    (:class:`~minikws.compress.Int8KWSModel`) exports *dequantized*: its weights as
    :math:`\hat W = s\,q` (eq. :eq:`quant-int8`) in float32, so the graph computes the float network
    with the quantized weights, without the int8 rounding of activations. ONNX's LSTM operator has no
    integer form, and QLinear nodes would cover only the linear layer.
"""
import json

import numpy as np

from minikws._fileio import atomic_write
from minikws.compress import Int8KWSModel, dequantize
from minikws.errors import MinikwsError
from minikws.models import KWSModel

__all__ = ["to_onnx", "feature_settings", "onnx_lstm_weights"]

OPSET = 17
# minikws' gate blocks are [i, f, g, o]; ONNX's are [i, o, f, c]: take blocks 0, 3, 1, 2.
_ONNX_ORDER = (0, 3, 1, 2)


def onnx_lstm_weights(Wx, Wh, b):
    """ONNX's W (1, 4H, D), R (1, 4H, H) and B (1, 8H) from minikws' Wx (D, 4H), Wh (H, 4H), b (4H,),
    eq. :eq:`onnx-gates`."""
    H = Wh.shape[0]

    def blocks(M):
        return np.concatenate([M[..., g * H:(g + 1) * H] for g in _ONNX_ORDER], axis=-1)

    W = blocks(Wx).T[None].astype(np.float32)
    R = blocks(Wh).T[None].astype(np.float32)
    B = np.concatenate([blocks(b), np.zeros(4 * H, dtype=b.dtype)])[None].astype(np.float32)
    return np.ascontiguousarray(W), np.ascontiguousarray(R), np.ascontiguousarray(B)


def _float_weights(model):
    """(layers [(Wx, Wh, b)], fc W, fc b) in float32, dequantized for an int8 model."""
    if isinstance(model, Int8KWSModel):
        layers = [(dequantize(L.Wx, L.sx), dequantize(L.Wh, L.sh), L.b) for L in model.layers]
        return layers, dequantize(model.fc_W, model.fc_scale), model.fc_b
    p = model.params
    layers = [(p[f"lstm.l{k}.Wx"], p[f"lstm.l{k}.Wh"], p[f"lstm.l{k}.b"]) for k in range(model.num_layers)]
    return layers, p["fc.W"], p["fc.b"]


def feature_settings(model):
    """What another program needs to compute the graph's input: the front end's settings and the
    classes, as a JSON-serialisable dict (written beside the ``.onnx`` file by :func:`to_onnx`)."""
    return {"format": "minikws-onnx-features-1", "frontend": model.frontend.get_config(),
            "classes": list(model.classes), "input": "features (T, B, K) float32",
            "output": "logits (T, B, C) float32; a clip's label is at its last frame",
            "quantized": isinstance(model, Int8KWSModel)}


def to_onnx(model, path, *, settings_path=None):
    """Write ``model`` as an ONNX graph to ``path`` and its feature settings as JSON beside it.

    Parameters
    ----------
    model : KWSModel or Int8KWSModel
    path : str or os.PathLike
        The ``.onnx`` file (written atomically).
    settings_path : str or os.PathLike, optional
        Where the JSON goes (default: ``path`` with ``.json`` for ``.onnx``).

    Returns
    -------
    onnx.ModelProto
        The checked graph.
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise MinikwsError("export: ONNX export needs the onnx package (pip install onnx)") from None
    if not isinstance(model, KWSModel):
        raise MinikwsError(f"model: expected a minikws KWSModel, got {type(model).__name__}")
    layers, W, b = _float_weights(model)
    K, C, H = model.mean.shape[0], model.num_classes, model.hidden_size
    inits = [numpy_helper.from_array(model.mean.astype(np.float32), "norm_mean"),
             numpy_helper.from_array(model.std.astype(np.float32), "norm_std"),
             numpy_helper.from_array(np.array([1], dtype=np.int64), "axis_1")]
    nodes = [helper.make_node("Sub", ["features", "norm_mean"], ["centred"]),
             helper.make_node("Div", ["centred", "norm_std"], ["x0"])]
    x = "x0"
    for k, (Wx, Wh, bk) in enumerate(layers):
        Wo, Ro, Bo = onnx_lstm_weights(Wx, Wh, bk)
        inits += [numpy_helper.from_array(Wo, f"l{k}_W"), numpy_helper.from_array(Ro, f"l{k}_R"),
                  numpy_helper.from_array(Bo, f"l{k}_B")]
        # Y is (T, num_directions=1, B, H): squeeze the direction axis for the next layer
        nodes += [helper.make_node("LSTM", [x, f"l{k}_W", f"l{k}_R", f"l{k}_B"], [f"l{k}_Y"],
                                   hidden_size=H, direction="forward", name=f"lstm{k}"),
                  helper.make_node("Squeeze", [f"l{k}_Y", "axis_1"], [f"h{k}"])]
        x = f"h{k}"
    inits += [numpy_helper.from_array(np.asarray(W, np.float32), "fc_W"),
              numpy_helper.from_array(np.asarray(b, np.float32), "fc_b")]
    nodes += [helper.make_node("MatMul", [x, "fc_W"], ["fc_out"]),
              helper.make_node("Add", ["fc_out", "fc_b"], ["logits"])]
    graph = helper.make_graph(
        nodes, "minikws_kws",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["T", "B", K])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["T", "B", C])],
        initializer=inits)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                   producer_name="minikws")
    onnx_model.ir_version = min(onnx_model.ir_version, 9)  # readable by ONNX Runtime releases since 1.16
    onnx_model.doc_string = json.dumps(feature_settings(model))
    onnx.checker.check_model(onnx_model, full_check=True)
    path = str(path)
    settings_path = (path[:-5] if path.endswith(".onnx") else path) + ".json" \
        if settings_path is None else str(settings_path)
    with atomic_write(path, "wb", name=path) as f:
        f.write(onnx_model.SerializeToString())
    with atomic_write(settings_path, "w", name=settings_path) as f:
        f.write(json.dumps(feature_settings(model), indent=1) + "\n")
    return onnx_model
