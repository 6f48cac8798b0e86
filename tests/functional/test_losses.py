"""cross_entropy and nll_loss: closed forms, composite twin, gradients, edges, errors, PyTorch."""

import warnings

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax as nps
from npsoftmax.testing import check_grads

finite = st.floats(-30, 30, allow_nan=False, width=64)


@st.composite
def problems(draw, max_extra_dims=1):
    """Logits of shape (N, C, d...) and integer targets of shape (N, d...)."""
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 5))
    extra = tuple(draw(st.lists(st.integers(1, 3), max_size=max_extra_dims)))
    z = draw(hnp.arrays(np.float64, (n, c, *extra), elements=finite))
    t = draw(hnp.arrays(np.int64, (n, *extra), elements=st.integers(0, c - 1)))
    return z, t


def oracle_rows(z, t, eps=0.0):
    """Per-target loss from scipy's logsumexp, classes on axis 1 (closed form)."""
    l = z - sp.logsumexp(z, axis=1, keepdims=True)
    picked = np.take_along_axis(l, t[:, None], axis=1)[:, 0]
    return (1 - eps) * -picked + eps * -l.mean(axis=1)


@given(problems(), st.sampled_from([0.0, 0.1, 1.0]))
def test_matches_closed_form(backend, problem, eps):
    z, t = problem
    want = oracle_rows(z, t, eps)
    got = nps.cross_entropy(z, t, reduction="none", label_smoothing=eps)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        nps.cross_entropy(z, t, reduction="sum", label_smoothing=eps),
        want.sum(),
        rtol=1e-12,
        atol=1e-11,
    )
    np.testing.assert_allclose(
        nps.cross_entropy(z, t, label_smoothing=eps), want.mean(), rtol=1e-12, atol=1e-12
    )


@given(problems(), st.integers(0, 4))
def test_ignore_index_mean_divides_by_counted_targets(problem, ignored):
    z, t = problem
    keep = t != ignored
    rows = np.where(keep, oracle_rows(z, np.where(keep, t, 0)), 0.0)
    got = nps.cross_entropy(z, t, reduction="none", ignore_index=ignored)
    np.testing.assert_allclose(got, rows, rtol=1e-12, atol=1e-12)
    mean = nps.cross_entropy(z, t, ignore_index=ignored)
    if keep.any():
        np.testing.assert_allclose(mean, rows.sum() / keep.sum(), rtol=1e-12, atol=1e-12)
    else:
        assert np.isnan(mean)


@given(problems(), st.sampled_from(["mean", "sum", "none"]))
def test_fused_equals_composite_twin(problem, reduction):
    # cross_entropy is nll_loss(log_softmax) fused: same values, same gradients.
    z, t = problem
    a, b = nps.tensor(z, requires_grad=True), nps.tensor(z, requires_grad=True)
    fused = nps.cross_entropy(a, t, reduction=reduction)
    twin = nps.nll_loss(nps.log_softmax(b, axis=1), t, reduction=reduction)
    np.testing.assert_allclose(fused.data, twin.data, rtol=1e-12, atol=1e-12)
    u = np.ones(fused.shape)
    fused.backward(u)
    twin.backward(u)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-10, atol=1e-12)


def test_one_dimensional_and_spatial_layouts():
    z = np.array([1.0, 3.0, -2.0])
    np.testing.assert_allclose(nps.cross_entropy(z, 1), sp.logsumexp(z) - 3.0, rtol=1e-15)
    assert nps.cross_entropy(z, np.int64(1), reduction="none").shape == ()
    rng = np.random.default_rng(0)
    z4 = rng.standard_normal((2, 3, 4, 5))
    t = rng.integers(0, 3, (2, 4, 5))
    want = sp.logsumexp(z4, axis=1) - np.take_along_axis(z4, t[:, None], 1)[:, 0]
    np.testing.assert_allclose(nps.cross_entropy(z4, t, reduction="none"), want, rtol=1e-13)
    # axis= picks another class axis: classes last.
    zl = np.moveaxis(z4, 1, -1)
    np.testing.assert_allclose(
        nps.cross_entropy(zl, t, axis=-1, reduction="none"), want, rtol=1e-13
    )


def test_probability_targets_and_label_smoothing():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4, 5))
    q = sp.softmax(rng.standard_normal((4, 5)), axis=1)
    l = sp.log_softmax(z, axis=1)
    np.testing.assert_allclose(
        nps.cross_entropy(z, q, reduction="none"), -(q * l).sum(1), rtol=1e-13
    )
    qs = 0.8 * q + 0.2 / 5
    np.testing.assert_allclose(
        nps.cross_entropy(z, q, label_smoothing=0.2), -(qs * l).sum(1).mean(), rtol=1e-13
    )
    # One-hot probabilities are the same loss as the indices.
    t = np.array([0, 4, 2, 2])
    np.testing.assert_allclose(
        nps.cross_entropy(z, np.eye(5)[t], label_smoothing=0.3),
        nps.cross_entropy(z, t, label_smoothing=0.3),
        rtol=1e-14,
    )


