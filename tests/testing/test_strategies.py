"""npsoftmax.testing.strategies: the drawn arrays have the promised dtypes, shapes and values."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npsoftmax.testing import strategies as S


@given(st.data(), st.sampled_from(S.FLOAT_DTYPES), st.integers(-3, 2))
def test_logits_dtype_shape_and_finiteness(data, dtype, axis):
    extreme = data.draw(st.booleans())
    x = data.draw(S.logits(dtype=dtype, extreme=extreme, axis=axis))
    assert x.dtype == dtype
    assert x.ndim >= (axis + 1 if axis >= 0 else -axis)
    assert x.shape[axis] >= 1
    assert np.isfinite(x).all()
    assert np.abs(x).max() <= (S.extreme_bound(dtype) if extreme else 30.0)


@given(st.data(), st.sampled_from(S.FLOAT_DTYPES), st.integers(-2, 1))
def test_masked_logits_keep_a_finite_entry_per_row(data, dtype, axis):
    x = data.draw(S.masked_logits(dtype=dtype, axis=axis))
    assert not np.isnan(x).any() and not np.isposinf(x).any()
    assert np.isfinite(x).any(axis=axis).all()


@given(st.data(), st.sampled_from(S.FLOAT_DTYPES))
def test_grid_shifts_and_scales_are_exact(data, dtype):
    x = data.draw(S.grid_logits(dtype=dtype))
    c = data.draw(S.shifts(dtype))
    s1, s2 = data.draw(S.scales())
    assert 0 <= s1 < s2 <= 4
    exact = x.astype(np.longdouble)
    assert np.array_equal((x + dtype(c)).astype(np.longdouble), exact + c)
    assert np.array_equal((x * dtype(s2)).astype(np.longdouble), exact * s2)
    # the shifts reach where a softmax without max-subtraction overflows
    assert 2.0 ** {"float16": 8, "float32": 15, "float64": 40}[np.dtype(dtype).name] > np.log(
        np.finfo(dtype).max
    )


def test_extreme_bound_differences_stay_finite():
    for dtype in S.FLOAT_DTYPES:
        b = dtype(S.extreme_bound(dtype))
        with np.errstate(over="raise"):
            assert np.isfinite(b - (-b))


@pytest.mark.parametrize(
    "dtype", [np.int64, "complex128", np.float128 if hasattr(np, "float128") else "U1"]
)
def test_bad_dtype_is_refused(dtype):
    with pytest.raises(ValueError, match="float16, float32 or float64"):
        S.logits(dtype=dtype)


def test_bad_axis_is_refused():
    with pytest.raises(TypeError, match="axis must be an integer"):
        S.shapes(axis=1.5)


def test_import_npsoftmax_does_not_import_hypothesis():
    import subprocess
    import sys

    code = "import sys, npsoftmax; print('hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
