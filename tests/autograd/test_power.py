"""power with a constant scalar exponent: gradients at 0, NumPy scalars and dtypes, any real
exponent (Python ints too large for int64, Fractions) as np.power takes it, and refusals."""

import warnings
from fractions import Fraction

import numpy as np
import pytest

import npsoftmax as nps


def test_power_zero_exponent_has_zero_gradient_even_at_zero():
    x = nps.tensor([0.0, 2.0], requires_grad=True)
    nps.power(x, 0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


def test_power_half_at_zero_has_an_infinite_gradient_without_warning():
    x = nps.tensor([0.0, 4.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nps.power(x, 0.5).sum().backward()
    np.testing.assert_array_equal(x.grad, [np.inf, 0.25])


def test_power_takes_numpy_scalars_and_keeps_float32():
    x = nps.tensor([2.0], dtype=np.float32)
    assert nps.power(x, np.float64(2.0)).dtype == np.float32
    assert nps.power(np.float32([2.0]), np.array(3)).dtype == np.float32


@pytest.mark.parametrize("exponent", [2**70, -(2**70), 2**64 + 1, Fraction(1, 2), np.int64(3)])
def test_power_takes_any_real_scalar_like_np_power(exponent):
    x = np.array([0.5, 1.0, 1.0000001, 2.0])
    t = nps.tensor(x, requires_grad=True)
    with np.errstate(all="ignore"):
        expected = np.power(x, float(exponent) if isinstance(exponent, Fraction) else exponent)
        slope = float(exponent) * np.power(x, float(exponent) - 1)
    y = nps.power(t, exponent)
    np.testing.assert_array_equal(y.data, expected)
    y.backward(np.ones(4))
    np.testing.assert_allclose(t.grad, slope, rtol=1e-15)


def test_a_huge_exponent_keeps_float16_gradients_finite_where_they_underflow():
    # 2**70 is inf in float16; in float32 the derivative at 0.5 underflows to 0, not inf * 0.
    t = nps.tensor(np.float16([0.5, 1.0]), requires_grad=True)
    y = nps.power(t, 2**70)
    with np.errstate(over="ignore"):  # NumPy warns as it casts 2**70 to float16
        np.testing.assert_array_equal(y.data, np.power(t.data, 2**70))
    y.sum().backward()
    np.testing.assert_array_equal(t.grad, np.float16([0.0, np.inf]))


@pytest.mark.parametrize(
    "exponent", [nps.tensor(2.0), np.array([2.0, 3.0]), "2", True, np.bool_(False), 1j, None]
)
def test_power_refuses_a_non_scalar_exponent(exponent):
    with pytest.raises(TypeError, match="power: the exponent must be"):
        nps.power(nps.tensor([1.0, 2.0]), exponent)


def test_tensor_to_a_tensor_power_is_refused():
    x = nps.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="Tensor"):
        x ** nps.tensor(2.0)
