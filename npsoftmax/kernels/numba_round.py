"""Rounding once: how the compiled row kernels turn their float64 row values into outputs.

:mod:`npsoftmax.kernels.numba_rows` computes each row's maximum, sum and log-sum in float64;
the functions here write the entries of the result from them, each to within one rounding of
the exact value where a naive ``dtype(a - b)`` or ``e * (1 / s)`` would round two or three times:

* :func:`minus_log_sum`, log_softmax's ``(x - m) - lg``;
* :func:`scale_row`, softmax's ``w * e / s`` without a division per entry, and :func:`splits`,
  its guard for the fast float32 form.

Like the row functions, they are inlined into the kernels' loops.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from .numba_exp import FASTMATH, JIT_OPTIONS, f64_bits, fma, two_diff
from .numba_vectors import wide_vectors

_ROW = dict(inline="always", error_model="numpy", fastmath=FASTMATH)


def minus_log_sum(x, m, lg):
    """``(x - m) - lg`` rounded once to the dtype of ``x`` (``lg`` float64; python stub)."""
    return (np.float64(x) - np.float64(m)) - lg


def _minus_log_sum_f32(x, m, lg):
    # float32 values are exact in float64, and so is their difference: one rounding at the end.
    return np.float32((np.float64(x) - np.float64(m)) - lg)


def _minus_log_sum_f64(x, m, lg):
    # x - m = s + err exactly (TwoSum); s - lg does not cancel (s <= 0 <= lg).  err is NaN only
    # when s is infinite (a -inf entry), where it does not matter.
    s, err = two_diff(x, m)
    return (s - lg) + (err if err == err else 0.0)


@overload(minus_log_sum, jit_options=JIT_OPTIONS)
def _minus_log_sum_overload(x, m, lg):
    if x == types.float32:
        return _minus_log_sum_f32
    if x == types.float64:
        return _minus_log_sum_f64
    return None


def scale_row(e, s, w, spread):
    """``e[:] = w * e / s`` in place, each entry to within a rounding (python stub).

    ``spread`` is ``min(x) - max(x)`` of the row, in float64: ``e >= exp(spread)``.  A division
    per entry is slow (a divider is not pipelined like a multiplier), and ``e * (w / s)`` rounds
    twice; so:

    * float32: ``q = w / s`` (float64, once per row) is split into two float32 halves,
      ``hi = fl(q)`` and ``lo = fl(q - hi)``, and each entry is ``fma(e, hi, e * lo)``: the
      product by ``hi + lo`` (``q`` to 48 bits) rounded once, so ``e * q`` correctly rounded
      but where it lies within ``2**-24`` ulp of a tie.  Two float32 operations an entry, where
      forming ``e * q`` in float64 costs two conversions and a product for every half vector
      (the scaling pass took 0.10 ns an entry that way, 0.05 with the halves; AMD Zen 3, one
      thread, in cache).  The rounding of ``e * lo`` is tiny next to an ulp of the result
      unless the result is near the subnormals; a row whose smallest result may be below
      ``2**-100`` (a wide row, a ``-inf`` mask, a tiny weight: :func:`splits`), whose ``q`` is
      not a finite float32, or which has a NaN takes the float64 product ``fl(e * q)`` instead,
      one rounding of the exact ``e * q`` product.
    * float64: one Newton step with the exact residual ``e - y * s`` (a fused multiply-add)
      corrects ``y = e * (1 / s)``, which ``w`` then multiplies (one more rounding; none for
      ``w = 1``, which LLVM folds away).
    """
    e[:] = w * e.astype(np.float64) / s


SPLIT_FLOOR_LOG2 = -100.0
_F32_MAX = float(np.finfo(np.float32).max)
_LOG2E = 1.4426950408889634


@njit(**_ROW)
def splits(q, spread):
    """Whether a float32 row may be scaled by ``q`` in two halves (see :func:`scale_row`):
    ``q`` a finite float32 and every result ``>= 2**-100`` (False for a NaN).

    The smallest result is ``|q| exp(spread)``, and ``|q| >= 2**k`` with ``k`` the exponent
    field of ``|q|``; so ``spread * log2(e) + k >= -100`` suffices.  The exponent is read from
    the bits: a ``math.log`` here cost a row of 100 classes 7% of its time (measured, AMD Zen 3).
    The test is conservative by less than a factor of two (a subnormal ``q`` fails it).
    """
    aq = abs(q)
    if not aq <= _F32_MAX:
        return False
    k = ((f64_bits(aq) >> 52) & 0x7FF) - 1023
    return aq == 0.0 or spread * _LOG2E + k >= SPLIT_FLOOR_LOG2


def _scale_row_f32(e, s, w, spread):
    wide_vectors()
    q = w / s
    if splits(q, spread):
        hi = np.float32(q)
        lo = np.float32(q - np.float64(hi))
        for j in range(e.shape[0]):
            ej = e[j]
            e[j] = fma(ej, hi, ej * lo)
    else:
        for j in range(e.shape[0]):
            e[j] = np.float32(np.float64(e[j]) * q)


def _scale_row_f64(e, s, w, spread):
    wide_vectors()
    inv = 1.0 / s
    for j in range(e.shape[0]):
        ej = e[j]
        y = ej * inv
        e[j] = (y + (ej - y * s) * inv) * w


@overload(scale_row, jit_options=JIT_OPTIONS)
def _scale_row_overload(e, s, w, spread):
    if e.dtype == types.float32:
        return _scale_row_f32
    if e.dtype == types.float64:
        return _scale_row_f64
    return None
