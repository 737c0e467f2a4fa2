"""minikws.compress: magnitude pruning, the cubic schedule, unit pruning, int8 quantization."""
import numpy as np
import pytest

from minikws import compress as C
from minikws.errors import MinikwsError
from minikws.models import KWSModel
from minikws.train import TrainConfig, Trainer


def model_and_feats(dtype=np.float32, H=12, L=2, seed=3, n=10):
    rng = np.random.default_rng(seed)
    m = KWSModel(classes=["a", "b", "c"], hidden_size=H, num_layers=L, dtype=dtype, seed=seed)
    feats = [rng.standard_normal((int(rng.integers(4, 25)), 13)).astype(dtype) * 3 + 1 for _ in range(n)]
    m.fit_normalization(feats)
    # move the weights off their initialisation so that every unit and gate matters
    for v in m.params.values():
        v += rng.standard_normal(v.shape).astype(dtype) * 0.3
    return m, feats


# ------------------------------------------------------------------------------------ magnitude masks
@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 0.9])
def test_layer_masks_remove_exactly_the_smallest_weights(fraction):
    m, _ = model_and_feats()
    masks = C.magnitude_masks(m.params, fraction)
    assert sorted(masks) == ["fc.W", "lstm.l0.Wh", "lstm.l0.Wx", "lstm.l1.Wh", "lstm.l1.Wx"]
    for k, mask in masks.items():
        W = np.abs(m.params[k])
        assert (~mask).sum() == int(np.floor(fraction * W.size))
        if 0 < fraction:
            assert W[~mask].max() <= W[mask].min()


def test_global_masks_share_one_threshold():
    m, _ = model_and_feats()
    m.params["fc.W"][...] *= 0.01  # one matrix of small weights: a global threshold takes most of it
    masks = C.magnitude_masks(m.params, 0.5, scope="global")
    total = sum(v.size for v in masks.values())
    assert sum((~v).sum() for v in masks.values()) == total // 2
    kept = np.concatenate([np.abs(m.params[k])[v] for k, v in masks.items()]).min()
    dropped = np.concatenate([np.abs(m.params[k])[~v] for k, v in masks.items()]).max()
    assert dropped <= kept
    assert (~masks["fc.W"]).mean() > 0.9


def test_apply_masks_zeroes_in_place_and_sparsity_counts_it():
    m, _ = model_and_feats()
    W = m.params["lstm.l0.Wx"]
    C.apply_masks(m.params, C.magnitude_masks(m.params, 0.7))
    assert m.params["lstm.l0.Wx"] is W
    assert C.sparsity(m.params) == pytest.approx(0.7, abs=0.01)
    assert (m.params["lstm.l0.b"] != 0).all()  # biases are not pruned


@pytest.mark.parametrize("bad", [1.0, -0.1, float("nan"), True])
def test_bad_fractions_are_refused(bad):
    m, _ = model_and_feats()
    with pytest.raises(MinikwsError, match="fraction"):
        C.magnitude_masks(m.params, bad)
    with pytest.raises(MinikwsError, match="fraction"):
        C.prune_units(m, bad)


def test_cubic_schedule_values():
    kw = dict(final=0.8, initial=0.2, start=100, steps=10, interval=20)
    assert C.cubic_sparsity(0, **kw) == 0.2
    assert C.cubic_sparsity(100, **kw) == 0.2
    # halfway: s_f + (s_i - s_f) / 8
    assert C.cubic_sparsity(200, **kw) == pytest.approx(0.8 + (0.2 - 0.8) / 8)
    assert C.cubic_sparsity(300, **kw) == pytest.approx(0.8)
    assert C.cubic_sparsity(10_000, **kw) == pytest.approx(0.8)
    assert C.cubic_sparsity(219, **kw) == C.cubic_sparsity(200, **kw)  # changes every interval only
    values = [C.cubic_sparsity(t, **kw) for t in range(0, 400, 20)]
    assert all(a <= b for a, b in zip(values, values[1:]))


