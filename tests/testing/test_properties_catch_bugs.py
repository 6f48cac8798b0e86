"""The property checks against kernels with known bugs (mask fills, blocked rows that forget to
rescale, an 8-ulp bias, in-place writes): each buggy kernel must fail, naming the property, and
each correct one (SciPy, npsoftmax, in place or not) must pass."""

import warnings

import numpy as np
import pytest
import scipy.special as sp

import npsoftmax as nps
from npsoftmax.testing import check_log_softmax_like, check_logsumexp_like, check_softmax_like
from npsoftmax.testing._property_defs import logsumexp_properties
from npsoftmax.testing.properties import Target, run_properties

N = 30  # examples per property


def _failures(fn, kind, **kwargs):
    """``{property name: failure message}`` for the properties ``fn`` fails."""
    results = run_properties(fn, kind, max_examples=kwargs.pop("max_examples", N), **kwargs)
    return {name: why for name, why in results if why is not None}


# --- 1. -inf masks ------------------------------------------------------------------------------


def softmax_mask_as_finite(x, axis=-1):  # a "mask" of -1e4: wrong once the row is below -1e4
    return sp.softmax(np.where(np.isneginf(x), -1e4, x), axis=axis)


def log_softmax_mask_as_finite(x, axis=-1):  # -inf masks give a finite log-probability
    return sp.log_softmax(np.where(np.isneginf(x), -1e4, x), axis=axis)


def test_a_finite_mask_value_is_caught():
    assert "-inf masks give 0" in _failures(softmax_mask_as_finite, "softmax")
    assert "-inf masks give -inf" in _failures(log_softmax_mask_as_finite, "log_softmax")


# --- 2. long rows -------------------------------------------------------------------------------


def blocked_softmax_without_rescale(x, axis=-1):
    """A 16-wide blocked online softmax that forgets to rescale the running sum (n >= 17)."""
    x = np.moveaxis(x, axis, -1)
    m = np.full(x.shape[:-1], -np.inf)
    s = np.zeros(x.shape[:-1])
    for b in range(0, x.shape[-1], 16):
        block = x[..., b : b + 16]
        mb = np.maximum(m, block.max(axis=-1))
        s = s + np.exp(block - mb[..., None]).sum(axis=-1)  # BUG: s * exp(m - mb) + ...
        m = mb
    y = (np.exp(x - m[..., None]) / s[..., None]).astype(x.dtype)
    return np.moveaxis(y, -1, axis)


def test_a_blocked_kernel_bug_on_long_rows_is_caught():
    failures = _failures(blocked_softmax_without_rescale, "softmax")
    assert "sums to one" in failures
    assert blocked_softmax_without_rescale(np.arange(8.0)).sum() == pytest.approx(1.0)  # short ok


# --- 3. shift equivariance of logsumexp ---------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lse", [nps.logsumexp, sp.logsumexp], ids=["npsoftmax", "scipy"])
def test_shift_equivariance_allows_the_rounding_of_both_sides(dtype, lse):
    # Both results are correctly rounded (checked with mpmath); fn(x) rounds at 16, not at 0.
    x = np.array([-18.65625, 16.0], dtype=dtype)
    props = logsumexp_properties(Target(lse, -1, True), np.dtype(dtype), -1, 4.0)
    (shift,) = [p for p in props if p.name == "shift equivariance"]
    assert shift.violation((x, -16.0)) is None
    assert shift.violation((np.array([1.4453125, 16.0], dtype=dtype), -16.0)) is None


def test_float16_logsumexp_passes():
    check_logsumexp_like(nps.logsumexp, dtype=np.float16)  # failed at the default 100


# --- 4. the user's function gets a copy ---------------------------------------------------------


def in_place_softmax(x, axis=-1):
    x[...] = sp.softmax(x, axis=axis)
    return x


def test_an_in_place_softmax_passes_and_the_input_is_untouched():
    check_softmax_like(in_place_softmax, max_examples=N)
    x = np.array([1.0, 2.0])
    Target(in_place_softmax, -1, False)(x)
    assert x.tolist() == [1.0, 2.0]


# --- 5. the agreement tolerance says what it checks ---------------------------------------------


