"""softmin, temp_softmax, logit_scaled_softmax and norm_exp_softmax: values, policy, errors."""

import warnings

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

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


# -- x - max overflows, the scaled difference does not ---------------------------------------
def test_scaled_difference_in_range_when_the_shift_overflows():
    x = np.array([1e308, -1e308])  # x - max = -inf, but x / 1e308 = [1, -1]
    want = sp.softmax([1.0, -1.0])
    np.testing.assert_allclose(nps.temp_softmax(x, 1e308), want, rtol=1e-15)
    np.testing.assert_allclose(nps.temp_softmax(x, -1e308), want[::-1], rtol=1e-15)
    for f in SCALED:
        np.testing.assert_allclose(f(x, 1e-308), want, rtol=1e-15)
        np.testing.assert_allclose(f(x, -1e-308), want[::-1], rtol=1e-15)
    x32 = np.array([3e38, -3e38], dtype=np.float32)
    for t, z in [(1e38, 3.0), (3e38, 1.0)]:
        y = nps.temp_softmax(x32, t)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, sp.softmax([z, -z]), rtol=1e-6)
    # Masks and the Tensor path take the same route.
    y = nps.temp_softmax(nps.tensor([1e308, -np.inf, -1e308]), 1e308)
    np.testing.assert_allclose(y.data, [want[0], 0.0, want[1]], rtol=1e-15)


@given(
    x=hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-1e3, 1e3)),
    s=st.floats(-50, 50),
    k=st.integers(0, 1000),
)
def test_power_of_two_rescaling_is_exact(x, s, k):
    # softmax(s x) = softmax((s / 2^k) (2^k x)): both products are exact, so the value must not
    # depend on k although x * 2^k - max overflows for k near 1000.
    big = x * 2.0**k
    # Keep s / 2^k a normal number and 2^k / s finite, so that both factors are exact.
    assume(np.all(np.isfinite(big)) and (s == 0 or abs(s) >= 1e-3))
    # The oracle shifts before scaling (sp.softmax(s * x) rounds s * x at its own magnitude, up
    # to 5e4 here, which moves exp(z) by 1e-12 where z = s (x - m) is only -700).
    want = sp.softmax(s * (x - (x.max() if s >= 0 else x.min())))
    np.testing.assert_allclose(nps.logit_scaled_softmax(big, s / 2.0**k), want, rtol=1e-12)
    if s != 0:
        np.testing.assert_allclose(nps.temp_softmax(big, 2.0**k / s), want, rtol=1e-12)


def test_learnable_scale_gradient_is_accurate_far_from_zero():
    # ds = <x - m, v>: computed from the shifted logits, not from <x, v> with x = 1e10.
    x = np.array([1e10 + 1.0, 1e10, 1e10 - 2.0])
    s = nps.tensor(0.7, requires_grad=True)
    nps.logit_scaled_softmax(nps.tensor(x), s)[0].backward()
    p = sp.softmax(0.7 * np.array([1.0, 0.0, -2.0]))
    v = p * (np.eye(3)[0] - p[0])
    np.testing.assert_allclose(s.grad, np.dot([1.0, 0.0, -2.0], v), rtol=1e-12)


# -- a one-element factor does not promote the logits (PyTorch's rule) ------------------------
def test_float64_tensor_factor_keeps_float32_logits():
    x32 = np.array([[1.0, 2.0, 0.5]], dtype=np.float32)
    for t in (nps.tensor(2.0, requires_grad=True), nps.tensor([[2.0]], requires_grad=True)):
        for x in (x32, nps.tensor(x32, requires_grad=True)):
            y = nps.temp_softmax(x, t)
            assert y.dtype == np.float32
            y[0, 1].backward()
            assert t.grad.dtype == np.float64 and t.grad.shape == t.shape
            t.grad = None
    scale = nps.tensor(2.0, requires_grad=True)
    assert nps.logit_scaled_softmax(x32, scale).dtype == np.float32
    assert nps.norm_exp_softmax(x32, scale).dtype == np.float32
    assert nps.gumbel_softmax(x32, scale, rng=0).dtype == np.float32
    assert nps.mm_softmax(x32, x32, weight=scale).dtype == np.float32
    y = nps.temp_softmax(x32, nps.tensor(np.float32(2.0), requires_grad=True))
    assert y.dtype == np.float32  # already the logits' dtype: no cast
    y = nps.temp_softmax(x32.astype(np.float64), nps.tensor(np.float32(2.0), requires_grad=True))
    assert y.dtype == np.float64  # float64 logits stay float64


