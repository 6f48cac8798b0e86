"""The seed library's names: standard/fast/selu/mm/taylor softmax, against closed forms."""

import math

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax as nps
from npsoftmax.testing import check_grads

RNG = np.random.default_rng(3)
X23 = RNG.normal(size=(2, 3))
Y23 = RNG.normal(size=(2, 3))
LAMBDA, ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717


def finite(bound=100.0):
    return hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 6)),
        elements=st.floats(-bound, bound),
    )


def selu_closed_form(x):
    return np.where(x > 0, LAMBDA * x, LAMBDA * ALPHA * np.expm1(np.minimum(x, 0)))


def taylor_closed_form(x, order):
    f = sum(x**k / math.factorial(k) for k in range(order + 1))
    return f / f.sum(axis=-1, keepdims=True)


# -- standard_softmax, fast_softmax ---------------------------------------------------------
@pytest.mark.parametrize("f", [nps.standard_softmax, nps.fast_softmax])
def test_row_wise_unlike_zeta(f):
    x = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(f(x), sp.softmax(x, axis=-1), rtol=1e-15)
    np.testing.assert_allclose(f(x).sum(axis=-1), 1.0)
    np.testing.assert_allclose(f(x, axis=0), sp.softmax(x, axis=0), rtol=1e-15)
    check_grads(f, X23)


def test_fast_softmax_axis_none_is_zetas_global_normalisation():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(nps.fast_softmax(x, axis=None), sp.softmax(x), rtol=1e-15)


# -- selu_softmax ---------------------------------------------------------------------------
def test_selu_softmax_golden_and_input_untouched():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(nps.selu_softmax(x), [0.0346, 0.1052, 0.8602], atol=5e-5)
    np.testing.assert_array_equal(x, [-1.0, 0.0, 2.0])  # zeta's version overwrites it
    t = nps.tensor(x, requires_grad=True)
    nps.selu_softmax(t).backward(np.array([1.0, 0.0, 0.0]))
    np.testing.assert_array_equal(t.data, [-1.0, 0.0, 2.0])


@given(finite())
def test_selu_softmax_is_softmax_of_selu(x):
    expected = sp.softmax(selu_closed_form(x), axis=-1)
    np.testing.assert_allclose(nps.selu_softmax(x), expected, rtol=1e-12, atol=1e-300)


def test_selu_softmax_neg_inf_is_a_mask():
    # selu(-inf) = -lambda * alpha would give -inf the floor probability; the library-wide
    # convention (docs/compat.md) makes it a mask instead.
    x = np.array([[0.0, -np.inf, 1.5], [-np.inf, -np.inf, -np.inf]])
    y = nps.selu_softmax(x)
    np.testing.assert_allclose(y[0], [*sp.softmax(selu_closed_form(np.array([0.0, 1.5])))[:1],
                                      0.0, sp.softmax(selu_closed_form(np.array([0.0, 1.5])))[1]],
                               rtol=1e-15)  # fmt: skip
    assert np.all(np.isnan(y[1]))  # only masks: NaN, as softmax
    np.testing.assert_array_equal(nps.selu_softmax(np.array([0.0, -np.inf])), [1.0, 0.0])
    t = nps.tensor(x[:1], requires_grad=True)
    nps.selu_softmax(t).backward(np.array([[1.0, 5.0, -2.0]]))
    assert t.grad[0, 1] == 0.0 and np.all(np.isfinite(t.grad))  # selu'(-inf) * 0 is not NaN
    check_grads(nps.selu_softmax, np.array([[0.3, -np.inf, -1.2, 2.0]]))


def test_selu_softmax_gradients_and_no_shift_invariance():
    check_grads(nps.selu_softmax, X23)
    x = np.array([-2.0, -0.5, 1.0])  # negative entries: selu is not affine there
    assert not np.allclose(nps.selu_softmax(x), nps.selu_softmax(x + 1.0))


# -- mm_softmax -----------------------------------------------------------------------------
@given(finite(10.0), st.floats(-3, 3), st.floats(-3, 3), st.floats(0.1, 5))
def test_mm_softmax_closed_form(x, w1, w2, temp):
    y = RNG.normal(size=x.shape)
    expected = sp.softmax(w1 * w2 * x * y / temp, axis=-1)
    np.testing.assert_allclose(
        nps.mm_softmax(x, y, w1, w2, temp), expected, rtol=1e-11, atol=1e-300
    )


def test_mm_softmax_broadcasts_and_differentiates_both_inputs():
    y_row = RNG.normal(size=(3,))
    out = nps.mm_softmax(X23, y_row, weight=2.0, temp=0.5)
    np.testing.assert_allclose(out, sp.softmax(4.0 * X23 * y_row, axis=-1), rtol=1e-14)
    check_grads(lambda a, b: nps.mm_softmax(a, b, 1.5, 0.5, 0.7), X23, Y23)
    check_grads(lambda a, b: nps.mm_softmax(a, b, axis=0), X23, y_row)
    check_grads(lambda a, w: nps.mm_softmax(a, Y23, weight=w), X23, np.array(1.3))


def test_mm_softmax_tiny_weight_with_huge_products():
    # 1e308 * 1 - (-1e308 * 1) overflows; scaled by 1e-308 it is [1, -1].
    y = nps.mm_softmax(np.array([1e308, -1e308]), np.ones(2), weight=1e-308)
    np.testing.assert_allclose(y, sp.softmax([1.0, -1.0]), rtol=1e-15)