@pytest.mark.parametrize("eps", [0.0, 0.15])  # 0: the fused path that keeps only the logits
def test_gradients_index_targets(eps):
    rng = np.random.default_rng(2)
    z = rng.standard_normal((3, 4, 2))
    t = np.array([[0, 3], [1, -1], [2, 2]])
    for reduction in ("mean", "sum", "none"):
        check_grads(
            lambda x, r=reduction: nps.cross_entropy(
                x, t, reduction=r, ignore_index=-1, label_smoothing=eps
            ),
            z,
        )
        check_grads(lambda x, r=reduction: nps.nll_loss(x, t, reduction=r, ignore_index=-1), z)


def test_gradients_probability_targets():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((3, 4))
    q = rng.uniform(0, 1, (3, 4))  # need not be normalised: the VJP uses sum(q)
    check_grads(lambda x, p: nps.cross_entropy(x, p, label_smoothing=0.1), z, q)
    check_grads(lambda x, p: nps.cross_entropy(x, p, reduction="none"), z, q)


def test_all_ignored_and_empty_batch_give_nan_mean_and_zero_gradient():
    z = nps.tensor(np.zeros((2, 3)), requires_grad=True)
    loss = nps.cross_entropy(z, np.array([-100, -100]), ignore_index=-100, label_smoothing=0.1)
    assert np.isnan(loss.data)
    loss.backward()
    np.testing.assert_array_equal(z.grad, 0.0)
    empty = np.zeros((0, 3))
    assert np.isnan(nps.cross_entropy(empty, np.zeros(0, int)))
    assert nps.cross_entropy(empty, np.zeros(0, int), reduction="sum") == 0.0
    assert nps.cross_entropy(empty, np.zeros(0, int), reduction="none").shape == (0,)
    assert np.isnan(nps.nll_loss(empty, np.zeros(0, int)))
    assert np.isnan(nps.cross_entropy(empty, empty))


