"""online_softmax and unified_max_softmax: both equal softmax, by different normalisers."""

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax as nps
from npsoftmax.kernels import reference
from npsoftmax.testing import check_grads
from tests.naive import naive_rows, naive_softmax

RNG = np.random.default_rng(44)
X23 = RNG.normal(size=(2, 3))
TINY = np.finfo(np.float64).tiny


def assert_softmax_accuracy(y, x, shift=None, ulps=4):
    """``y`` is softmax(x) within ``ulps`` ulps of the 40-digit oracle, plus the conditioning.

    Rounding ``x - s`` (``s`` the row max, or a fixed ``shift``) to float64 costs a relative
    ``eps * |x - s|`` through exp, and the normaliser ``eps * sum(y * |x - s|)`` (the model of
    tests/kernels/_helpers.py); a sequential (online) sum of ``n`` terms adds ``n * eps``
    relative.  float32 rows are computed in float64, where all this is far below a float32 ulp.
    """
    x2 = np.atleast_2d(x).astype(np.float64)
    y2 = np.atleast_2d(np.asarray(y))
    exact = naive_rows(naive_softmax, x2)
    assert np.array_equal(np.isnan(y2), np.isnan(exact))
    pos = exact > 0  # (False on NaN rows)
    with np.errstate(invalid="ignore", over="ignore"):
        s = np.max(x2, axis=1, keepdims=True) if shift is None else shift
        d = np.where(pos, np.abs(x2 - s), 0.0)
        big_d = np.sum(np.where(pos, exact * d, 0.0), axis=1, keepdims=True)
        cond = np.where(pos, exact * (d + big_d + x2.shape[1]), 0.0)
    eps = np.finfo(np.float64).eps if y2.dtype == np.float64 else 0.0
    ok = ~np.isnan(exact)
    bound = ulps * np.spacing(np.abs(exact.astype(y2.dtype))).astype(np.float64)
    bound += eps * cond + TINY
    err = np.abs(y2.astype(np.float64) - exact)
    assert np.all(err[ok] <= bound[ok]), f"max excess {np.max((err - bound)[ok])}"


def rows(dtype=np.float64, bound=1e3):
    return hnp.arrays(
        dtype,
        st.tuples(st.integers(1, 4), st.integers(1, 40)),
        elements=st.floats(-bound, bound, width=np.dtype(dtype).itemsize * 8),
    )


# -- online_softmax -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_online_equals_the_oracle_to_a_few_ulps(backend, dtype, data):
    x = data.draw(rows(dtype))
    y = nps.online_softmax(x)
    assert y.dtype == dtype
    assert_softmax_accuracy(y, x)


