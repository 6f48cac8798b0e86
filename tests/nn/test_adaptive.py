"""AdaptiveLogSoftmaxWithLoss: PyTorch's own tests replayed, validation, properties, gradients,
lazy clusters, and proof that it trains to a full softmax's loss on Zipf-distributed labels."""

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import assume, given
from hypothesis import strategies as st

import npsoftmax as nps
from npsoftmax.nn.adaptive import AdaptiveLogSoftmaxWithLoss as ASM
from npsoftmax.testing import check_grads

# -- PyTorch's test_nn.py::test_adaptive_log_softmax and the C++ frontend test, replayed ------


@pytest.mark.parametrize("cutoffs", [[5, 15, 15], [5, 15, 10], [5, 10, 25]])
def test_torch_invalid_cutoffs(cutoffs):
    with pytest.raises(ValueError, match="cutoffs"):
        ASM(16, 20, cutoffs, div_value=2.0)


def test_torch_cutoff_bounds():
    with pytest.raises(ValueError, match="cutoffs should be a sequence of unique,"):
        ASM(16, 20, [5, 10, 20], div_value=2.0)
    ASM(16, 20, [5, 10, 19], div_value=2.0)  # n_classes - 1 is allowed


def test_torch_errors_on_batch_and_target_range():
    asm = ASM(16, 20, [5, 10, 15], div_value=2.0, rng=0)
    with pytest.raises(ValueError, match="same batch size, got 2 input rows and 3 targets"):
        asm(np.ones((2, 16)), np.array([0, 5, 10]))
    with pytest.raises(IndexError, match=r"target value\(s\) 20 out of range.*\[0, 19\]"):
        asm(np.ones((2, 16)), np.array([0, 20]))


def test_torch_sizes_and_output_shape():
    asm = ASM(16, 20, [5, 10, 15], div_value=2.0, rng=0)
    assert asm.head.weight.shape == (8, 16)
    assert [asm.tail[i][1].weight.shape for i in range(3)] == [(5, 8), (5, 4), (5, 2)]
    assert asm(np.random.default_rng(0).standard_normal((2, 16)), [0, 17]).output.shape == (2,)


def test_torch_no_batch_dim():
    asm = ASM(16, 20, [5, 10, 15], div_value=2.0, rng=0)
    x = np.random.default_rng(1).standard_normal(16)
    single = asm(x, 17)
    batch = asm(x[None], np.array([17]))
    assert single.output.shape == () and single.loss.shape == ()
    np.testing.assert_array_equal(single.output.data, batch.output.data[0])
    np.testing.assert_array_equal(single.loss.data, -single.output.data)


