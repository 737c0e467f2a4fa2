"""minikws.export: the ONNX graph runs in ONNX Runtime and gives minikws' logits."""
import json

import numpy as np
import onnx
import onnxruntime
import pytest

from minikws import compress as C
from minikws.errors import MinikwsError
from minikws.export import onnx_lstm_weights, to_onnx
from minikws.models import KWSModel


def trained_like(H=16, L=2, seed=5, n=9):
    rng = np.random.default_rng(seed)
    m = KWSModel(classes=["yes", "no", "stop", "go"], hidden_size=H, num_layers=L, seed=seed)
    feats = [rng.standard_normal((int(rng.integers(3, 40)), 13)).astype(np.float32) * 4 + 2 for _ in range(n)]
    m.fit_normalization(feats)
    for v in m.params.values():  # every gate block different, so a wrong gate order shows
        v += rng.standard_normal(v.shape).astype(np.float32) * 0.4
    return m, feats


def run_onnx(path, x):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"features": x})[0]


@pytest.mark.parametrize("L", [1, 2])
def test_onnx_logits_match_minikws(tmp_path, L):
    m, feats = trained_like(L=L)
    x, lengths = m.pad(feats, dtype=np.float32)
    to_onnx(m, tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")), full_check=True)
    got = run_onnx(tmp_path / "m.onnx", x)
    want, _, _ = m.forward_frames(x)
    assert got.shape == want.shape == (x.shape[0], len(feats), 4)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    last = got[lengths - 1, np.arange(len(feats))]
    np.testing.assert_array_equal(last.argmax(axis=1), m.forward(x, lengths)[0].argmax(axis=1))


def test_settings_are_written_beside_the_graph(tmp_path):
    m, _ = trained_like()
    to_onnx(m, tmp_path / "kws.onnx")
    settings = json.loads((tmp_path / "kws.json").read_text())
    assert settings["classes"] == ["yes", "no", "stop", "go"]
    assert settings["frontend"] == m.frontend.get_config()
    assert settings["quantized"] is False


def test_gate_blocks_are_permuted_to_onnx_order():
    D, H = 3, 2
    Wx = np.arange(D * 4 * H, dtype=np.float32).reshape(D, 4 * H)  # columns: i i f f g g o o
    W, R, B = onnx_lstm_weights(Wx, np.zeros((H, 4 * H), np.float32), np.arange(4 * H, dtype=np.float32))
    assert W.shape == (1, 4 * H, D) and R.shape == (1, 4 * H, H) and B.shape == (1, 8 * H)
    # ONNX rows: i, o, f, c(=g)
    np.testing.assert_array_equal(W[0, :, 0], Wx[0, [0, 1, 6, 7, 2, 3, 4, 5]])
    np.testing.assert_array_equal(B[0], [0, 1, 6, 7, 2, 3, 4, 5] + [0] * 8)


def test_pruned_and_int8_models_export(tmp_path):
    m, feats = trained_like()
    x, _ = m.pad(feats, dtype=np.float32)
    C.apply_masks(m.params, C.magnitude_masks(m.params, 0.6))
    to_onnx(m, tmp_path / "pruned.onnx")
    np.testing.assert_allclose(run_onnx(tmp_path / "pruned.onnx", x), m.forward_frames(x)[0], atol=1e-4)
    small = C.prune_units(m, 0.25)
    to_onnx(small, tmp_path / "small.onnx")
    np.testing.assert_allclose(run_onnx(tmp_path / "small.onnx", x), small.forward_frames(x)[0], atol=1e-4)
    q = C.quantize_model(m, feats)
    to_onnx(q, tmp_path / "q.onnx")
    # exported dequantized: the float network with the int8 weights s q
    deq = KWSModel.from_config({k: v for k, v in q.get_config().items() if k != "quantization"})
    deq.mean[...], deq.std[...] = q.mean, q.std
    for k, L in enumerate(q.layers):
        deq.params[f"lstm.l{k}.Wx"][...] = C.dequantize(L.Wx, L.sx)
        deq.params[f"lstm.l{k}.Wh"][...] = C.dequantize(L.Wh, L.sh)
        deq.params[f"lstm.l{k}.b"][...] = L.b
    deq.params["fc.W"][...] = C.dequantize(q.fc_W, q.fc_scale)
    deq.params["fc.b"][...] = q.fc_b
    np.testing.assert_allclose(run_onnx(tmp_path / "q.onnx", x), deq.forward_frames(x)[0], atol=1e-4)
    assert json.loads((tmp_path / "q.json").read_text())["quantized"] is True


def test_export_refuses_what_is_not_a_model(tmp_path):
    with pytest.raises(MinikwsError, match="KWSModel"):
        to_onnx({"not": "a model"}, tmp_path / "x.onnx")
    assert not list(tmp_path.iterdir())
