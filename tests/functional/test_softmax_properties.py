"""Hypothesis properties of softmax, log_softmax and logsumexp, and agreement with SciPy."""

import numpy as np
import scipy.special as sp
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax as nps

EPS64 = np.finfo(np.float64).eps
EPS32 = np.finfo(np.float32).eps


def logits(dtype=np.float64, bound=1e3, min_dims=1, max_dims=3, min_side=1):
    """Finite logits of 1 to 3 dimensions, each side 1..6."""
    return hnp.arrays(
        dtype,
        hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=6),
        elements=st.floats(-bound, bound, width=np.dtype(dtype).itemsize * 8),
    )


@st.composite
def logits_and_axis(draw, dtype=np.float64, bound=1e3):
    x = draw(logits(dtype, bound))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    return x, axis


@given(logits_and_axis())
def test_softmax_agrees_with_scipy(xa):
    x, axis = xa
    # atol: a subnormal result may differ from SciPy's in its last (absolute) bit.
    tiny = np.finfo(np.float64).tiny
    np.testing.assert_allclose(
        nps.softmax(x, axis=axis), sp.softmax(x, axis=axis), rtol=1e-13, atol=tiny
    )


@given(logits_and_axis())
def test_log_softmax_agrees_with_scipy(xa):
    x, axis = xa
    expected = sp.log_softmax(x, axis=axis)
    # Relative where large, absolute where log_softmax is near zero (a max entry).
    np.testing.assert_allclose(nps.log_softmax(x, axis=axis), expected, rtol=1e-13, atol=1e-13)


@given(logits_and_axis(), st.booleans())
def test_logsumexp_agrees_with_scipy(xa, keepdims):
    x, axis = xa
    got = nps.logsumexp(x, axis=axis, keepdims=keepdims)
    expected = sp.logsumexp(x, axis=axis, keepdims=keepdims)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)


@given(logits(max_dims=3))
def test_tuple_and_none_axes_agree_with_scipy(x):
    axes = tuple(range(0, x.ndim, 2))
    tiny = np.finfo(np.float64).tiny  # a subnormal result may differ in its last bit
    for axis in (axes, None):
        np.testing.assert_allclose(
            nps.softmax(x, axis=axis), sp.softmax(x, axis=axis), rtol=1e-13, atol=tiny
        )
        np.testing.assert_allclose(
            nps.logsumexp(x, axis=axis), sp.logsumexp(x, axis=axis), rtol=1e-13, atol=1e-13
        )


@given(logits_and_axis(np.float32, bound=80.0))
def test_float32_within_a_few_ulps_of_float64(xa):
    # The float64 answer for the very same float32 input, rounded once to float32, is the
    # reference; compare in ulps of that reference (entries above float32's normal range).
    x, axis = xa
    ref = sp.softmax(x.astype(np.float64), axis=axis)
    y = nps.softmax(x, axis=axis)
    assert y.dtype == np.float32
    normal = ref > np.finfo(np.float32).tiny
    err_ulps = np.abs(y[normal] - ref[normal]) / np.spacing(ref[normal].astype(np.float32))
    assert err_ulps.max(initial=0) <= 4, err_ulps.max()
    lse = nps.logsumexp(x, axis=axis)
    lse_ref = sp.logsumexp(x.astype(np.float64), axis=axis)
    np.testing.assert_allclose(lse, lse_ref, rtol=4 * EPS32, atol=4 * EPS32)


@given(logits_and_axis())
def test_sums_to_one_and_non_negative(xa):
    x, axis = xa
    y = nps.softmax(x, axis=axis)
    n = x.shape[axis]
    assert np.all(y >= 0)
    np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=0, atol=4 * n * EPS64)
    y32 = nps.softmax(x.astype(np.float32), axis=axis)
    assert np.all(y32 >= 0)
    np.testing.assert_allclose(y32.sum(axis=axis, dtype=np.float64), 1.0, atol=4 * n * EPS32)


@given(logits_and_axis(), st.floats(-1e3, 1e3))
def test_shift_invariance(xa, c):
    x, axis = xa
    tol = 4 * EPS64 * (np.abs(x).max() + abs(c))
    np.testing.assert_allclose(nps.softmax(x + c, axis=axis), nps.softmax(x, axis=axis), atol=tol)
    np.testing.assert_allclose(
        nps.log_softmax(x + c, axis=axis), nps.log_softmax(x, axis=axis), atol=tol
    )
    np.testing.assert_allclose(
        nps.logsumexp(x + c, axis=axis), nps.logsumexp(x, axis=axis) + c, atol=tol
    )


@given(logits_and_axis())
def test_exp_log_softmax_is_softmax(xa):
    x, axis = xa
    np.testing.assert_allclose(
        np.exp(nps.log_softmax(x, axis=axis)), nps.softmax(x, axis=axis), rtol=1e-12, atol=1e-300
    )


@given(logits_and_axis())
def test_logsumexp_bounds(xa):
    # max <= lse <= max + log n
    x, axis = xa
    lse = nps.logsumexp(x, axis=axis)
    m = x.max(axis=axis)
    n = x.shape[axis]
    assert np.all(lse >= m - 4 * EPS64 * np.abs(m))
    assert np.all(lse <= m + np.log(n) + 4 * EPS64 * (np.abs(m) + np.log(n)))


@given(logits_and_axis())
def test_softmin_is_softmax_of_negation(xa):
    x, axis = xa
    np.testing.assert_array_equal(nps.softmin(x, axis=axis), nps.softmax(-x, axis=axis))


@given(logits_and_axis(bound=50.0))
def test_order_preserved(xa):
    x, axis = xa
    y = nps.softmax(x, axis=axis)
    xm, ym = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
    i = np.argsort(xm, axis=-1, kind="stable")
    assert np.all(np.diff(np.take_along_axis(ym, i, axis=-1), axis=-1) >= 0)


def entropy(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(-1)


@given(
    logits(bound=20.0, max_dims=2),
    st.floats(0.0, 20.0),
    st.floats(0.0, 20.0),
)
def test_scale_monotonicity(x, s1, s2):
    # For 0 <= s1 < s2: the largest probability does not fall and the entropy does not rise.
    assume(s1 != s2)
    s1, s2 = min(s1, s2), max(s1, s2)
    p1, p2 = nps.logit_scaled_softmax(x, s1), nps.logit_scaled_softmax(x, s2)
    tol = 1e-12
    assert np.all(p1.max(-1) <= p2.max(-1) + tol)
    assert np.all(entropy(p1) >= entropy(p2) - tol)
    # The mirror statement for temperature: a higher temperature is a smaller scale.
    assume(s1 > 1e-3)
    q1, q2 = nps.temp_softmax(x, 1 / s1), nps.temp_softmax(x, 1 / s2)
    assert np.all(q1.max(-1) <= q2.max(-1) + tol)
    assert np.all(entropy(q1) >= entropy(q2) - tol)


@given(logits_and_axis(bound=100.0), st.floats(-10.0, 10.0).filter(lambda s: abs(s) > 1e-3))
def test_scaled_variants_agree_with_scipy(xa, s):
    x, axis = xa
    expected = sp.softmax(s * x, axis=axis)
    np.testing.assert_allclose(nps.logit_scaled_softmax(x, s, axis=axis), expected, atol=1e-12)
    np.testing.assert_allclose(nps.norm_exp_softmax(x, s, axis=axis), expected, atol=1e-12)
    np.testing.assert_allclose(nps.temp_softmax(x, 1 / s, axis=axis), expected, atol=1e-12)