def test_a_mean_whose_class_weights_sum_to_zero_divides_by_zero():
    # Negative class weights can cancel: PyTorch's mean is then sum / 0, +-inf (not the NaN of
    # a mean over nothing), and its gradient g / 0; the NaN and zero gradient are for 0 / 0.
    z = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    t, w = np.array([0, 1]), np.array([1.0, -1.0, 0.5])
    nll = -sp.log_softmax(z, axis=1)[[0, 1], t]
    expected = np.copysign(np.inf, nll[0] - nll[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for backend in ("numba", "numpy"):
            with nps.use_backend(backend):
                assert nps.cross_entropy(z, t, weight=w) == expected
        x = nps.tensor(z, requires_grad=True)
        loss = nps.nll_loss(x, t, weight=w)
        assert loss.data == -np.inf  # -(2 * 1 - 1 * 1) / 0
        loss.backward()
    # dx[n, t_n] = -(g / 0) * w[t_n], 0 elsewhere.
    np.testing.assert_array_equal(x.grad, [[-np.inf, 0, 0], [0, np.inf, 0]])
    # Losses that cancel too: 0 / 0.
    assert np.isnan(nps.nll_loss(np.zeros((2, 3)), t, weight=w))
    # All weights 0 is a mean over no counted target: NaN, and a zero gradient.
    x = nps.tensor(z, requires_grad=True)
    loss = nps.cross_entropy(x, t, weight=np.zeros(3))
    loss.backward()
    assert np.isnan(loss.data)
    np.testing.assert_array_equal(x.grad, 0.0)


@pytest.mark.parametrize("eps", [0.0, 0.1])  # 0: the fused path; 0.1: the smoothing path
def test_a_mean_over_targets_of_weight_zero_has_a_zero_gradient(eps):
    # Every target's class weighs 0: no target is counted, a mean over nothing (0 / 0), whose
    # documented gradient is exactly 0 (not g / 0, which times the weight 0 is NaN).
    z = np.array([[0.1, 0.2, 0.3], [1.0, 0.0, -1.0]])
    w, t = np.array([0.0, 1.0, 1.0]), np.array([0, 0])
    losses = [lambda x: nps.cross_entropy(x, t, weight=w, label_smoothing=eps)]
    if not eps:
        losses.append(lambda x: nps.nll_loss(x, t, weight=w))
    for f in losses:
        x = nps.tensor(z, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            loss = f(x)
            loss.backward()
        np.testing.assert_array_equal(x.grad, 0.0)
        if not eps:
            assert np.isnan(loss.data)  # 0 / 0, as documented (and as in PyTorch)


@pytest.mark.parity
def test_a_smoothed_mean_over_targets_of_weight_zero_is_nan_as_in_torch():
    torch = pytest.importorskip("torch")
    z = np.array([[0.1, 0.2, 0.3], [1.0, 0.0, -1.0]])
    w, t = np.array([0.0, 1.0, 1.0]), np.array([0, 0])
    theirs = torch.nn.functional.cross_entropy(
        torch.tensor(z), torch.tensor(t), weight=torch.tensor(w), label_smoothing=0.1
    )
    assert torch.isnan(theirs)
    assert np.isnan(nps.cross_entropy(z, t, weight=w, label_smoothing=0.1))


@pytest.mark.parity
def test_class_weights_summing_to_zero_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    z = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [0.5, 0.5, 3.0]])
    t, w = np.array([0, 1, 2]), np.array([1.0, -1.5, 0.5])
    for ours_f, theirs_f in ((nps.cross_entropy, F.cross_entropy), (nps.nll_loss, F.nll_loss)):
        x, xt = nps.tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
        ours = ours_f(x, t, weight=w)
        theirs = theirs_f(xt, torch.tensor(t), weight=torch.tensor(w))
        ours.backward()
        theirs.backward()
        np.testing.assert_array_equal(ours.data, theirs.detach().numpy())
        np.testing.assert_array_equal(x.grad, xt.grad.numpy())


def test_extreme_logits_stay_exact():
    z = np.array([[1e308, 0.0, -1e308], [0.0, -np.inf, 1.0]])
    np.testing.assert_allclose(
        nps.cross_entropy(z, np.array([0, 2]), reduction="none"),
        [0.0, np.log1p(np.exp(-1.0))],
        rtol=1e-15,
    )
    assert nps.cross_entropy(z, np.array([2, 1]), reduction="none")[1] == np.inf
    # a class of probability 0 adds nothing, even at a -inf logit (0 log 0 = 0)
    assert np.isfinite(nps.cross_entropy(z[1:], np.array([[0.5, 0.0, 0.5]])))


def test_dtypes():
    z32 = np.array([[1.0, 2.0, 0.5]], dtype=np.float32)
    assert nps.cross_entropy(z32, np.array([1])).dtype == np.float32
    assert nps.cross_entropy(z32.astype(np.float16), np.array([1])).dtype == np.float16
    assert nps.cross_entropy(np.array([[1, 2]]), np.array([1])).dtype == np.float64
    t = nps.tensor(z32, requires_grad=True)
    nps.cross_entropy(t, np.array([1], dtype=np.uint8)).backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_allclose(
        nps.cross_entropy(z32, [1]), nps.cross_entropy(z32.astype(float), [1]), rtol=1e-6
    )


@pytest.mark.parametrize("f", [nps.cross_entropy, nps.nll_loss])
def test_bad_input(f):
    z = np.zeros((2, 3))
    with pytest.raises(IndexError, match=r"3 out of range.*\[0, 2\]"):
        f(z, np.array([0, 3]))
    with pytest.raises(IndexError, match=r"-1 out of range.*\[0, 2\].*ignore_index=-100"):
        f(z, np.array([-1, -100]), ignore_index=-100)
    with pytest.raises(TypeError, match="integer class indices"):
        f(z, np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="integer class indices"):
        f(z, np.array([True, False]))
    with pytest.raises(ValueError, match=r"target has shape \(3,\).*needs targets of shape \(2,\)"):
        f(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction must be"):
        f(z, np.array([0, 1]), reduction="avg")
    with pytest.raises(TypeError, match="ignore_index"):
        f(z, np.array([0, 1]), ignore_index=1.5)
    with pytest.raises(ValueError, match="0-d"):
        f(np.float64(1.0), np.array(0))
    with pytest.raises(ValueError, match=r"class axis 1 .* is empty"):
        f(np.zeros((2, 0)), np.array([0, 0]))
    with pytest.raises(TypeError, match="numeric"):
        f(np.array([["a", "b"]]), np.array([0]))


def test_bad_cross_entropy_options():
    z = np.zeros((2, 3))
    for bad in (-0.1, 1.5, np.nan):
        with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0, 1\]"):
            nps.cross_entropy(z, np.array([0, 1]), label_smoothing=bad)
    with pytest.raises(TypeError, match="label_smoothing"):
        nps.cross_entropy(z, np.array([0, 1]), label_smoothing=True)
    with pytest.raises(ValueError, match="ignore_index=-100 applies to class-index targets"):
        nps.cross_entropy(z, np.full((2, 3), 1 / 3), ignore_index=-100)


@pytest.mark.parity
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.25])
def test_parity_with_torch(backend, reduction, eps):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(4)
    z = rng.standard_normal((5, 4, 3)) * 3
    t = rng.integers(0, 4, (5, 3))
    t[0, 0] = t[2, 1] = -100  # PyTorch's default ignore_index
    q = sp.softmax(rng.standard_normal((5, 4, 3)), axis=1)
    for target, ignore in ((t, -100), (q, None)):
        a = nps.tensor(z, requires_grad=True)
        zt = torch.tensor(z, requires_grad=True)
        ours = nps.cross_entropy(a, target, reduction, ignore, eps)
        theirs = F.cross_entropy(zt, torch.tensor(target), reduction=reduction, label_smoothing=eps)
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-13, atol=1e-15)
        u = rng.standard_normal(ours.shape)
        ours.backward(u)
        theirs.backward(torch.tensor(u))
        np.testing.assert_allclose(a.grad, zt.grad.numpy(), rtol=1e-12, atol=1e-15)
    lp = sp.log_softmax(z, axis=1)
    np.testing.assert_allclose(
        nps.nll_loss(lp, t, reduction, ignore_index=-100),
        F.nll_loss(torch.tensor(lp), torch.tensor(t), reduction=reduction),
        rtol=1e-13,
        atol=1e-15,
    )