@given(x=rows(), block=st.integers(1, 41))
def test_merge_order_invariance_of_the_reference_twin(x, block):
    # block changes how the running (max, sum) pairs are merged; the result must not move.
    out = reference.online_softmax_rows(x, np.empty_like(x), block=block)
    assert_softmax_accuracy(out, x)
    whole = reference.online_softmax_rows(x, np.empty_like(x), block=x.shape[1])
    np.testing.assert_allclose(out, whole, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize(
    "row, expected",
    [
        ([-np.inf, -np.inf, 0.0, 1.0], [0.0, 0.0, *sp.softmax([0.0, 1.0])]),
        ([-np.inf, -np.inf], [np.nan, np.nan]),
        ([np.inf, 1.0], [np.nan, np.nan]),
        ([1.0, np.nan], [np.nan, np.nan]),
        ([1e308, -1e308], [1.0, 0.0]),
    ],
)
def test_online_edge_policy_is_softmax_policy(backend, row, expected):
    x = np.array(row)
    np.testing.assert_array_equal(nps.online_softmax(x), expected)
    np.testing.assert_allclose(nps.online_softmax(x), nps.softmax(x), rtol=4 * 2.0**-52)


def test_online_axes_dtypes_and_empty(backend):
    x = RNG.normal(size=(3, 4, 5))
    for axis in (0, 1, -1, (0, 2), None):
        np.testing.assert_allclose(
            nps.online_softmax(x, axis=axis), sp.softmax(x, axis=axis), rtol=1e-14
        )
    assert nps.online_softmax(np.zeros((3, 0))).shape == (3, 0)
    assert nps.online_softmax(np.array([1, 2, 3])).dtype == np.float64
    h = nps.online_softmax(np.array([1.0, 2.0], dtype=np.float16))
    assert h.dtype == np.float16


def test_online_is_differentiable(backend):
    check_grads(nps.online_softmax, X23)
    check_grads(lambda x: nps.online_softmax(x, axis=0), X23)
    a, b = nps.tensor(X23, requires_grad=True), nps.tensor(X23, requires_grad=True)
    g = RNG.normal(size=X23.shape)
    nps.online_softmax(a).backward(g)
    nps.softmax(b).backward(g)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("shape", [(), (1,), (2, 3)])
def test_online_float16_gradient_is_float16(backend, shape):
    # A 0-d float16 Tensor used to reach the float32 kernel with a float16 g (and fail in Numba);
    # the gradient is softmax's, from SciPy's float64 softmax and its VJP y * (g - <g, y>).
    x = RNG.normal(size=shape).astype(np.float16)
    g = RNG.normal(size=shape).astype(np.float16)
    t = nps.tensor(x, requires_grad=True)
    nps.online_softmax(t).backward(g)
    assert t.grad.dtype == np.float16 and t.grad.shape == shape
    y = sp.softmax(np.atleast_1d(x).astype(np.float64), axis=-1)
    g64 = np.atleast_1d(g).astype(np.float64)
    expected = y * (g64 - np.sum(g64 * y, axis=-1, keepdims=True))
    np.testing.assert_allclose(t.grad, expected.reshape(shape), rtol=2e-3, atol=2e-3)


def test_online_kernel_twins_document_themselves():
    # The compiled twin's docstring was lost behind a statement placed above it.
    from npsoftmax.kernels import numba_cpu

    doc = numba_cpu.online_softmax_rows.__doc__
    assert doc is not None
    summary = reference.online_softmax_rows.__doc__.split("\n\n")[0]
    assert doc.split("\n\n")[0] == summary


# -- unified_max_softmax --------------------------------------------------------------------
def test_accepted_rows_need_no_fallback(backend):
    x = np.array([[5.0, 6.5, 7.0], [3.5, 8.9, 6.0]])
    y, n = nps.unified_max_softmax(x, phi=6.0)
    assert n == 0
    assert_softmax_accuracy(y, x, shift=6.0)


@pytest.mark.parametrize(
    "row, falls_back",
    [
        ([5.0, 9.5], True),  # above phi + b: could overflow
        ([5.0, 2.0], True),  # below phi + a: could underflow
        ([5.0, 9.0], True),  # the bounds themselves are outside (strict inequalities)
        ([5.0, -np.inf, 7.0], False),  # a -inf mask contributes exactly 0
        ([-np.inf, -np.inf], True),  # nothing in range: softmax's NaN
        ([5.0, np.nan], True),
        ([5.0, np.inf], True),
        ([1e308, -1e308], True),
    ],
)
def test_fallback_rule_and_exact_result(backend, row, falls_back):
    x = np.array(row)
    y, n = nps.unified_max_softmax(x, phi=6.0)
    assert n == int(falls_back)
    assert_softmax_accuracy(y, x, shift=None if falls_back else 6.0)


def test_zeta_example_is_not_dropped():
    # zeta's asynchronized_softmax gives [0.269, 0, 0.731, 0] here (variants.md section 7).
    x = np.array([1.0, -0.5, 2.0, 13.0])
    y, n = nps.unified_max_softmax(x, phi=6.0)
    assert n == 1
    np.testing.assert_allclose(y, sp.softmax(x), rtol=1e-14)
    assert y[3] > 0.9999


@given(
    x=rows(bound=20.0),
    phi=st.floats(-10, 10),
    ab=st.tuples(st.floats(-30, 0), st.floats(0.01, 30)),
)
def test_unified_max_equals_softmax_and_counts_fallbacks(x, phi, ab):
    a, b = ab
    y, n = nps.unified_max_softmax(x, phi=phi, a=a, b=b)
    np.testing.assert_allclose(y, sp.softmax(x, axis=-1), rtol=1e-13, atol=1e-300)
    d = x - phi
    assert n == int(np.sum(~np.all((d > a) & (d < b), axis=1)))


def test_unified_max_float32_axes_and_empty(backend):
    x = RNG.normal(size=(4, 3, 5)).astype(np.float32)
    for axis in (0, -1, (1, 2), None):
        y, _ = nps.unified_max_softmax(x, phi=0.0, axis=axis)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, sp.softmax(x.astype(np.float64), axis=axis), rtol=2e-7)
    y, n = nps.unified_max_softmax(np.zeros((3, 0)), phi=0.0)
    assert y.shape == (3, 0) and n == 0
    _, n = nps.unified_max_softmax(x, phi=0.0, a=-700.0, b=700.0)
    assert n == 0


