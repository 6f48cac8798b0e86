"""softmin, temp_softmax, logit_scaled_softmax and norm_exp_softmax: values, policy, errors."""

import warnings

import numpy as np
import pytest
import scipy.special as sp

import npsoftmax as nps

SCALED = [nps.logit_scaled_softmax, nps.norm_exp_softmax]


@pytest.mark.parametrize("f", SCALED)
def test_stable_where_the_naive_formula_overflows(f):
    # zeta's norm_exp_softmax gives NaN for each of these (its documentation promises stability).
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        np.testing.assert_array_equal(f(np.array([1000.0, 0.0])), [1.0, 0.0])
        np.testing.assert_array_equal(f(np.array([1e308, 0.0]), 10.0), [1.0, 0.0])
        np.testing.assert_array_equal(f(np.array([1e308, 0.0]), -10.0), [0.0, 1.0])
        np.testing.assert_allclose(
            f(np.array([-200.0, -210.0])), sp.softmax(np.array([10.0, 0.0])), rtol=1e-15
        )
        y = f(np.array([1.0, 2.0], dtype=np.float32), 100.0)
        assert y.dtype == np.float32 and np.all(np.isfinite(y))


def test_temperature_extremes():
    x = np.array([3e38, -3e38], dtype=np.float32)
    np.testing.assert_array_equal(nps.temp_softmax(x, 1e-3), [1.0, 0.0])
    np.testing.assert_allclose(nps.temp_softmax(np.array([1.0, 2.0, 3.0]), 1e300), 1 / 3)


def test_scale_zero_is_uniform_and_keeps_masks():
    np.testing.assert_allclose(nps.logit_scaled_softmax(np.array([1.0, 5.0, 9.0]), 0.0), 1 / 3)
    y = nps.logit_scaled_softmax(np.array([1.0, -np.inf, 9.0]), 0.0)
    np.testing.assert_allclose(y, [0.5, 0.0, 0.5])