# -- class weights (PyTorch's weight=) ---------------------------------------------------------


@given(problems(), st.sampled_from([0.0, 0.2]), st.integers(-1, 4))
def test_class_weights_match_the_weighted_closed_form(problem, eps, ignored):
    z, t = problem
    c = z.shape[1]
    cw = np.linspace(0.5, 2.0, c)
    keep = t != ignored
    ts = np.where(keep, t, 0)
    l = z - sp.logsumexp(z, axis=1, keepdims=True)
    picked = -np.take_along_axis(l, ts[:, None], axis=1)[:, 0]
    smooth = -np.moveaxis(np.moveaxis(l, 1, -1) * cw, -1, 1).sum(axis=1)
    rows = np.where(keep, (1 - eps) * cw[ts] * picked + eps / c * smooth, 0.0)
    kw = {"ignore_index": ignored, "label_smoothing": eps, "weight": cw}
    got = nps.cross_entropy(z, t, reduction="none", **kw)
    np.testing.assert_allclose(got, rows, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        nps.cross_entropy(z, t, reduction="sum", **kw), rows.sum(), rtol=1e-12, atol=1e-11
    )
    mean = nps.cross_entropy(z, t, **kw)
    if keep.any():  # the mean divides by the targets' total weight
        want = rows.sum() / cw[ts][keep].sum()
        np.testing.assert_allclose(mean, want, rtol=1e-12, atol=1e-12)
    else:
        assert np.isnan(mean)
    if not eps:
        nll = nps.nll_loss(l, t, reduction="none", ignore_index=ignored, weight=cw)
        np.testing.assert_allclose(nll, rows, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("eps", [0.0, 0.15])  # 0: the fused path
def test_class_weight_gradients(eps):
    rng = np.random.default_rng(7)
    z = rng.standard_normal((3, 4, 2))
    t = np.array([[0, 3], [1, -1], [2, 2]])
    cw = np.array([0.3, 2.0, 1.0, 0.0])
    for reduction in ("mean", "sum", "none"):
        kw = {"reduction": reduction, "ignore_index": -1, "weight": cw}
        check_grads(lambda x, kw=kw: nps.cross_entropy(x, t, label_smoothing=eps, **kw), z)
        check_grads(lambda x, kw=kw: nps.nll_loss(x, t, **kw), z)
    q = rng.uniform(0, 1, (3, 4, 2))
    check_grads(lambda x, p: nps.cross_entropy(x, p, label_smoothing=eps, weight=cw), z, q)


def test_a_class_of_weight_zero_adds_nothing_even_at_an_infinite_loss():
    z = np.array([[0.0, -np.inf], [1.0, 2.0]])
    cw = np.array([1.0, 0.0])
    got = nps.cross_entropy(z, np.array([1, 0]), reduction="none", weight=cw)
    assert got[0] == 0.0 and np.isfinite(got[1])
    assert nps.cross_entropy(z, np.array([1, 0]), weight=cw) == got[1]  # divided by 0 + 1
    assert nps.nll_loss(z, np.array([1, 0]), reduction="none", weight=cw)[0] == 0.0
    assert np.isnan(nps.cross_entropy(z, np.array([1, 1]), weight=cw))  # 0 / 0: no weight
    # A NaN row of weight 0 is left out as an ignored one is: 0 loss, exactly 0 gradient.
    a = nps.tensor(np.array([[np.nan, 0.0], [1.0, 2.0]]), requires_grad=True)
    loss = nps.cross_entropy(a, np.array([1, 0]), reduction="sum", weight=cw)
    assert np.isfinite(loss.data)
    loss.backward()
    np.testing.assert_array_equal(a.grad[0], [0.0, 0.0])
    assert np.all(np.isfinite(a.grad[1])) and a.grad[1, 0] < 0


def test_class_weights_keep_the_logits_dtype():
    z = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    t = np.array([0, 1, 2, 1])
    for f in (nps.cross_entropy, nps.nll_loss):
        assert f(z, t, weight=[1, 2, 3]).dtype == np.float32
        assert f(z, t, reduction="none", weight=np.ones(3)).dtype == np.float32
    want = nps.cross_entropy(z.astype(np.float64), t, weight=[1, 2, 3])
    np.testing.assert_allclose(nps.cross_entropy(z, t, weight=[1, 2, 3]), want, rtol=1e-6)


@pytest.mark.parametrize("f", [nps.cross_entropy, nps.nll_loss])
def test_bad_class_weights(f):
    z, t = np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\), .* got shape \(2,\)"):
        f(z, t, weight=np.ones(2))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        f(z, t, weight=np.ones((1, 3)))
    with pytest.raises(ValueError, match="weight must be finite, got nan"):
        f(z, t, weight=[1.0, np.nan, 1.0])
    with pytest.raises(TypeError, match="weight must hold real numbers"):
        f(z, t, weight=["a", "b", "c"])
    with pytest.raises(TypeError, match="weight must hold real numbers"):
        f(z, t, weight=[True, False, True])
    # PyTorch's third positional argument is weight; here it is reduction.
    with pytest.raises(ValueError, match=r"reduction must be .* pass class weights as weight="):
        f(z, t, np.ones(3))