def test_torch_log_prob_and_per_class_outputs():
    asm = ASM(8, 4, [2], div_value=2.0, rng=0)
    x = np.random.default_rng(2).standard_normal((4, 8))
    lp = asm.log_prob(x).data
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, rtol=1e-14)
    for v in range(4):
        y = np.full(4, v)
        out, loss = asm(x, y)
        np.testing.assert_allclose(out.data, lp[:, v], rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(loss.data, nps.nll_loss(lp, y), rtol=1e-14)


def _predict_setup(case):
    """PyTorch's three predict scenarios on (8, 10, [4, 8], div 2, head_bias) and |randn| x."""
    rng = np.random.default_rng(3)
    asm = ASM(8, 10, [4, 8], div_value=2.0, head_bias=True, rng=0)
    x = np.abs(rng.standard_normal((64, 8)))
    w, b = asm.head.weight.data, asm.head.bias.data
    w[...], b[...] = np.abs(w), np.abs(b)
    if case == "shortlist":
        w[4:], b[4:] = 0.0, 0.0  # every argmax in the shortlist
    elif case == "clusters":
        w[:4], b[:4] = 0.0, 0.0  # every argmax a cluster column
        w[4:] += 1.0
    else:
        x[:32, :4] = 0.0
        x[32:, 4:] = 0.0
        w[:4, 4:] = 0.0  # shortlist rows see features 0-3, cluster rows features 4-7
        w[4:, :4] = 0.0
    return asm, x


@pytest.mark.parametrize("case", ["shortlist", "clusters", "mixed"])
def test_torch_predict_equals_argmax_of_log_prob(case):
    asm, x = _predict_setup(case)
    head_best = np.argmax(asm.head(x).data, axis=1)
    expected_in_shortlist = {"shortlist": 64, "clusters": 0}.get(case)
    if expected_in_shortlist is not None:
        assert (head_best < 4).sum() == expected_in_shortlist
    else:
        assert 0 < (head_best < 4).sum() < 64
    pred = asm.predict(x)
    assert pred.dtype == np.int64 and pred.shape == (64,)
    np.testing.assert_array_equal(pred, np.argmax(asm.log_prob(x).data, axis=1))


def test_predict_fast_path_never_runs_a_tail():
    asm, x = _predict_setup("shortlist")
    for seq in asm.tail:
        for layer in seq:
            layer.weight.data[...] = np.nan
    np.testing.assert_array_equal(asm.predict(x), np.argmax(asm.head(x).data, axis=1))


def test_cpp_frontend_checks():
    asm = ASM(16, 20, [4, 10, 15], div_value=2.0, rng=0)
    x = np.arange(100.0, 132.0).reshape(2, 16)
    assert asm(x, np.array([0, 17])).output.shape == (2,)
    z = np.random.default_rng(4).standard_normal((8, 16))
    np.testing.assert_array_equal(asm.predict(z), np.argmax(asm.log_prob(z).data, axis=1))


# -- construction and validation ---------------------------------------------------------------


def test_attributes_parameters_and_cutoff_types():
    asm = ASM(16, 20, np.array([5, 10, 15]), div_value=2, head_bias=True, rng=0)
    assert asm.cutoffs == [5, 10, 15, 20]
    assert all(type(c) is int for c in asm.cutoffs)
    assert (asm.shortlist_size, asm.n_clusters, asm.head_size) == (5, 3, 8)
    shapes = {name: p.shape for name, p in asm.named_parameters()}
    assert shapes == {
        "head.weight": (8, 16),
        "head.bias": (8,),
        "tail.0.0.weight": (8, 16),
        "tail.0.1.weight": (5, 8),
        "tail.1.0.weight": (4, 16),
        "tail.1.1.weight": (5, 4),
        "tail.2.0.weight": (2, 16),
        "tail.2.1.weight": (5, 2),
    }
    assert ASM(16, 20, range(5, 20, 5), div_value=2.0).cutoffs == [5, 10, 15, 20]
    assert ASM(56, 56, (1, 55), div_value=2.0).cutoffs == [1, 55, 56]  # pytorch#16658
    assert ASM(2, 2, [1], div_value=1).n_clusters == 1  # the smallest legal module
    # PyTorch's exact width rule: Python floor division, float or int.
    for div, widths in [(2, [8, 4, 2]), (1.5, [10, 7, 4]), (1, [16, 16, 16])]:
        asm = ASM(16, 20, [5, 10, 15], div_value=div)
        assert [seq[0].out_features for seq in asm.tail] == widths
    assert [seq[0].out_features for seq in ASM(16, 20, [5, 10], div_value=0.5).tail] == [32, 64]
    asm32 = ASM(8, 10, [4], dtype=np.float32, rng=0)
    assert all(p.dtype == np.float32 for p in asm32.parameters())
    assert "cutoffs=[4, 10]" in repr(asm32)


def test_same_seed_same_weights_and_reset():
    a, b = ASM(8, 10, [4, 8], div_value=2.0, rng=5), ASM(8, 10, [4, 8], div_value=2.0, rng=5)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    before = a.state_dict()
    a.reset_parameters(rng=6)
    assert not np.array_equal(before["head.weight"], a.head.weight.data)
    assert np.all(np.abs(a.tail[1][1].weight.data) <= 1 / np.sqrt(a.tail[1][1].in_features))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"cutoffs": None}, TypeError, "cutoffs must be a sequence of integers"),
        ({"cutoffs": 5}, TypeError, "cutoffs must be a sequence of integers"),
        ({"cutoffs": []}, ValueError, "cutoffs should be a sequence of length larger than 0"),
        ({"cutoffs": [5.0, 10.0]}, ValueError, r"cutoffs must be integers, got 5.0"),
        ({"cutoffs": [2.5, 10]}, ValueError, "cutoffs must be integers"),
        ({"cutoffs": [True]}, ValueError, "cutoffs must be integers, got True"),
        ({"cutoffs": np.array([[5, 10]])}, ValueError, "cutoffs must be integers"),
        ({"cutoffs": [0, 10]}, ValueError, r"cutoffs.*got cutoffs=\[0, 10\] with n_classes=20"),
        ({"div_value": 0}, ValueError, "div_value must be a positive finite number, got 0"),
        ({"div_value": -2.0}, ValueError, "div_value must be a positive finite number"),
        ({"div_value": float("nan")}, ValueError, "div_value"),
        ({"div_value": "2"}, TypeError, "div_value must be a real number"),
        ({"div_value": 4.0}, ValueError, r"cluster 2's projection width .* is 0"),
        ({"in_features": 0}, ValueError, "in_features must be an integer >= 1"),
        ({"n_classes": 1, "cutoffs": [1]}, ValueError, "n_classes must be an integer >= 2"),
        ({"n_classes": 20.0}, TypeError, "n_classes must be an integer"),
        ({"dtype": np.float16}, TypeError, "dtype must be numpy.float64 or numpy.float32"),
        ({"head_bias": "no"}, TypeError, "head_bias must be True or False, got 'no'"),
        ({"div_value": 10**400}, ValueError, r"cluster 0's projection width .* is 0"),
        # Powers past the float range: OverflowError and ZeroDivisionError used to escape.
        ({"div_value": 1e200}, ValueError, r"cluster 0's projection width .* is 0"),
        ({"div_value": 1e-200}, ValueError, r"div_value=1e-200 makes .* GiB, more than"),
        # Widths of 1.6e9 and more: NumPy's "Maximum allowed dimension exceeded", or an
        # allocation of tens of GiB that fills the memory.
        ({"div_value": 1e-8}, ValueError, r"div_value=1e-08 makes .* widths .* = \[1\.6e\+09"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    args = {"in_features": 16, "n_classes": 20, "cutoffs": [5, 10, 15], "div_value": 2.0}
    with pytest.raises(error, match=match):
        ASM(**{**args, **kwargs})


def test_bad_forward_arguments():
    asm = ASM(16, 20, [5, 10, 15], div_value=2.0, rng=0)
    x = np.ones((2, 16))
    with pytest.raises(TypeError, match="integer class indices, got dtype float64"):
        asm(x, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"multi-target is not supported\), got shape \(2, 3\)"):
        asm(np.ones((2, 3, 16)), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match=r"1-D target of shape \(2,\) needs a 2-D input"):
        asm(np.ones(16), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"0-D target of shape \(\) needs a 1-D input"):
        asm(x, 3)
    with pytest.raises(ValueError, match=r"in_features=16, got shape \(2, 17\)"):
        asm(np.ones((2, 17)), np.array([0, 17]))
    with pytest.raises(ValueError, match="the batch is empty"):
        asm(np.ones((0, 16)), np.zeros(0, int))
    with pytest.raises(IndexError, match=r"-1 out of range.*\[0, 19\]"):
        asm(x, np.array([-1, 3]))
    for method in (asm.log_prob, asm.predict):
        with pytest.raises(ValueError, match=r"\(N, in_features\) or \(in_features,\)"):
            method(np.ones((2, 3, 16)))
        with pytest.raises(ValueError, match="in_features=16"):
            method(np.ones((2, 15)))


def test_empty_batch_and_unbatched_for_log_prob_and_predict():
    asm = ASM(16, 20, [5, 10, 15], div_value=2.0, rng=0)
    assert asm.log_prob(np.ones((0, 16))).shape == (0, 20)
    assert asm.predict(np.ones((0, 16))).shape == (0,)
    x = np.random.default_rng(0).standard_normal((3, 16))
    # (a 1-row matmul may round differently from a 3-row one: BLAS takes another path)
    np.testing.assert_allclose(asm.log_prob(x[1]).data, asm.log_prob(x).data[1], rtol=1e-14)
    assert asm.predict(x[1]).shape == () and asm.predict(x[1]) == asm.predict(x)[1]


# -- properties ----------------------------------------------------------------------------


@st.composite
def configs(draw):
    n_classes = draw(st.integers(2, 12))
    cuts = sorted(draw(st.sets(st.integers(1, n_classes - 1), min_size=1, max_size=3)))
    d = draw(st.integers(1, 6))
    div = draw(st.sampled_from([1, 1.0, 0.5, 2.0]))
    assume(all(int(d // div ** (i + 1)) >= 1 for i in range(len(cuts))))
    head_bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    n = draw(st.integers(1, 6))
    rng = np.random.default_rng(seed)
    asm = ASM(d, n_classes, cuts, div_value=div, head_bias=head_bias, rng=rng)
    return asm, rng.standard_normal((n, d)) * 3, rng.integers(0, n_classes, n)


@given(configs())
def test_properties(config):
    asm, x, y = config
    lp = asm.log_prob(x).data
    np.testing.assert_allclose(sp.logsumexp(lp, axis=1), 0.0, atol=1e-13)
    out, loss = asm(x, y)
    np.testing.assert_allclose(out.data, lp[np.arange(len(y)), y], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(loss.data, -out.data.mean(), rtol=1e-14, atol=1e-15)
    head_lp = sp.log_softmax(asm.head(x).data, axis=1)
    c = asm.cutoffs
    short = y < c[0]
    np.testing.assert_allclose(out.data[short], head_lp[short, y[short]], rtol=1e-14, atol=1e-15)
    for i in range(asm.n_clusters):  # a cluster's classes share its head column's mass
        np.testing.assert_allclose(
            sp.logsumexp(lp[:, c[i] : c[i + 1]], axis=1), head_lp[:, c[0] + i], atol=1e-12
        )
    top2 = np.sort(lp, axis=1)[:, -2:] if lp.shape[1] > 1 else None
    assume(top2 is None or np.all(top2[:, 1] - top2[:, 0] > 1e-9))  # no (near) ties
    np.testing.assert_array_equal(asm.predict(x), np.argmax(lp, axis=1))


def test_gradients_of_every_parameter_and_the_input():
    asm = ASM(3, 6, [2, 4], div_value=1.5, head_bias=True, rng=0)
    names = [name for name, _ in asm.named_parameters()]
    layers = [asm.head, asm.head, asm.tail[0][0], asm.tail[0][1], asm.tail[1][0], asm.tail[1][1]]
    attrs = ["weight", "bias", "weight", "weight", "weight", "weight"]
    assert names == ["head.weight", "head.bias"] + [
        f"tail.{i}.{j}.weight" for i in (0, 1) for j in (0, 1)
    ]
    x = np.random.default_rng(1).standard_normal((4, 3))
    y = np.array([0, 3, 5, 2])

    def plug(values):
        for layer, attr, v in zip(layers, attrs, values):
            setattr(layer, attr, v)

    def loss(x, *params):
        plug(params)
        return asm(x, y).loss

    def full(x, *params):
        plug(params)
        return asm.log_prob(x)

    params = [p.data.copy() for p in asm.parameters()]
    check_grads(loss, x, *params)
    check_grads(full, x, *params, full_jacobian_max=0)  # directional checks suffice here


def test_lazy_clusters_and_unused_tail_gradients():
    asm = ASM(8, 20, [4, 10, 15], div_value=2.0, rng=0)
    for layer in asm.tail[2]:
        layer.weight.data[...] = np.nan  # cluster 2 is never reached below
    x = np.random.default_rng(0).standard_normal((4, 8))
    out, loss = asm(x, np.array([0, 7, 3, 12]))
    assert np.all(np.isfinite(out.data)) and np.isfinite(loss.data)
    loss.backward()
    assert asm.tail[2][0].weight.grad is None and asm.tail[2][1].weight.grad is None
    assert asm.tail[0][1].weight.grad is not None and asm.head.weight.grad is not None
    # a single row in a cluster (PyTorch's squeeze pitfall) and a batch of one
    assert asm(x[:1], np.array([12])).output.shape == (1,)
    asm.zero_grad()
    asm.log_prob(x[:, :]).sum().backward()  # log_prob reaches every tail
    assert all(p.grad is not None for p in asm.parameters())


def test_float32_module():
    asm = ASM(8, 10, [4], div_value=2.0, dtype=np.float32, rng=0)
    x = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    out, loss = asm(x, np.array([0, 5, 9, 1, 4]))
    assert out.dtype == np.float32 and loss.dtype == np.float32
    loss.backward()
    assert all(p.grad.dtype == np.float32 for p in asm.parameters())
    assert asm.log_prob(x.astype(np.float64)).dtype == np.float64  # promoted, never cast down


# -- it trains ---------------------------------------------------------------------------------


def test_trains_to_a_full_softmax_loss_on_zipf_labels():
    # Class-conditional Gaussians with Zipf-distributed labels (class 0 the most frequent), a
    # constant feature standing in for the tails' missing bias.  Both models are trained with
    # the same Adam schedule on the whole set; the adaptive one must land close to the full
    # softmax, far below the label-only (unigram) model.  Full-width tails (div_value=1): on
    # this synthetic data every class needs all 16 directions, which narrower tails would cut.
    rng = np.random.default_rng(0)
    n_classes, d, n = 40, 16, 600
    prior = 1.0 / np.arange(1, n_classes + 1) ** 1.1
    prior /= prior.sum()
    y = rng.choice(n_classes, size=n, p=prior)
    x = rng.standard_normal((n_classes, d))[y] * 0.5 + rng.standard_normal((n, d))
    x[:, 0] = 1.0
    unigram = -(prior * np.log(prior)).sum()

    def train(model, loss_fn, steps=250):
        opt = nps.optim.Adam(model.parameters(), lr=0.05)
        for _ in range(steps):
            opt.zero_grad()
            loss_fn().backward()
            opt.step()
        return loss_fn().item()

    # The NumPy kernels: on these small rows they are fast on any machine (no thread start-up).
    with nps.use_backend("numpy"):
        asm = ASM(d, n_classes, [4, 12], div_value=1.0, head_bias=True, rng=1)
        adaptive = train(asm, lambda: asm(x, y).loss)
        full = nps.nn.Linear(d, n_classes, rng=1)
        softmax = train(full, lambda: nps.cross_entropy(full(x), y))
    assert adaptive < 0.5 * unigram and softmax < 0.5 * unigram, (adaptive, softmax, unigram)
    assert abs(adaptive - softmax) < 0.1 * unigram, (adaptive, softmax, unigram)