def test_masks_survive_fine_tuning():
    m, feats = model_and_feats(n=16)
    labels = np.arange(len(feats)) % 3
    masks = C.magnitude_masks(m.params, 0.5)
    C.apply_masks(m.params, masks)
    before = {k: v.copy() for k, v in m.params.items()}
    mean = m.mean.copy()
    trainer = Trainer(m, TrainConfig(epochs=2, batch_size=4, lr=1e-2, wave_augment=False, spec_augment=False,
                                     patience=0, seed=0), progress=False, log=lambda line: None)
    trainer.optimizer = C.MaskedOptimizer(trainer.optimizer, masks)
    trainer.fit(feats, labels, normalize=False)
    for k, mask in masks.items():
        assert (m.params[k][~mask] == 0).all(), k
        assert not np.array_equal(m.params[k][mask], before[k][mask]), k  # the rest did train
    np.testing.assert_array_equal(m.mean, mean)  # normalize=False: the pruned model's statistics stay
    assert C.sparsity(m.params) == pytest.approx(0.5, abs=0.01)


# ------------------------------------------------------------------------------------ unit pruning
def test_pruned_units_equal_the_original_with_those_outputs_forced_to_zero():
    m, feats = model_and_feats(dtype=np.float64, H=10)
    x, lengths = m.pad(feats, dtype=np.float64)
    small = C.prune_units(m, 0.3)
    assert small.hidden_size == 7 and isinstance(small, KWSModel)
    scores = C.unit_scores(m)
    removed = [np.sort(np.argsort(s, kind="stable")[:3]) for s in scores]
    # force h_j = 0 in the original: an output gate of sigmoid(-1e30) = 0 exactly
    forced = KWSModel.from_config(m.get_config())
    forced.load_state_dict(m.state_dict())
    for k, units in enumerate(removed):
        forced.params[f"lstm.l{k}.b"][3 * 10 + units] = -1e30
        forced.params[f"lstm.l{k}.Wx"][:, 3 * 10 + units] = 0
        forced.params[f"lstm.l{k}.Wh"][:, 3 * 10 + units] = 0
    z_small, _, _ = small.forward_frames(x)
    z_forced, _, _ = forced.forward_frames(x)
    z_orig, _, _ = m.forward_frames(x)
    np.testing.assert_allclose(z_small, z_forced, rtol=1e-12, atol=1e-12)
    assert np.abs(z_small - z_orig).max() > 1e-3  # the units did matter


def test_prune_units_keeps_the_highest_scoring_units_and_refuses_too_many():
    m, _ = model_and_feats(H=8)
    small = C.prune_units(m, 0.25)
    keep0 = np.sort(np.argsort(C.unit_scores(m)[0], kind="stable")[2:])
    np.testing.assert_array_equal(small.params["lstm.l0.Wh"], m.params["lstm.l0.Wh"][keep0][:, np.concatenate(
        [g * 8 + keep0 for g in range(4)])])
    with pytest.raises(MinikwsError, match="at least one must stay"):
        C.prune_units(KWSModel(classes=["a", "b"], hidden_size=2), 0.9)


# ------------------------------------------------------------------------------------ int8
def test_quantize_dequantize_error_is_within_half_a_step_per_channel(rng):
    W = rng.standard_normal((40, 24)).astype(np.float32) * rng.uniform(0.01, 3, size=24).astype(np.float32)
    W[:, 5] = 0  # a pruned column stays exactly zero
    q, s = C.quantize_per_channel(W)
    assert q.dtype == np.int8 and s.dtype == np.float32 and s.shape == (24,)
    assert np.abs(q).max() == 127 and (q != -128).all()
    err = np.abs(C.dequantize(q, s) - W)
    assert (err <= s / 2 * (1 + 1e-6)).all()
    assert (C.dequantize(q, s)[:, 5] == 0).all()
    ratio = np.delete(err / (s / 2), 5, axis=1)
    assert ratio.max() > 0.9  # the bound is tight, not vacuous


