"""Gradients of the core family: check_grads, the fused ops against composite twins, and the
Jacobian identities (shift invariance gives sum(dx) = 0; normalisation gives dx = 0 for a
constant upstream gradient)."""

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax as nps
from npsoftmax.testing import check_grads

RNG = np.random.default_rng(1234)
X23 = RNG.normal(size=(2, 3))
X234 = RNG.normal(size=(2, 3, 4))


def composite_softmax(x, axis=-1):
    """Textbook softmax over the primitives: the twin the fused op must match."""
    m = nps.tensor(np.max(x.data, axis=axis, keepdims=True))
    e = nps.exp(x - m)
    return e / nps.sum(e, axis=axis, keepdims=True)


def composite_log_softmax(x, axis=-1):
    m = nps.tensor(np.max(x.data, axis=axis, keepdims=True))
    return (x - m) - nps.log(nps.sum(nps.exp(x - m), axis=axis, keepdims=True))


def composite_logsumexp(x, axis=-1):
    m = nps.tensor(np.max(x.data, axis=axis, keepdims=True))
    return nps.log(nps.sum(nps.exp(x - m), axis=axis)) + nps.sum(m, axis=axis)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize(
    "f", [nps.softmax, nps.log_softmax, nps.logsumexp, nps.softmin], ids=lambda f: f.__name__
)
def test_check_grads_along_every_axis(backend, f, axis):
    check_grads(lambda x: f(x, axis=axis), X23)


@pytest.mark.parametrize("axis", [(0, 2), None])
def test_check_grads_tuple_and_none_axes(axis):
    for f in (nps.softmax, nps.log_softmax, nps.logsumexp):
        check_grads(lambda x, f=f: f(x, axis=axis), X234)


def test_check_grads_logsumexp_keepdims():
    check_grads(lambda x: nps.logsumexp(x, axis=1, keepdims=True), X234)


@pytest.mark.parametrize(
    ("fused", "twin"),
    [
        (nps.softmax, composite_softmax),
        (nps.log_softmax, composite_log_softmax),
        (nps.logsumexp, composite_logsumexp),
    ],
)
@pytest.mark.parametrize("axis", [0, -1])
def test_fused_matches_composite_twin(backend, fused, twin, axis):
    g = RNG.normal(size=fused(X234, axis=axis).shape)
    x1 = nps.tensor(X234, requires_grad=True)
    x2 = nps.tensor(X234, requires_grad=True)
    y1, y2 = fused(x1, axis=axis), twin(x2, axis=axis)
    np.testing.assert_allclose(y1.data, y2.data, rtol=1e-14, atol=1e-15)
    y1.backward(g)
    y2.backward(g)
    np.testing.assert_allclose(x1.grad, x2.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "f",
    [
        lambda x: nps.temp_softmax(x, 0.7),
        lambda x: nps.logit_scaled_softmax(x, -2.5),
        lambda x: nps.norm_exp_softmax(x, 3.0, axis=0),
    ],
)
def test_check_grads_scaled_wrt_x(f):
    check_grads(f, X23)


def test_check_grads_wrt_temperature_and_scale():
    x = nps.tensor(X23)
    check_grads(lambda t: nps.temp_softmax(x, t), np.array(0.8))
    check_grads(lambda s: nps.logit_scaled_softmax(x, s, axis=0), np.array(-1.7))
    check_grads(lambda x, t: nps.temp_softmax(x, t), X23, np.array(2.0))


def test_gradient_at_masked_entries():
    x = nps.tensor([[0.5, -np.inf, 1.0], [-np.inf, 2.0, -np.inf]], requires_grad=True)
    g = RNG.normal(size=(2, 3))
    masked = np.isneginf(x.data)
    nps.softmax(x).backward(g)
    assert np.all(np.isfinite(x.grad))
    np.testing.assert_array_equal(x.grad[masked], 0.0)
    # log_softmax_i = x_i - lse(x) has d/dx_i = 1 - p_i = 1 at a masked entry: g passes through.
    x.grad = None
    nps.log_softmax(x).backward(g)
    assert np.all(np.isfinite(x.grad))
    np.testing.assert_array_equal(x.grad[masked], g[masked])


def test_float32_gradients_stay_float32():
    x = nps.tensor(X23.astype(np.float32), requires_grad=True)
    for f in (nps.softmax, nps.log_softmax, nps.logsumexp, nps.softmin):
        x.grad = None
        f(x).sum().backward()
        assert x.grad.dtype == np.float32


def test_float16_tensor_gradient():
    x = nps.tensor(X23.astype(np.float16), requires_grad=True)
    y = nps.softmax(x)
    assert y.dtype == np.float16
    (y * nps.tensor(np.arange(3.0, dtype=np.float16))).sum().backward()
    assert x.grad.dtype == np.float16
    p = sp.softmax(X23.astype(np.float16).astype(np.float64), axis=-1)
    expected = p * (np.arange(3.0) - (p * np.arange(3.0)).sum(-1, keepdims=True))
    np.testing.assert_allclose(x.grad, expected, atol=2e-3)


rows = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
    elements=st.floats(-30, 30),
)


@given(rows, st.data())
def test_jacobian_identities(x, data):
    g = data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(-5, 5)))
    for f in (nps.softmax, nps.log_softmax):
        t = nps.tensor(x, requires_grad=True)
        f(t).backward(g)
        # Shift invariance: J 1 = 0, so every VJP sums to zero along the axis.
        np.testing.assert_allclose(t.grad.sum(-1), 0.0, atol=1e-12 * (1 + np.abs(g).sum()))
    # Normalisation: 1^T J = 0 for softmax, so a constant upstream gradient gives zero.
    t = nps.tensor(x, requires_grad=True)
    nps.softmax(t).backward(np.full(x.shape, 3.0))
    np.testing.assert_allclose(t.grad, 0.0, atol=1e-14)
    # logsumexp's gradient is softmax.
    t = nps.tensor(x, requires_grad=True)
    nps.logsumexp(t).sum().backward()
    np.testing.assert_allclose(t.grad, sp.softmax(x, axis=-1), rtol=1e-13)


def test_tensor_in_tensor_out_and_no_grad():
    x = nps.tensor(X23)
    for f in (nps.softmax, nps.log_softmax, nps.logsumexp, nps.softmin, nps.temp_softmax):
        y = f(x)
        assert isinstance(y, nps.Tensor) and not y.requires_grad
        assert isinstance(f(X23), np.ndarray)
    with nps.no_grad():
        assert not nps.softmax(nps.tensor(X23, requires_grad=True)).requires_grad


@pytest.mark.parametrize("f", [nps.softmax, nps.log_softmax, nps.logsumexp])
def test_extended_precision_backward_runs_on_the_numpy_kernels(f):
    # Numba has no long double: the fused ops' backward must take the NumPy twins, as forward does.
    x = nps.tensor(np.array([[1.0, 2.0, 0.5]], dtype=np.longdouble), requires_grad=True)
    y = f(x)
    (y * nps.tensor(np.ones(y.shape, dtype=np.longdouble))).sum().backward()
    assert x.grad.dtype == np.longdouble
    x64 = nps.tensor(x.data.astype(np.float64), requires_grad=True)
    y64 = f(x64)
    y64.sum().backward()
    np.testing.assert_allclose(x.grad.astype(np.float64), x64.grad, rtol=1e-14, atol=1e-16)
