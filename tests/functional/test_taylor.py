"""taylor_softmax at high orders and large inputs, against mpmath, and its mask policy.

Oracle: the Taylor polynomial summed exactly in mpmath with enough digits to absorb the
cancellation of the alternating terms (``f_n(|x|) / f_n(x) <= e^(2|x|)``), then normalised.
Skipped without mpmath; the closed-form tests of low orders live in ``test_seed.py``.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax as nps
from npsoftmax.testing import check_grads

mpmath = pytest.importorskip("mpmath")


def mp_taylor(v: float, n: int):
    """``sum_{k<=n} v^k / k!`` in mpmath (the terms by recurrence: exact to the working digits)."""
    v = mpmath.mpf(float(v))
    term = total = mpmath.mpf(1)
    for k in range(1, n + 1):
        term = term * v / k
        total += term
    return total


def digits_for(row, n: int) -> int:
    """Decimal digits enough to absorb the cancellation: 30 plus log10(e^(2|x|)) for |x| < 2n
    (beyond, the terms shrink geometrically below the last one and cancel at most 4-fold)."""
    need = [2 * abs(float(v)) / math.log(10) for v in row if abs(float(v)) < 2 * n]
    return 31 + math.ceil(max(need, default=0.0))


def mp_softmax(row, n: int) -> np.ndarray:
    with mpmath.workdps(digits_for(row, n)):
        f = [mp_taylor(v, n) for v in row]
        s = sum(f)
        return np.array([float(fi / s) for fi in f])


def mp_vjp(row, g, n: int) -> tuple[np.ndarray, float]:
    """``dx = f_{n-1}(x) / S * (g - <g, y>)`` in mpmath, and the natural scale of its entries."""
    with mpmath.workdps(digits_for(row, n)):
        f = [mp_taylor(v, n) for v in row]
        df = [mp_taylor(v, n - 1) for v in row]
        s = sum(f)
        gm = [mpmath.mpf(float(gi)) for gi in g]
        dot = sum(gi * fi / s for gi, fi in zip(gm, f))
        dx = np.array([float(d / s * (gi - dot)) for d, gi in zip(df, gm)])
        scale = float(max(abs(d / s) for d in df)) * float(max(abs(gi) for gi in gm))
    return dx, scale


CASES = [
    # The review's reproducers: every term under- or overflows, the old 0 / 0.
    ([50.0, 49.0], 204, [0.7311, 0.2689]),
    ([1.0, 2.0], 2000, [0.2689, 0.7311]),
    # The last orders with a finite 1/k!, and past them.
    ([0.5, -1.0, 2.0], 170, None),
    ([0.5, -1.0, 2.0], 172, None),
    ([-5.0, 5.0, 0.5, -0.5], 170, None),
    ([1000.0, 999.0], 170, None),
    ([300.0, 299.0], 180, None),
    ([20.0, 19.0], 1000, None),
    ([1e-3, 2e-3], 300, None),
    # Large |x|: x^2 / 2 overflows beyond 1.9e154, 1e5^2000 everywhere.
    ([1e200, 1e199, -1e200], 2, [100 / 201, 1 / 201, 100 / 201]),
    ([-1e5, 1e5], 4, None),
    ([1e5, 0.999e5], 2000, None),
    ([-1e5, -0.99e5, 0.0], 2000, None),
    ([-3000.0, -2999.0], 2000, None),
    # Negative entries whose alternating terms cancel (the series of positive terms).
    ([-20.0, -19.0], 100, None),
    ([-30.0, -25.0, -40.0], 60, None),
    ([-50.0, -49.0, 3.0], 204, None),
    ([-2.0, -1.9], 4, None),
    ([-700.0, -699.5], 2000, None),
    ([-1.0, -1.5], 2, None),
    ([0.0, 0.0, 0.0], 2000, None),
]


@pytest.mark.parametrize("row, order, golden", CASES)
def test_matches_mpmath(row, order, golden):
    y = nps.taylor_softmax(np.array(row), order=order)
    want = mp_softmax(row, order)
    # The logarithms of the terms reach order * log|x|: a few ulps of them at order 2000.
    np.testing.assert_allclose(y, want, rtol=5e-12 if order > 204 else 2e-13, atol=0)
    assert np.all(y >= 0)
    if golden is not None:
        np.testing.assert_allclose(y, golden, atol=1e-4)  # the review's 4-digit values


@pytest.mark.parametrize("order", [1, 171, 2001])
def test_odd_orders_are_refused(order):
    with pytest.raises(ValueError, match=f"positive even integer .* got {order}"):
        nps.taylor_softmax(np.array([1.0, 2.0]), order=order)


@pytest.mark.parametrize(
    "row, order",
    [([50.0, 49.0, -3.0], 204), ([1.0, 2.0, -0.5], 2000), ([-20.0, -19.0, 4.0], 100),
     ([-700.0, -699.5], 2000), ([-2.0, -1.9, 0.3], 4), ([1e5, -0.99e5], 2000)],
)  # fmt: skip
def test_gradient_matches_mpmath(row, order):
    g = np.array([0.7, -1.3, 0.4][: len(row)])
    t = nps.tensor(np.array(row), requires_grad=True)
    nps.taylor_softmax(t, order=order).backward(g)
    want, scale = mp_vjp(row, g, order)
    # dx = f'/S * (g - <g, y>) cancels in (g - <g, y>): errors are relative to its scale.
    np.testing.assert_allclose(t.grad, want, rtol=0, atol=5e-12 * scale)


@pytest.mark.parametrize("order", [170, 204])
def test_check_grads_at_high_orders(order):
    x = np.array([[3.0, -2.5, 0.7], [-8.0, -7.5, 1.0]])
    check_grads(lambda t: nps.taylor_softmax(t, order=order), x)


@given(
    x=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 3), st.integers(1, 4)),
        elements=st.floats(-60, 60, allow_subnormal=False),
    ),
    order=st.sampled_from([2, 4, 10, 40, 100, 170, 172, 204]),
)
def test_property_against_mpmath(x, order):
    y = nps.taylor_softmax(x, order=order)
    for row, got in zip(x, y):
        np.testing.assert_allclose(got, mp_softmax(row, order), rtol=2e-13, atol=1e-300)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-14)


def test_float32_at_high_order():
    x = np.array([50.0, 49.0], dtype=np.float32)
    y = nps.taylor_softmax(x, order=204)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, mp_softmax(x, 204), rtol=1e-6)
    t = nps.tensor(x, requires_grad=True)
    nps.taylor_softmax(t, order=204)[0].backward()
    assert t.grad.dtype == np.float32 and np.all(np.isfinite(t.grad))


@pytest.mark.parametrize("order", [2, 4, 204])
def test_neg_inf_is_a_mask(order):
    x = np.array([[0.5, -np.inf, -2.0], [-np.inf, 3.0, -np.inf]])
    y = nps.taylor_softmax(x, order=order)
    np.testing.assert_allclose(y[0, [0, 2]], mp_softmax([0.5, -2.0], order), rtol=1e-13)
    np.testing.assert_array_equal(y[:, 1], [0.0, 1.0])
    np.testing.assert_array_equal(y[[0, 1, 1], [1, 0, 2]], 0.0)
    t = nps.tensor(x, requires_grad=True)
    y = nps.taylor_softmax(t, order=order)
    # g = d log y is +inf on the masks, where y = 0: the mask still gets exactly 0.
    nps.log(y[0]).sum().backward()
    assert t.grad[0, 1] == 0.0 and np.all(np.isfinite(t.grad))
    want, _ = mp_vjp([0.5, -2.0], 1 / mp_softmax([0.5, -2.0], order), order)
    np.testing.assert_allclose(t.grad[0, [0, 2]], want, rtol=1e-12)


def test_rows_without_an_answer_are_nan():
    x = np.array([[np.inf, 0.0], [np.nan, 0.0], [-np.inf, -np.inf], [1.0, -np.inf]])
    y = nps.taylor_softmax(x, order=4)
    assert np.all(np.isnan(y[:3]))
    np.testing.assert_array_equal(y[3], [1.0, 0.0])
    t = nps.tensor(x, requires_grad=True)
    nps.taylor_softmax(t, order=4).backward(np.ones(x.shape))
    assert np.all(np.isnan(t.grad[:3])) and np.all(t.grad[3] == 0.0)
    assert nps.taylor_softmax(np.zeros((0, 3)), order=2000).shape == (0, 3)


@pytest.mark.parametrize("big", [3e149, -3e149, 3e150, -3e150])
def test_order_two_on_both_sides_of_the_direct_limit(big):
    # Order 2 is computed directly below |x| = 1e150 and in log space above: both agree with
    # mpmath, in value and (through check_grads) in gradient.
    row = np.array([big, 1.0, -2.5, -np.inf])
    y = nps.taylor_softmax(row)
    np.testing.assert_allclose(y[:3], mp_softmax(row[:3], 2), rtol=1e-12, atol=0)
    assert y[3] == 0.0  # the mask
    small = np.array([[0.3, -1.0, 2.0], [-4.0, 0.0, 0.5]])
    check_grads(lambda t: nps.taylor_softmax(t), small)