def test_int_matmul_is_the_exact_integer_product(rng):
    a = rng.integers(-127, 128, size=(7, 300)).astype(np.int8)
    b = rng.integers(-127, 128, size=(300, 9)).astype(np.int8)
    exact = a.astype(np.int64) @ b.astype(np.int64)
    np.testing.assert_array_equal(C.int_matmul(a, b), exact)
    long_a = rng.integers(-127, 128, size=(3, 2000)).astype(np.int8)
    long_b = rng.integers(-127, 128, size=(2000, 2)).astype(np.int8)
    np.testing.assert_array_equal(C.int_matmul(long_a, long_b), long_a.astype(np.int64) @ long_b.astype(np.int64))


def test_int8_product_is_within_the_quantization_error_bound(rng):
    x = rng.standard_normal((20, 13)).astype(np.float32)
    W = rng.standard_normal((13, 32)).astype(np.float32)
    qW, sW = C.quantize_per_channel(W)
    s_x = float(np.abs(x).max()) / 127
    qx = C.quantize_activation(x, s_x)
    y8 = C.int_matmul(qx, qW) * (s_x * sW)
    # |x^ W^ - x W| <= |x^ - x| |W^| + |x| |W^ - W| <= (s_x / 2) sum |W^| + (s_W / 2) sum |x|
    bound = s_x / 2 * np.abs(C.dequantize(qW, sW)).sum(axis=0) + np.abs(x).sum(axis=1, keepdims=True) * sW / 2
    assert (np.abs(y8 - x @ W) <= bound * (1 + 1e-5)).all()