def test_unified_max_is_differentiable():
    def f(x):
        y, _ = nps.unified_max_softmax(x, phi=0.5, a=-1.0, b=1.0)  # some rows fall back
        return y

    check_grads(f, X23)
    t = nps.tensor(X23, requires_grad=True)
    y, n = nps.unified_max_softmax(t, phi=0.0, a=-10.0, b=10.0)
    assert isinstance(y, nps.Tensor) and isinstance(n, int) and n == 0
    g = RNG.normal(size=X23.shape)
    y.backward(g)
    ref = nps.tensor(X23, requires_grad=True)
    nps.softmax(ref).backward(g)
    np.testing.assert_allclose(t.grad, ref.grad, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize(
    "kwargs, err, words",
    [
        ({"phi": np.inf}, ValueError, "phi"),
        ({"phi": np.nan}, ValueError, "phi"),
        ({"phi": "6"}, TypeError, "phi"),
        ({"phi": True}, TypeError, "phi"),
        ({"phi": 0.0, "a": 1.0, "b": 1.0}, ValueError, "a < b"),
        ({"phi": 0.0, "a": -800.0}, ValueError, "a=-800"),
        ({"phi": 0.0, "b": 710.0}, ValueError, "b=710"),
        ({"phi": 0.0, "b": np.nan}, ValueError, "b must be"),
    ],
)
def test_unified_max_bad_arguments(kwargs, err, words):
    with pytest.raises(err, match=words):
        nps.unified_max_softmax(X23, **kwargs)


def test_unified_max_recomputes_a_row_whose_sum_overflows():
    # Every entry is in range (x - phi = 709 < b), so each e^709 ~ 8.2e307 is finite, but three
    # of them sum past the float64 maximum ~ 1.8e308: the row must be recomputed (equal
    # entries: 1/3 each), not divided by an infinite sum (which gives zeros).
    x = np.full((1, 3), 709.0)
    assert np.isfinite(np.exp(x)).all()
    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(x).sum())
    y, n = nps.unified_max_softmax(x, phi=0.0, b=709.5)
    np.testing.assert_allclose(y, np.full((1, 3), 1 / 3), rtol=4 * np.finfo(float).eps)
    assert n == 1
    # Two such entries sum to ~1.6e308, finite: the unsynchronised path serves them.
    y, n = nps.unified_max_softmax(x[:, :2], phi=0.0, b=709.5)
    np.testing.assert_allclose(y, np.full((1, 2), 0.5), rtol=4 * np.finfo(float).eps)
    assert n == 0