def eight_ulps_on_the_largest(x, axis=-1):
    """Moves the largest probability up 8 ulps and the next one down as much (sum kept)."""
    y = np.moveaxis(sp.softmax(x, axis=axis), axis, -1).copy()
    if y.shape[-1] < 2:
        return np.moveaxis(y, -1, axis)
    order = np.argsort(y, axis=-1)
    top, second = order[..., -1:], order[..., -2:-1]
    big = np.take_along_axis(y, top, axis=-1)
    up = big
    for _ in range(8):
        up = np.nextafter(up, np.inf)
    np.put_along_axis(y, top, up, axis=-1)
    low = np.take_along_axis(y, second, axis=-1)
    np.put_along_axis(y, second, np.maximum(low - (up - big), 0), axis=-1)
    return np.moveaxis(y, -1, axis)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_eight_ulp_bias_fails_the_four_eps_agreement(dtype):
    failures = _failures(eight_ulps_on_the_largest, "softmax", dtype=dtype)
    assert "agreement (4 eps relative)" in failures


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_wider_ulps_tolerance_accepts_the_eight_ulp_bias(dtype):
    # ulps reaches the properties: at 32 eps an 8-ulp bias is within the agreement tolerance.
    with pytest.raises(AssertionError, match=r"agreement \(4 eps relative\)"):
        check_softmax_like(eight_ulps_on_the_largest, dtype=dtype, max_examples=N)
    assert (
        check_softmax_like(eight_ulps_on_the_largest, dtype=dtype, max_examples=N, ulps=32) is None
    )
    assert "agreement (32 eps relative)" not in _failures(
        eight_ulps_on_the_largest, "softmax", dtype=dtype, ulps=32
    )


# --- 6. outputs that are not a real array of the input's dtype ----------------------------------


def test_wrong_outputs_are_named_clearly():
    def none(x):
        sp.softmax(x)

    def complex_out(x, axis=-1):
        return sp.softmax(x, axis=axis).astype(np.complex128)

    def float64_out(x, axis=-1):
        return sp.softmax(x.astype(np.float64), axis=axis)

    with pytest.raises(AssertionError, match="fn returned None"):
        check_softmax_like(none, max_examples=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning may escape
        with pytest.raises(AssertionError, match=r"complex128\), not an array of real numbers"):
            check_softmax_like(complex_out, max_examples=3)
    with pytest.raises(AssertionError, match="fn returned float64 for float32 input"):
        check_softmax_like(float64_out, dtype=np.float32, max_examples=3)


# --- 7. failures that used to escape as tracebacks ----------------------------------------------


def test_a_non_deterministic_fn_is_reported_with_its_input():
    rng = np.random.default_rng(0)

    def flaky(x, axis=-1):
        y = sp.softmax(x, axis=axis)
        return y * 1.1 if rng.random() < 0.3 else y

    with pytest.raises(AssertionError, match="fn is not deterministic on this input") as info:
        check_softmax_like(flaky, max_examples=N)
    assert "x = np.array(" in str(info.value)


def test_an_unconvertible_result_is_a_finding():
    class Unconvertible:
        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("Can't call numpy() on Tensor that requires grad.")

    with pytest.raises(AssertionError, match=r"np\.asarray cannot convert fn's Unconvertible"):
        check_softmax_like(lambda x: Unconvertible(), max_examples=3)


def test_torch_tensor_that_requires_grad_is_a_finding():
    torch = pytest.importorskip("torch")

    def torch_out(x):
        return torch.softmax(torch.tensor(x, requires_grad=True), -1)

    with pytest.raises(AssertionError, match="requires grad"):
        check_softmax_like(torch_out, max_examples=3)


@pytest.mark.parametrize("axis", [8, -9, 25])
def test_an_axis_beyond_the_drawn_dimensions_is_refused(axis):
    with pytest.raises(ValueError, match="axis must be between -8 and 7"):
        check_log_softmax_like(nps.log_softmax, axis=axis)


def test_a_high_axis_draws_small_arrays():
    def fn(x, axis):
        assert x.size <= 4096 and x.ndim >= 8
        return sp.softmax(x, axis=axis)

    check_softmax_like(fn, axis=7, max_examples=10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_long_row_summed_in_another_order_is_not_a_failure(dtype):
    # Summing a row of a few hundred in another order scales it by 1 + delta, |delta| up to
    # n eps (PyTorch: 23 eps on rows of 255): agreement compares the rows rescaled to sum to 1.
    def sequential(x, axis=-1):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        total = np.zeros_like(np.take(e, [0], axis=axis))
        for j in range(e.shape[axis]):  # one accumulator, in the dtype: the worst common order
            total = total + np.take(e, [j], axis=axis)
        return e / total

    check_softmax_like(sequential, dtype=dtype, axis=0, max_examples=100)