@pytest.mark.parametrize("s", [0.5, 2.0, -3.0])
def test_masks_get_probability_zero_at_any_scale(s):
    x = np.array([[1.0, -np.inf, 2.0], [-np.inf, -np.inf, 0.5]])
    y = nps.logit_scaled_softmax(x, s)
    np.testing.assert_allclose(y[0, [0, 2]], sp.softmax(s * np.array([1.0, 2.0])), rtol=1e-15)
    np.testing.assert_array_equal(y[:, 1], 0.0)
    np.testing.assert_allclose(y[1], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(nps.temp_softmax(x, 1 / s), y, rtol=1e-14)


def test_negative_scale_reverses_order():
    x = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(nps.logit_scaled_softmax(x, -1.0), nps.softmin(x), rtol=1e-15)
    np.testing.assert_allclose(nps.temp_softmax(x, -1.0), nps.softmin(x), rtol=1e-15)


def test_softmin_edges():
    np.testing.assert_array_equal(nps.softmin(np.array([np.inf, 1.0])), [0.0, 1.0])
    assert np.all(np.isnan(nps.softmin(np.array([-np.inf, 1.0]))))
    assert nps.softmin(np.array([True, False])).dtype == np.float64
    np.testing.assert_allclose(
        nps.softmin(np.array([1, 2], dtype=np.uint8)), sp.softmax([-1.0, -2.0]), rtol=1e-15
    )


def test_dtypes_kept():
    x32 = np.array([1.0, 2.0], dtype=np.float32)
    for f in (nps.softmin, nps.temp_softmax, nps.logit_scaled_softmax, nps.norm_exp_softmax):
        assert f(x32).dtype == np.float32
        assert f(nps.tensor(x32)).dtype == np.float32
    assert nps.temp_softmax(x32, np.float64(2.0)).dtype == np.float32
    assert nps.temp_softmax(np.array([1, 2]), 2.0).dtype == np.float64


@pytest.mark.parametrize("bad", [0.0, -0.0, np.inf, -np.inf, np.nan])
def test_bad_temperature(bad):
    with pytest.raises(ValueError, match="temperature must be a finite, non-zero number"):
        nps.temp_softmax(np.array([1.0, 2.0]), bad)
    with pytest.raises(ValueError, match="temperature"):
        nps.temp_softmax(np.array([1.0, 2.0]), nps.tensor(bad))


@pytest.mark.parametrize("f", SCALED)
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_bad_scale(f, bad):
    with pytest.raises(ValueError, match="scale must be a finite number"):
        f(np.array([1.0, 2.0]), bad)


def test_scale_type_and_shape_errors():
    with pytest.raises(TypeError, match="scale must be a real number"):
        nps.logit_scaled_softmax(np.array([1.0]), "2")
    with pytest.raises(TypeError, match="temperature must be a real number"):
        nps.temp_softmax(np.array([1.0]), True)
    with pytest.raises(ValueError, match=r"single real number .* shape \(2,\)"):
        nps.temp_softmax(np.array([1.0, 2.0]), np.array([1.0, 2.0]))


def test_tensor_in_tensor_out_with_learnable_temperature():
    x = nps.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    t = nps.tensor(1.5, requires_grad=True)
    y = nps.temp_softmax(x, t)
    assert isinstance(y, nps.Tensor) and y.requires_grad
    y[0, 2].backward()
    # d y_2 / d T = -<x, v> / T^2 with v = y * (e_2 - y_2), computed here from SciPy's softmax.
    p = sp.softmax(np.array([1.0, 2.0, 3.0]) / 1.5)
    v = p * (np.eye(3)[2] - p[2])
    np.testing.assert_allclose(t.grad, -np.dot([1.0, 2.0, 3.0], v) / 1.5**2, rtol=1e-12)
    np.testing.assert_allclose(x.grad[0], v / 1.5, rtol=1e-12)


def test_learnable_scale_gradient_is_finite_with_masks():
    x = nps.tensor([[1.0, -np.inf, 3.0]])
    s = nps.tensor(2.0, requires_grad=True)
    nps.logit_scaled_softmax(x, s)[0, 0].backward()
    p = sp.softmax(2.0 * np.array([1.0, 3.0]))
    v = p * (np.array([1.0, 0.0]) - p[0])
    np.testing.assert_allclose(s.grad, np.dot([1.0, 3.0], v), rtol=1e-12)


def test_integer_tensors_are_promoted_before_any_arithmetic():
    # softmin of uint8 [0, 1, 2] negates first: without promotion -x wraps around to [0, 255, 254].
    want = sp.softmax(-np.array([0.0, 1.0, 2.0]))
    got = nps.softmin(nps.tensor(np.array([0, 1, 2], dtype=np.uint8)))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.data, want, rtol=1e-15)
    got = nps.temp_softmax(nps.tensor(np.array([True, False])), 0.5)
    np.testing.assert_allclose(got.data, sp.softmax([2.0, 0.0]), rtol=1e-15)
    got = nps.logit_scaled_softmax(nps.tensor(np.array([3, -7], dtype=np.int64)), 2.0)
    np.testing.assert_allclose(got.data, sp.softmax([6.0, -14.0]), rtol=1e-15)


@pytest.mark.parametrize("axis", [0, -1])
def test_a_one_element_tensor_factor_of_any_shape_acts_as_a_scalar(axis):
    x = np.array([1.0, 2.0, 3.0])
    t = nps.tensor([[2.0]], requires_grad=True)
    y = nps.temp_softmax(x, t, axis=axis)
    assert y.shape == x.shape  # not broadcast to (1, 3), nor normalised along the wrong axis
    np.testing.assert_allclose(y.data, sp.softmax(x / 2.0), rtol=1e-15)
    y[2].backward()
    t0 = nps.tensor(2.0, requires_grad=True)
    nps.temp_softmax(x, t0)[2].backward()
    assert t.grad.shape == (1, 1)
    np.testing.assert_allclose(t.grad[0, 0], t0.grad, rtol=1e-15)
    s = nps.tensor([0.5], requires_grad=True)
    np.testing.assert_allclose(nps.logit_scaled_softmax(x, s).data, sp.softmax(0.5 * x), rtol=1e-15)