@pytest.mark.parity
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.25])
def test_class_weights_parity_with_torch(reduction, eps):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    z = rng.standard_normal((5, 4, 3)) * 3
    t = rng.integers(0, 4, (5, 3))
    t[0, 0] = t[2, 1] = -100
    cw = np.array([0.2, 1.5, 3.0, 0.7])
    q = sp.softmax(rng.standard_normal((5, 4, 3)), axis=1)
    for target, ignore in ((t, -100), (q, None)):
        a = nps.tensor(z, requires_grad=True)
        zt = torch.tensor(z, requires_grad=True)
        qa = nps.tensor(target, requires_grad=target.dtype.kind == "f")
        qt = torch.tensor(target, requires_grad=target.dtype.kind == "f")
        ours = nps.cross_entropy(a, qa, reduction, ignore, eps, weight=cw)
        theirs = F.cross_entropy(
            zt, qt, weight=torch.tensor(cw), reduction=reduction, label_smoothing=eps
        )
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-13, atol=1e-15)
        u = rng.standard_normal(ours.shape)
        ours.backward(u)
        theirs.backward(torch.tensor(u))
        np.testing.assert_allclose(a.grad, zt.grad.numpy(), rtol=1e-12, atol=1e-15)
        if qa.requires_grad:
            np.testing.assert_allclose(qa.grad, qt.grad.numpy(), rtol=1e-12, atol=1e-15)
    lp = nps.tensor(sp.log_softmax(z, axis=1), requires_grad=True)
    lpt = torch.tensor(lp.data, requires_grad=True)
    ours = nps.nll_loss(lp, t, reduction, ignore_index=-100, weight=cw)
    theirs = F.nll_loss(lpt, torch.tensor(t), weight=torch.tensor(cw), reduction=reduction)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-13, atol=1e-15)
    u = rng.standard_normal(ours.shape)
    ours.backward(u)
    theirs.backward(torch.tensor(u))
    np.testing.assert_allclose(lp.grad, lpt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_class_weights_are_keyword_only():
    # PyTorch's third positional argument is weight, npsoftmax's is reduction: a weight passed
    # by position after axis= used to be accepted silently.
    z, t = np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(TypeError, match="positional argument"):
        nps.cross_entropy(z, t, "sum", None, 0.0, None, np.ones(3))
    with pytest.raises(TypeError, match="positional argument"):
        nps.nll_loss(z, t, "sum", None, None, np.ones(3))