def test_mm_softmax_large_products_do_not_overflow():
    # Scaled products [1e301, 10]: the first logit exceeds the second by ~1e301, so its
    # probability is exactly 1 and the other's exp(-1e301) underflows to exactly 0.
    y = nps.mm_softmax(np.array([1e200, 1.0]), np.array([1e100, 1.0]), weight=10.0)
    np.testing.assert_array_equal(y, [1.0, 0.0])
    # Products [1e300, 0] scaled by 1e-300 are the logits [1, 0]: softmax = [expit(1), expit(-1)].
    y = nps.mm_softmax(np.array([1e200, 0.0]), np.array([1e100, 1.0]), weight=1e-300)
    np.testing.assert_allclose(y, [sp.expit(1.0), sp.expit(-1.0)], rtol=1e-14)


@pytest.mark.parametrize(
    "kwargs, err, words",
    [
        ({"temp": 0.0}, ValueError, "temp must be a finite, non-zero number, got 0.0"),
        ({"temp": np.inf}, ValueError, "temp"),
        ({"weight": np.nan}, ValueError, "weight must be a finite number"),
        ({"weight2": "2"}, TypeError, "weight2"),
        ({"weight": np.ones(2)}, ValueError, "weight must be a single"),
    ],
)
def test_mm_softmax_bad_arguments(kwargs, err, words):
    with pytest.raises(err, match=words):
        nps.mm_softmax(X23, Y23, **kwargs)


# -- taylor_softmax -------------------------------------------------------------------------
def test_taylor_softmax_goldens():
    np.testing.assert_allclose(nps.taylor_softmax(np.array([0.0, 1.0])), [2 / 7, 5 / 7])
    np.testing.assert_allclose(nps.taylor_softmax(np.array([-3.0, -1.0])), [5 / 6, 1 / 6])
    # Not shift invariant: [10, 11] gives [0.457, 0.543], not [0.286, 0.714].
    f = np.array([61.0, 72.5])  # 1 + x + x^2 / 2 at 10 and 11
    np.testing.assert_allclose(nps.taylor_softmax(np.array([10.0, 11.0])), f / f.sum())


@pytest.mark.parametrize("order", [2, 4, 6])
@given(x=finite(30.0))
def test_taylor_softmax_closed_form(order, x):
    y = nps.taylor_softmax(x, order=order)
    np.testing.assert_allclose(y, taylor_closed_form(x, order), rtol=1e-12)
    assert np.all(y > 0)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-14)


def test_taylor_softmax_huge_inputs_and_edges():
    y = nps.taylor_softmax(np.array([1e200, 1e199, -1e200]))
    np.testing.assert_allclose(y, np.array([100.0, 1.0, 100.0]) / 201.0, rtol=1e-14)
    x = np.array([[np.inf, 0.0], [np.nan, 0.0], [-np.inf, -np.inf]])
    assert np.all(np.isnan(nps.taylor_softmax(x)))
    # -inf is a mask (probability 0), as everywhere: test_taylor.py has the rest.
    np.testing.assert_array_equal(nps.taylor_softmax(np.array([-np.inf, 0.0])), [0.0, 1.0])
    assert nps.taylor_softmax(np.zeros((2, 0))).shape == (2, 0)
    assert nps.taylor_softmax(np.array([1.0, 2.0], dtype=np.float32)).dtype == np.float32


@pytest.mark.parametrize("order", [2, 4])
def test_taylor_softmax_gradients(order):
    check_grads(lambda t: nps.taylor_softmax(t, order=order), X23 * 3)
    check_grads(lambda t: nps.taylor_softmax(t, order=order, axis=0), X23)
    t = nps.tensor(X23, requires_grad=True)
    nps.taylor_softmax(t, order=order).backward(np.ones(X23.shape))
    np.testing.assert_allclose(t.grad, 0.0, atol=1e-15)  # outputs sum to a constant
    t = nps.tensor(X23, requires_grad=True)
    nps.taylor_softmax(t, order=order).backward(RNG.normal(size=X23.shape))
    assert np.any(np.abs(t.grad.sum(axis=-1)) > 1e-6)  # not shift invariant


@pytest.mark.parametrize(
    "order, err, words",
    [
        (1, ValueError, "positive even integer .* got 1"),
        (3, ValueError, "got 3"),
        (0, ValueError, "got 0"),
        (-2, ValueError, "got -2"),
        (2.0, TypeError, "integer"),
        (True, TypeError, "integer"),
    ],
)
def test_taylor_softmax_bad_order(order, err, words):
    with pytest.raises(err, match=words):
        nps.taylor_softmax(X23, order=order)


def test_mm_softmax_promotes_integers_before_the_product():
    x, y = np.array([16, 0], dtype=np.uint8), np.array([16, 1], dtype=np.uint8)
    # 16 * 16 = 256 would wrap around to 0 in uint8.
    np.testing.assert_allclose(nps.mm_softmax(x, y), sp.softmax([256.0, 0.0]), rtol=1e-15)


def test_taylor_softmax_orders_past_the_float_factorials():
    # 171! is past the largest float64: the terms 1 / k! must underflow to 0, not raise.
    x = np.array([0.5, -1.0, 2.0])
    y = nps.taylor_softmax(x, order=200)
    np.testing.assert_allclose(y, sp.softmax(x), rtol=1e-14)  # the series has converged to exp
