"""The row reductions of the compiled kernels: minimum and maximum, sums, dot products.

They vectorise for two reasons: the maximum compares integer keys (an integer max may be
reordered, a float max may not), and the sums allow reassociation inside chunks of
``SUM_CHUNK`` entries, compensated across chunks.  Every loop runs over a whole 1-D slice from
index 0: with ``range(lo, hi)`` LLVM cannot prove the index non-negative, keeps Numba's
wraparound for negative indices, and loads element by element (4x slower, measured).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from .numba_exp import FASTMATH, JIT_OPTIONS, f32_bits, f32_from_bits, f64_bits, f64_from_bits
from .numba_vectors import wide_vectors


def row_min_max(v):
    """``(min(v), max(v))`` of a 1-D array (``(+inf, -inf)`` when empty); a NaN may be skipped.

    A python stub: compiled code gets the float32 or float64 implementation by overload.  Both
    compare *integers*: mapping the bits ``b`` of an IEEE float to ``b ^ ((b >> 31) & 0x7f..f)``
    (all bits but the sign flipped for negative numbers) orders them as the floats are ordered,
    and an integer min/max reduction is vectorised by LLVM without any fast-math flag, where a
    float max is one serial chain of compare-and-select (it would change NaN semantics to reorder
    it).  A NaN maps above +inf or below -inf, by its sign bit: a result may be NaN or may skip
    it.  The softmax kernels need neither: a NaN entry makes the sum of exponentials NaN, which
    spreads to the whole row as the policy wants.  One pass gives both: the minimum is nearly
    free next to the memory traffic, and it tells whether the row may take the fast exponential
    (:func:`normal_range`).
    """
    return (np.min(v), np.max(v)) if v.shape[0] else (np.inf, -np.inf)


_I32_MAGNITUDE = np.int32(0x7FFFFFFF)
_I32_SIGN_SHIFT = np.int32(31)
_I32_NEG_INF_KEY = np.int32(-2139095041)  # the key of float32 -inf (bits 0xff800000)
_I32_POS_INF_KEY = np.int32(0x7F800000)  # +inf's bits are their own key
_I64_MAGNITUDE = np.int64(0x7FFFFFFFFFFFFFFF)
_I64_SIGN_SHIFT = np.int64(63)
_I64_NEG_INF_KEY = np.int64(-9218868437227405313)  # the key of float64 -inf
_I64_POS_INF_KEY = np.int64(0x7FF0000000000000)


@njit(inline="always", error_model="numpy", fastmath=FASTMATH)
def _key32(b):
    """The order key of float32 bits ``b`` (the map is its own inverse: it also undoes a key)."""
    # np.int32 everywhere: Numba would widen int32 arithmetic with Python ints to int64.
    return np.int32(b ^ np.int32(np.int32(b >> _I32_SIGN_SHIFT) & _I32_MAGNITUDE))


@njit(inline="always", error_model="numpy", fastmath=FASTMATH)
def _key64(b):
    """The order key of float64 bits ``b`` (its own inverse)."""
    return np.int64(b ^ np.int64(np.int64(b >> _I64_SIGN_SHIFT) & _I64_MAGNITUDE))


def _row_min_max_f32(v):
    wide_vectors()
    lo = _I32_POS_INF_KEY
    hi = _I32_NEG_INF_KEY
    for j in range(v.shape[0]):
        k = _key32(f32_bits(v[j]))
        lo = k if k < lo else lo
        hi = k if k > hi else hi
    return f32_from_bits(_key32(lo)), f32_from_bits(_key32(hi))


def _row_min_max_f64(v):
    wide_vectors()
    lo = _I64_POS_INF_KEY
    hi = _I64_NEG_INF_KEY
    for j in range(v.shape[0]):
        k = _key64(f64_bits(v[j]))
        lo = k if k < lo else lo
        hi = k if k > hi else hi
    return f64_from_bits(_key64(lo)), f64_from_bits(_key64(hi))


@overload(row_min_max, jit_options=JIT_OPTIONS)
def _row_min_max_overload(v):
    if v.dtype == types.float32:
        return _row_min_max_f32
    if v.dtype == types.float64:
        return _row_min_max_f64
    return None


# The sums below are two-level: a chunk of SUM_CHUNK entries is summed by a small function that
# allows reassociation (so that LLVM splits it over the lanes of a vector register: Numba runs
# LLVM's loop vectoriser but not its SLP vectoriser, so hand-written "8 accumulators" stay
# scalar), and the chunk totals are added with Kahan's compensation (no reassociation there).
# The error stays near one ulp for any row length; reordering a sum changes no NaN or inf.
SUM_CHUNK = 256
_REASSOC = {"reassoc", "contract"}


@njit(inline="always", error_model="numpy", fastmath=FASTMATH)
def _kahan(total, comp, part):
    """Add ``part`` to ``total`` with Kahan's compensation ``comp``; return both."""
    y = part - comp
    t = total + y
    return t, (t - total) - y


@njit(inline="never", error_model="numpy", fastmath=_REASSOC)
def _chunk_sum(v):
    wide_vectors()
    s = 0.0
    for j in range(v.shape[0]):
        s += np.float64(v[j])
    return s


@njit(inline="never", error_model="numpy", fastmath=_REASSOC)
def _chunk_dot(u, v):
    wide_vectors()
    s = 0.0
    for j in range(v.shape[0]):
        s += np.float64(u[j]) * np.float64(v[j])
    return s


@njit(inline="always", error_model="numpy", fastmath=FASTMATH)
def row_sum(v):
    """``sum(v)`` of a 1-D array in float64 (vectorised chunks, compensated across chunks)."""
    total = 0.0
    comp = 0.0
    for start in range(0, v.shape[0], SUM_CHUNK):
        total, comp = _kahan(total, comp, _chunk_sum(v[start : start + SUM_CHUNK]))
    return total


@njit(inline="always", error_model="numpy", fastmath=FASTMATH)
def row_dot(u, v):
    """``sum(u * v)`` of two 1-D arrays in float64, summed as :func:`row_sum` does."""
    total = 0.0
    comp = 0.0
    for start in range(0, v.shape[0], SUM_CHUNK):
        stop = start + SUM_CHUNK
        total, comp = _kahan(total, comp, _chunk_dot(u[start:stop], v[start:stop]))
    return total