def test_int8_model_equals_the_float_network_on_quantized_operands():
    """The int8 path is the float network evaluated on dequantized weights and activations."""
    m, feats = model_and_feats()
    q = C.quantize_model(m, feats)
    x, lengths = m.pad(feats, dtype=np.float32)
    z8, _ = q.forward(x, lengths)
    # the same arithmetic in float64 from the codes, step by step
    inp = ((x - m.mean) / m.std).astype(np.float64)
    for L in q.layers:
        H = L.Wh.shape[0]
        Wx, Wh = C.dequantize(L.Wx, L.sx).astype(np.float64), C.dequantize(L.Wh, L.sh).astype(np.float64)
        fq = lambda v, s: np.clip(np.rint(v / s), -127, 127) * s  # noqa: E731
        h = c = np.zeros((x.shape[1], H))
        out = []
        for t in range(x.shape[0]):
            a = fq(inp[t], L.in_scale) @ Wx + fq(h, L.h_scale) @ Wh + L.b
            sg = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
            i, f, g, o = sg(a[:, :H]), sg(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sg(a[:, 3 * H:])
            c = f * c + i * g
            h = o * np.tanh(c)
            out.append(h)
        inp = np.stack(out)
    h_last = inp[lengths - 1, np.arange(x.shape[1])]
    z = (np.clip(np.rint(h_last / q.fc_in_scale), -127, 127) * q.fc_in_scale) @ \
        C.dequantize(q.fc_W, q.fc_scale).astype(np.float64) + q.fc_b
    np.testing.assert_allclose(z8, z, atol=2e-4)
    z_float, _ = m.forward(x, lengths)
    assert 1e-4 < np.abs(z8 - z_float).max() < 0.1 * np.abs(z_float).max()


def test_int8_model_refuses_training_and_requantization():
    m, feats = model_and_feats()
    q = C.quantize_model(m, feats)
    x, lengths = m.pad(feats, dtype=np.float32)
    with pytest.raises(MinikwsError, match="cannot be trained"):
        q.forward(x, lengths, train=True, rng=np.random.default_rng(0))
    with pytest.raises(MinikwsError, match="already int8"):
        C.quantize_model(q, feats)
    with pytest.raises(MinikwsError, match="float"):
        C.prune_units(q, 0.25)


def test_int8_state_is_validated_before_use():
    m, feats = model_and_feats()
    q = C.quantize_model(m, feats)
    state = q.state_dict()
    fresh = C.Int8KWSModel.from_config(q.get_config())
    for name, bad, match in [("lstm.l0.Wx", state["lstm.l0.Wx"].astype(np.float32), "dtype int8"),
                             ("fc.W.scale", -state["fc.W.scale"], "positive"),
                             ("lstm.l1.Wh", np.full_like(state["lstm.l1.Wh"], -128), "-127..127"),
                             ("fc.b", state["fc.b"][:-1], "shape")]:
        broken = dict(state, **{name: bad})
        with pytest.raises(MinikwsError, match=match):
            fresh.load_state_dict(broken)
    fresh.load_state_dict(state)
    x, lengths = m.pad(feats, dtype=np.float32)
    np.testing.assert_array_equal(fresh.forward(x, lengths)[0], q.forward(x, lengths)[0])


def test_stream_models_keep_their_task_through_compression():
    rng = np.random.default_rng(2)
    m = KWSModel(classes=["O", "yes", "no"], hidden_size=8, task="stream", tags="words", keywords=["yes", "no"],
                 head="feedback", seed=1)
    feats = [rng.standard_normal((20, 13)).astype(np.float32) for _ in range(3)]
    m.fit_normalization(feats)
    m.params["fc.W_o"][...] = rng.standard_normal((3, 3)).astype(np.float32)
    small = C.prune_units(m, 0.25)
    assert (small.task, small.tags, small.head, small.keywords) == ("stream", "words", "feedback", ("yes", "no"))
    np.testing.assert_array_equal(small.params["fc.W_o"], m.params["fc.W_o"])
    with pytest.raises(MinikwsError, match="feedback head"):
        C.quantize_model(m, feats)
    plain = KWSModel(classes=["O", "yes", "no"], hidden_size=8, task="stream", tags="words", keywords=["yes", "no"])
    plain.fit_normalization(feats)
    q = C.quantize_model(plain, feats)
    assert q.task == "stream" and C.Int8KWSModel.from_config(q.get_config()).task == "stream"


def test_gradual_pruning_follows_the_cubic_schedule_and_ends_at_the_target():
    from minikws.optim import AdamW

    m, feats = model_and_feats()
    rng = np.random.default_rng(5)
    pruner = C.GradualPruner(AdamW(m.params, lr=1e-3), final=0.6, steps=4, interval=3)
    names = C.prunable(m.params)
    pruned_before = {k: np.zeros(m.params[k].shape, bool) for k in names}
    for t in range(1, 16):
        pruner.step({k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in m.params.items()})
        want = C.cubic_sparsity(t, final=0.6, steps=4, interval=3)
        assert C.sparsity(m.params) == pytest.approx(want, abs=0.01), t
        for k in names:  # a pruned weight stays pruned: the masks only lose weights
            zero = m.params[k] == 0
            assert zero[pruned_before[k]].all(), (t, k)
            pruned_before[k] = zero
    assert C.sparsity(m.params) == pytest.approx(0.6, abs=0.01)


def test_fine_tune_gradual_ends_at_the_final_sparsity():
    from minikws.datasets import Dataset
    from minikws.train import fine_tune

    m, _ = model_and_feats(n=4)
    rng = np.random.default_rng(0)
    audio = [rng.standard_normal(4000).astype(np.float32) * 0.1 for _ in range(24)]
    data = Dataset(audio=audio, labels=np.arange(24) % 3, classes=m.classes, sr=16000,
                   speakers=np.array([f"s{i % 4}" for i in range(24)]),
                   subset=np.array(["train"] * 20 + ["validation"] * 4))
    fine_tune(m, data, epochs=3, gradual=0.5, seed=0, log=lambda line: None)
    assert C.sparsity(m.params) == pytest.approx(0.5, abs=0.01)
    with pytest.raises(MinikwsError, match="either masks"):
        fine_tune(m, data, epochs=1, gradual=0.5, masks={}, log=lambda line: None)