@pytest.mark.parity
def test_tensor_temperature_dtype_and_gradients_match_torch():
    torch = pytest.importorskip("torch")
    x32 = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    g = np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32)
    xt = torch.tensor(x32, requires_grad=True)
    tt = torch.nn.Parameter(torch.tensor(1.7, dtype=torch.float64))
    yt = torch.softmax(xt / tt, dim=-1)
    yt.backward(torch.tensor(g))
    x = nps.tensor(x32, requires_grad=True)
    t = nps.tensor(1.7, requires_grad=True)
    y = nps.temp_softmax(x, t)
    y.backward(g)
    assert yt.dtype == torch.float32 and y.dtype == np.float32
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-6)
    assert x.grad.dtype == np.float32 and t.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(t.grad, tt.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_learnable_temp_softmax_module_keeps_float32():
    m = nps.nn.TempSoftmax(temperature=2.0, learnable=True)  # a float64 0-d Parameter
    x = nps.tensor(np.array([[0.0, 2.0, 1.0]], dtype=np.float32), requires_grad=True)
    y = m(x)
    assert y.dtype == np.float32
    y[0, 1].backward()
    assert x.grad.dtype == np.float32 and m.temperature.grad.dtype == np.float64
    p = sp.softmax(np.array([0.0, 2.0, 1.0]) / 2.0)
    v = p * (np.eye(3)[1] - p[1])
    np.testing.assert_allclose(m.temperature.grad, -np.dot([0.0, 2.0, 1.0], v) / 4.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_subnormal_logits_are_not_halved(dtype):
    # Halving x before subtracting is only for rows that span past the float range: a halved
    # subnormal loses its last bit, which a huge scale then magnifies (11 float16 ulps, seen).
    tiny = np.finfo(dtype).smallest_subnormal
    x = (np.array([3, 1, 5, 5]) * tiny).astype(dtype)
    s = 0.9 * float(np.finfo(dtype).max)
    want = sp.softmax(x.astype(np.float64) * s)
    got = nps.logit_scaled_softmax(x, s)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=2 * np.finfo(dtype).eps)


@pytest.mark.parametrize(
    "dtype, x, factor",
    [
        # Differences of subnormal float32 logits: scale 1e39 (inf in float32) makes them O(1).
        (np.float32, [0.0, 1e-40, 3e-40], 1e39),
        (np.float32, [1.0, 2.0, 1.5], 1e-50),  # a scale that is 0 in float32
        (np.float16, [0.0, 1e-4, 2e-4], 1e5),  # inf in float16
        (np.float16, [0.0, 1e-4, 2e-4], 1e-8),  # 0 in float16
    ],
)
@pytest.mark.parametrize("as_temperature", [False, True])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_a_factor_outside_the_logits_dtype_range_is_applied_in_float64(
    dtype, x, factor, as_temperature, as_tensor
):
    # Cast to the logits' dtype, such a factor was 0 or inf and the row NaN (torch gives NaN).
    x = np.array(x, dtype=dtype)
    value = 1.0 / factor if as_temperature else factor
    expected = sp.softmax(x.astype(np.float64) * factor)
    arg = nps.tensor(value, requires_grad=True) if as_tensor else value
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        if as_temperature:
            y = nps.temp_softmax(nps.tensor(x) if as_tensor else x, arg)
        else:
            y = nps.logit_scaled_softmax(nps.tensor(x) if as_tensor else x, arg)
        data = y.data if as_tensor else y
        assert data.dtype == dtype
        np.testing.assert_allclose(data, expected.astype(dtype), rtol=4 * np.finfo(dtype).eps)
        if as_tensor:
            y[0].backward()
            assert np.isfinite(arg.grad)


# -- accuracy in ulps against an extended-precision oracle ------------------------------------
def exact_softmax(x, factor=1.0, divide=False):
    """softmax(x * factor) (or x / factor) of the float inputs, in 50 digits, as float64."""
    mp = pytest.importorskip("mpmath").mp
    with mp.workdps(50):
        out = np.empty(np.shape(x))
        for i, row in enumerate(np.atleast_2d(np.asarray(x, dtype=np.float64))):
            f = mp.mpf(float(factor))
            z = [mp.mpf(float(v)) / f if divide else mp.mpf(float(v)) * f for v in row]
            e = [mp.exp(v - max(z)) for v in z]
            out.reshape(-1, len(row))[i] = [float(v / mp.fsum(e)) for v in e]
    return out


def ulps(y, exact):
    """The largest error of y in units of the last place of the exact value in y's dtype."""
    spacing = np.spacing(np.abs(exact).astype(y.dtype)).astype(np.float64)
    return float(np.max(np.abs(y.astype(np.float64) - exact) / spacing))


RNG = np.random.default_rng(20240611)
# Rows of scale 100 (|x - m| up to a few hundred), and rows spanning the whole exp range.
ROWS64 = np.concatenate([RNG.normal(scale=100, size=(8, 9)), RNG.uniform(-700, 0, size=(4, 9))])
ROWS32 = np.concatenate(
    [RNG.normal(scale=30, size=(8, 9)), RNG.uniform(-87, 0, size=(4, 9))]
).astype(np.float32)
MAX_ULPS = {np.float64: 4.0, np.float32: 2.0}


@pytest.mark.parametrize(
    "x, factor",
    [
        (np.array([17.67241, -52.343937], dtype=np.float32), 1.0),  # 64 ulps before the fix
        (np.array([200.5617625657041, -331.0831691202403]), 1.0),  # 512 ulps before
        (np.array([200.5617625657041, -331.0831691202403]), 0.7),
        (np.array([17.67241, -52.343937, 3.25], dtype=np.float32), 1.3),
    ],
)
def test_reviewer_cases_are_accurate_to_an_ulp(x, factor):
    assert ulps(nps.temp_softmax(x, factor), exact_softmax(x, factor, divide=True)) <= 1.0
    assert ulps(nps.logit_scaled_softmax(x, factor), exact_softmax(x, factor)) <= 1.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("factor", [1.0, 0.7, -1.3, 2.5, 0.5, -0.3])
def test_scaled_softmax_is_accurate_in_ulps(dtype, factor):
    # z = s (x - m) rounded twice moves exp(z) by up to |z| ulps (hundreds, seen): the
    # rounding errors are kept, so every entry is within a few ulps of the exact value.
    x = ROWS64 if dtype == np.float64 else ROWS32
    for f, divide in [(nps.temp_softmax, True), (nps.logit_scaled_softmax, False)]:
        want = exact_softmax(x, factor, divide)
        assert ulps(f(x, factor), want) <= MAX_ULPS[dtype], (f.__name__, factor)
        # A Tensor factor takes the same route (the graph keeps the accuracy).
        y = f(nps.tensor(x), nps.tensor(factor, requires_grad=True))
        assert ulps(y.data, want) <= MAX_ULPS[dtype], (f.__name__, "Tensor", factor)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmin_is_accurate_in_ulps(dtype):
    x = ROWS64 if dtype == np.float64 else ROWS32
    assert ulps(nps.softmin(x), exact_softmax(x, -1.0)) <= MAX_ULPS[dtype]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_factor_one_is_softmax(dtype):
    x = (ROWS64 if dtype == np.float64 else ROWS32).astype(dtype)
    np.testing.assert_array_equal(nps.temp_softmax(x, 1.0), nps.softmax(x))
    np.testing.assert_array_equal(nps.logit_scaled_softmax(x, 1.0), nps.softmax(x))
    # A learnable factor of 1 goes through the graph: the same values to an ulp.
    y = nps.temp_softmax(nps.tensor(x), nps.tensor(1.0, requires_grad=True)).data
    assert y.dtype == dtype
    np.testing.assert_array_max_ulp(y, nps.softmax(x), maxulp=1)


def test_large_spread_halved_rows_stay_accurate():
    # Rows spanning past the float range are halved first; the rounding errors are still kept.
    x = np.array([1e308, 1e308 - 3.1e293, 1e308 - 4.7e294, -1e308])
    for f, factor, divide in [
        (nps.temp_softmax, 1e293, True),
        (nps.logit_scaled_softmax, 1e-293, False),
    ]:
        assert ulps(f(x, factor), exact_softmax(x, factor, divide)) <= 2.0
