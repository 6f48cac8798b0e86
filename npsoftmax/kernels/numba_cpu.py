"""Compiled row kernels: Numba loops with the names, signatures and results of the reference.

The contract is that of :mod:`npsoftmax.kernels.reference` (2-D C-contiguous ``(rows, classes)``
float32 or float64 input, a caller-provided ``out`` that may alias the input, the per-row edge
policy of design.md); results agree with the reference to a few ulps, not bit for bit.

How the loops are written, and why
----------------------------------
* Rows are split into contiguous chunks run in parallel (``prange`` over chunks, never inside a
  row): rows are independent, each thread streams through its own part of memory, and a fresh
  output is first touched (page-faulted) by the thread that writes it.
* Each row is a few passes: the minimum and maximum (from memory); then, block by block of
  ``BLOCK`` entries so that the block is still in the L1 cache when it is read again, the
  exponentials and their sum; finally the scaling.  Every pass is a simple loop over a slice
  that LLVM vectorises: the exponential is the polynomial ``exp_shifted`` of
  :mod:`npsoftmax.kernels.numba_exp` (libm's ``exp`` would keep the loop scalar), or its
  cheaper ``exp_shifted_normal`` when the row's minimum shows that no result is subnormal (the
  usual case; a ``-inf`` mask or a row wider than ~86 in float32 takes the exact path).
* ``out is x`` is safe: each pass reads ``x[i, j]`` before writing ``out[i, j]`` at the same
  ``j``, and later passes read only ``out`` (log_softmax's last pass still needs ``x``: it
  keeps its exponentials in ``out`` when that is another array, else in a scratch block).
  And as fast: when ``out`` is ``x``, the row functions get one array for both (see
  ``_same``), because LLVM runs a scalar loop when two arrays it was given overlap (3.4x
  slower, measured).
* Edge policy without branches in the hot loops: a row holding NaN or ``+inf``, or only
  ``-inf``, has a NaN among its shifted exponentials, so its sum is NaN and the scaling spreads
  it over the row; ``-inf`` entries give ``exp = 0``.  log_softmax and logsumexp test the row
  maximum explicitly.  ``error_model="numpy"``: a float division by zero gives inf/NaN instead of
  raising ``ZeroDivisionError``.
* ``fastmath`` is only ``{"contract"}`` (FMA): ``reassoc`` would cancel TwoSum's error terms, and
  ``nnan``/``ninf`` would delete the NaN and inf semantics (variants.md section 5, item 10).
* Sums are accumulated in float64 for both dtypes, and the float32 results are rounded once from
  float64 where that is free (scaling, log-space output).
* Math names: ``x`` logits, ``m`` row max, ``e = exp(x - m)``, ``s`` the sum of ``e``, ``t`` the sum
  without the maxima and ``c`` their count (``s = c + t``), ``lg = log(s)``, ``y`` softmax, ``ls``
  log_softmax, ``g`` upstream gradient.

Accuracy
--------
Measured on random rows (10**5 elements, rows of 1000, uniform in [-10, 10], [-50, 50] and
[-1e3, 1e3] with full random mantissas: the first takes the fast normal-range exponential, the
others reach subnormal and zero results on the exact path) against the oracle of
``tests/naive.py`` (40-digit decimal arithmetic), the largest error in ulps (VJPs: in units of
``eps`` times the size of the terms, since ``g - sum(...)`` may cancel).  Reproduce with
``python -m tests.kernels.test_accuracy`` (numpy: the reference twins)::

    kernel                 dtype     range   numba   numpy
    ------------------------------------------------------
    softmax_rows           float32      10    1.71    0.50
    softmax_rows           float32      50    1.86    0.50
    softmax_rows           float32    1000    1.48    0.50
    softmax_rows           float64      10    3.00    3.00
    softmax_rows           float64      50    3.00    4.00
    softmax_rows           float64    1000    4.00    3.00
    online_softmax_rows    float32      10    0.50    0.50
    online_softmax_rows    float32      50    0.50    0.50
    online_softmax_rows    float32    1000    0.50    0.50
    online_softmax_rows    float64      10    3.00    3.00
    online_softmax_rows    float64      50    3.00    4.00
    online_softmax_rows    float64    1000    3.00    4.00
    log_softmax_rows       float32      10    0.51    0.50
    log_softmax_rows       float32      50    0.50    0.50
    log_softmax_rows       float32    1000    0.80    0.50
    log_softmax_rows       float64      10    1.00    1.00
    log_softmax_rows       float64      50    1.00    1.00
    log_softmax_rows       float64    1000    2.00    2.00
    logsumexp_rows         float32      10    0.49    0.49
    logsumexp_rows         float32      50    0.49    0.49
    logsumexp_rows         float32    1000    0.49    0.49
    logsumexp_rows         float64      10    1.00    1.00
    logsumexp_rows         float64      50    1.00    1.00
    logsumexp_rows         float64    1000    0.00    0.00
    softmax_rows_vjp       float32      10    0.39    0.39
    softmax_rows_vjp       float32      50    0.50    0.50
    softmax_rows_vjp       float32    1000    0.50    0.50
    softmax_rows_vjp       float64      10    0.83    0.82
    softmax_rows_vjp       float64      50    1.19    1.08
    softmax_rows_vjp       float64    1000    1.81    2.13
    log_softmax_rows_vjp   float32      10    0.50    0.50
    log_softmax_rows_vjp   float32      50    0.50    0.50
    log_softmax_rows_vjp   float32    1000    0.50    0.50
    log_softmax_rows_vjp   float64      10    0.91    0.93
    log_softmax_rows_vjp   float64      50    0.81    0.96
    log_softmax_rows_vjp   float64    1000    0.39    0.35
    cross_entropy_rows     float32      10    0.48    0.48
    cross_entropy_rows     float32      50    0.49    0.49
    cross_entropy_rows     float32    1000    0.49    0.49
    cross_entropy_rows     float64      10    1.00    1.00
    cross_entropy_rows     float64      50    1.00    1.00
    cross_entropy_rows     float64    1000    1.00    1.00
    weighted_softmax_rows  float32      10    1.74    0.50
    weighted_softmax_rows  float32      50    1.66    0.50
    weighted_softmax_rows  float32    1000    1.59    0.50
    weighted_softmax_rows  float64      10    3.00    4.00
    weighted_softmax_rows  float64      50    4.00    4.00
    weighted_softmax_rows  float64    1000    4.00    4.00

cross_entropy_rows is measured at a random target per row, weighted_softmax_rows with
standard-normal weights.  Every kernel is within 4 ulps, the VJPs within 2.2 units, for both
dtypes.  Without the TwoSum correction of ``x - m`` (see :mod:`npsoftmax.kernels.numba_exp`),
float64 softmax showed up to ``|x - m|`` ulps: 66 on [-50, 50], 514 on [-1e3, 1e3].
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .numba_exp import (
    FASTMATH,
    divide,
    exp_shifted,
    exp_shifted_normal,
    minus_log_sum,
    normal_range,
    row_dot,
    row_min_max,
    row_sum,
)
from .numba_threads import launch_thread_pool

# Each kernel is compiled twice per dtype (cached on disk): a parallel loop over chunks of rows,
# and a serial loop for inputs below PARALLEL_MIN_SIZE entries, where waking the thread pool
# costs more than the work (tens of microseconds when idle, milliseconds on a busy machine).
_SERIAL = dict(cache=True, error_model="numpy", fastmath=FASTMATH)
_PARALLEL = dict(_SERIAL, parallel=True)
_ROW = dict(inline="always", error_model="numpy", fastmath=FASTMATH)
PARALLEL_MIN_SIZE = 1 << 16
# Entries per block of the exp pass: 8 KiB of float32, well inside a 32 KiB L1 data cache.
BLOCK = 2048
# Contiguous chunks of rows that prange hands out to the threads.  A constant, not
# ``4 * get_num_threads()``: reading the thread count from compiled code goes through a pointer
# into the threading layer, which would stop Numba from caching the kernel.
CHUNKS = 256


# -- one row -----------------------------------------------------------------------------------
@njit(**_ROW)
def _exp_block(xb, eb, m, normal):
    """``eb[:] = exp(xb - m)``; ``normal``: every result is known to be a normal number."""
    if normal:
        for j in range(xb.shape[0]):
            eb[j] = exp_shifted_normal(xb[j], m)
    else:
        for j in range(xb.shape[0]):
            eb[j] = exp_shifted(xb[j], m)


@njit(**_ROW)
def _exp_sum(xi, eo, m, normal, inplace):
    """``sum(exp(xi - m))`` in float64, each block's exponentials written to ``eo`` first.

    ``eo`` is a row as long as ``xi`` (each block at its place; ``inplace``: it is ``xi``, and
    the blocks get one slice for both, see ``_same``) or a scratch of one block, reused.
    """
    n = xi.shape[0]
    s = 0.0
    for lo in range(0, n, BLOCK):
        if inplace:
            eb = eo[lo : lo + BLOCK]
            _exp_block(eb, eb, m, normal)
        else:
            xb = xi[lo : lo + BLOCK]
            eb = eo[lo : lo + BLOCK] if eo.shape[0] == n else eo[: xb.shape[0]]
            _exp_block(xb, eb, m, normal)
        s += row_sum(eb)
    return s


@njit(**_ROW)
def _softmax_row(xi, oi, inplace, w):
    """``oi = w * softmax(xi)``: ``w`` is 1.0 for the softmax itself (the product is then exact
    and LLVM folds it away), a row weight for :func:`weighted_softmax_rows`."""
    n = xi.shape[0]
    if n == 0:
        return
    xmin, m = row_min_max(xi)
    normal = normal_range(xmin, m)
    s = _exp_sum(xi, oi, m, normal, inplace)  # s >= 1 (the maximum adds exp(0) = 1), or NaN
    inv = 1.0 / s
    for j in range(n):
        oi[j] = divide(oi[j], s, inv, w)


@njit(**_ROW)
def _exp_block_below(xb, eb, m, normal):
    """``eb[:] = exp(xb - m)`` except 0 where ``xb == m``; returns the count of those maxima.

    Each maximum contributes exactly 1 to the row's sum; keeping them out of ``eb`` lets the
    caller sum the rest apart (see ``_log_sum``).  The select and the count ride along in the
    exponential's loop (a separate selecting pass cost 0.2 ns per entry), for about 15% of it.
    The count is an int32 rewrapped at each step: Numba widens int32 sums to int64, which would
    halve the vector width of a float32 loop.
    """
    zero = xb.dtype.type(0)
    c = np.int32(0)
    if normal:
        for j in range(xb.shape[0]):
            top = xb[j] == m
            e = exp_shifted_normal(xb[j], m)
            eb[j] = zero if top else e
            c = np.int32(c + (np.int32(1) if top else np.int32(0)))
    else:
        for j in range(xb.shape[0]):
            top = xb[j] == m
            e = exp_shifted(xb[j], m)
            eb[j] = zero if top else e
            c = np.int32(c + (np.int32(1) if top else np.int32(0)))
    return c


# _log_sum trusts log(s) of the plain sum s when s >= LOG_SUM_FLOOR (for the row's dtype): the
# rounding of 1 + t in s (at most ~2**-47 of s, with the float64 sum's own error) is then below
# a quarter ulp of lg = log(s) in float32 (s - 1 >= 2**-20), and half an ulp of lg in float64
# (lg >= log 4 > 1).
LOG_SUM_FLOOR_F32 = 1.0 + 2.0**-20
LOG_SUM_FLOOR_F64 = 4.0


@njit(**_ROW)
def _log_sum(xi, xmin, m, scratch):
    """``lg = log(sum(exp(x - m)))`` of one row (float64); ``scratch`` as ``eo`` of ``_exp_sum``.

    First ``log(s)`` of the plain sum, softmax's exp pass.  A row dominated by its maximum
    (``s`` below ``LOG_SUM_FLOOR``: in float32, the others' share of the mass under 1e-6) is
    summed again as ``log(c) + log1p(t / c)``: ``c`` counts the entries equal to the maximum
    (each adds exactly 1) and ``t`` sums the others, so that ``t`` keeps its last bits where
    ``log(c + t)`` would round them away; the dominant entry's log-probability is ``-lg``, about
    ``-t`` (scipy.special.logsumexp keeps it the same way).  The second pass costs a row's
    exponentials again, for such rows only: the first alone saves 11-17% of log_softmax.
    """
    n = xi.shape[0]
    normal = normal_range(xmin, m)
    s = _exp_sum(xi, scratch, m, normal, False)
    if s >= (LOG_SUM_FLOOR_F64 if xi.itemsize == 8 else LOG_SUM_FLOOR_F32):
        return math.log(s)
    t = 0.0
    c = 0
    for lo in range(0, n, BLOCK):
        xb = xi[lo : lo + BLOCK]
        eb = scratch[lo : lo + BLOCK] if scratch.shape[0] == n else scratch[: xb.shape[0]]
        c += _exp_block_below(xb, eb, m, normal)
        t += row_sum(eb)
    return math.log(c) + math.log1p(t / c)


@njit(**_ROW)
def _log_softmax_row(xi, oi, scratch):
    n = xi.shape[0]
    if n == 0:
        return
    xmin, m = row_min_max(xi)
    lg = _log_sum(xi, xmin, m, scratch) if np.isfinite(m) else np.nan
    for j in range(n):
        oi[j] = minus_log_sum(xi[j], m, lg)  # NaN everywhere when lg is NaN


@njit(**_ROW)
def _logsumexp_row(xi, scratch):
    n = xi.shape[0]
    if n == 0:
        return -np.inf  # the empty sum is 0
    xmin, m = row_min_max(xi)
    if np.isfinite(m):
        return np.float64(m) + _log_sum(xi, xmin, m, scratch)
    # NaN, +inf, or -inf (all -inf): the maximum is the answer, unless a NaN hides behind a +inf
    # (row_min_max may skip a NaN).
    for j in range(n):
        if xi[j] != xi[j]:
            return np.nan
    return np.float64(m)


@njit(**_ROW)
def _cross_entropy_row(xi, ti, scratch):
    """``-ls[ti] = log(sum(exp(x - m))) - (x[ti] - m)`` in float64, rounded once by the caller.

    Both terms are >= 0, so nothing cancels: a confident prediction's small loss keeps its
    digits (``lse - x[ti]`` in the dtype would lose them to the rounding of ``lse``).
    """
    if xi.shape[0] == 0:
        return np.nan  # no class to be the target
    xmin, m = row_min_max(xi)
    if not np.isfinite(m):
        return np.nan  # log_softmax's row policy: a NaN, a +inf, or only -inf
    return _log_sum(xi, xmin, m, scratch) - (np.float64(xi[ti]) - np.float64(m))


@njit(**_ROW)
def _softmax_vjp_row(yi, gi, oi):
    dot = row_dot(gi, yi)
    for j in range(yi.shape[0]):
        yj = np.float64(yi[j])
        # y * (g - dot), expanded so that no intermediate overflows (see the reference).
        oi[j] = yj * np.float64(gi[j]) - yj * dot


@njit(**_ROW)
def _log_softmax_vjp_row(li, gi, oi, zero):
    sg = row_sum(gi)
    for j in range(li.shape[0]):
        # exp(ls) = exp_shifted(ls, 0): ls <= 0, and -inf gives 0.
        oi[j] = np.float64(gi[j]) - np.float64(exp_shifted(li[j], zero)) * sg


@njit(**_ROW)
def _same(a, b):
    """Whether ``b`` is ``a`` (the same data): the kernels' ``out`` may be their input."""
    return a.ctypes.data == b.ctypes.data


# When ``out`` is the input, a row function is given *one* array for both (softmax's row does
# it itself, for its blocks).  Given two arrays, LLVM vectorises a loop like ``o[j] = f(x[j])``
# behind a runtime check that their ranges do not overlap, and runs the scalar loop when they
# do: ``out=x`` was 3.4x slower than a separate output (softmax, float32, measured).  Given one
# array, it sees one pointer, a dependence at distance 0, and vectorises without a check.
@njit(**_ROW)
def _log_softmax_row_to(xi, oi, scratch, inplace):
    if inplace:
        _log_softmax_row(oi, oi, scratch)  # x is still needed after the exp pass
    else:
        # The output row is the scratch: the exp pass, bound by arithmetic, then brings its lines
        # into the cache (a store first reads its line from memory), and the last pass, a light
        # one, writes to the cache instead of waiting on memory.  12% faster (float32
        # (4096, 32768), 1 and 2 threads, measured); rows wider than the cache lose nothing.
        _log_softmax_row(xi, oi, oi)


@njit(**_ROW)
def _softmax_vjp_row_to(yi, gi, oi, inplace):
    if inplace:
        _softmax_vjp_row(yi, oi, oi)
    else:
        _softmax_vjp_row(yi, gi, oi)


@njit(**_ROW)
def _log_softmax_vjp_row_to(li, gi, oi, zero, inplace):
    if inplace:
        _log_softmax_vjp_row(li, oi, oi, zero)
    else:
        _log_softmax_vjp_row(li, gi, oi, zero)


def _pick(parallel, serial, size):
    """The parallel twin for ``size >= PARALLEL_MIN_SIZE`` entries, else the serial one.

    The first pick of a parallel twin launches the thread pool (:mod:`numba_threads`), as
    Numba would at that call: never earlier, so that a process which only ran small inputs may
    still fork children that use the pool (GNU OpenMP does not survive a fork once started).
    """
    if size >= PARALLEL_MIN_SIZE:
        launch_thread_pool()
        return parallel
    return serial


# -- the row loops: parallel and serial twins, and the public kernel that picks one ------------
@njit(**_PARALLEL)
def _softmax_par(x, out):
    inplace = _same(x, out)
    rows, nch = x.shape[0], min(x.shape[0], CHUNKS)
    for c in prange(nch):
        for i in range(c * rows // nch, (c + 1) * rows // nch):
            _softmax_row(x[i], out[i], inplace, 1.0)
    return out


@njit(**_SERIAL)
def _softmax_ser(x, out):
    inplace = _same(x, out)
    for i in range(x.shape[0]):
        _softmax_row(x[i], out[i], inplace, 1.0)
    return out


def softmax_rows(x, out):
    """Softmax of each row: ``y = exp(x - m) / sum(exp(x - m))``, ``m = max(x)``.

    An all-NaN row where ``x`` has a NaN, a ``+inf`` or only ``-inf``; ``out`` may be ``x``.
    """
    return _pick(_softmax_par, _softmax_ser, x.size)(x, out)


@njit(**_PARALLEL)
def _log_softmax_par(x, out):
    inplace = _same(x, out)
    rows, nch = x.shape[0], min(x.shape[0], CHUNKS)
    for c in prange(nch):
        # For out=x: the exponentials cannot go to out, x is still needed.
        scratch = np.empty(min(x.shape[1], BLOCK), dtype=x.dtype)
        for i in range(c * rows // nch, (c + 1) * rows // nch):
            _log_softmax_row_to(x[i], out[i], scratch, inplace)
    return out


@njit(**_SERIAL)
def _log_softmax_ser(x, out):
    inplace = _same(x, out)
    scratch = np.empty(min(x.shape[1], BLOCK), dtype=x.dtype)
    for i in range(x.shape[0]):
        _log_softmax_row_to(x[i], out[i], scratch, inplace)
    return out


def log_softmax_rows(x, out):
    """Log-softmax of each row: ``ls = (x - m) - log(sum(exp(x - m)))``, ``m = max(x)``.

    In log space; for a row dominated by its maximum the sum is split as ``c + t`` (see
    ``_log_sum``) so that the largest entry is accurate when the others are tiny.  An all-NaN
    row where ``x`` has a NaN, a ``+inf`` or only ``-inf``; ``out`` may be ``x``.
    """
    return _pick(_log_softmax_par, _log_softmax_ser, x.size)(x, out)


@njit(**_PARALLEL)
def _logsumexp_par(x, out):
    rows, nch = x.shape[0], min(x.shape[0], CHUNKS)
    for c in prange(nch):
        scratch = np.empty(min(x.shape[1], BLOCK), dtype=x.dtype)
        for i in range(c * rows // nch, (c + 1) * rows // nch):
            out[i] = _logsumexp_row(x[i], scratch)
    return out


@njit(**_SERIAL)
def _logsumexp_ser(x, out):
    scratch = np.empty(min(x.shape[1], BLOCK), dtype=x.dtype)
    for i in range(x.shape[0]):
        out[i] = _logsumexp_row(x[i], scratch)
    return out


def logsumexp_rows(x, out):
    """Log-sum-exp of each row: ``lse = m + log(sum(exp(x - m)))``, ``m = max(x)``.

    ``out`` has shape ``(rows,)``.  ``-inf`` for an empty or all ``-inf`` row, ``+inf`` for a row
    with ``+inf`` and no NaN, NaN for a row with a NaN.
    """
    return _pick(_logsumexp_par, _logsumexp_ser, x.size)(x, out)


@njit(**_PARALLEL)
def _cross_entropy_par(x, t, out):
    rows, nch = x.shape[0], min(x.shape[0], CHUNKS)
    for c in prange(nch):
        scratch = np.empty(min(x.shape[1], BLOCK), dtype=x.dtype)
        for i in range(c * rows // nch, (c + 1) * rows // nch):
            out[i] = _cross_entropy_row(x[i], t[i], scratch)
    return out


@njit(**_SERIAL)
def _cross_entropy_ser(x, t, out):
    scratch = np.empty(min(x.shape[1], BLOCK), dtype=x.dtype)
    for i in range(x.shape[0]):
        out[i] = _cross_entropy_row(x[i], t[i], scratch)
    return out


def cross_entropy_rows(x, t, out):
    """Cross-entropy of each row with a class index: ``out[i] = -log_softmax(x[i])[t[i]]``.

    Computed as ``log(sum(exp(x - m))) - (x[t] - m)`` without writing the log-softmax row:
    ``t`` holds valid indices, ``out`` has shape ``(rows,)``.  NaN where ``x`` has a NaN, a
    ``+inf`` or only ``-inf`` (log_softmax's row policy); ``+inf`` where ``x[t]`` is ``-inf``.
    """
    return _pick(_cross_entropy_par, _cross_entropy_ser, x.size)(x, t, out)


@njit(**_PARALLEL)
def _weighted_softmax_par(x, w, out):
    inplace = _same(x, out)
    rows, nch = x.shape[0], min(x.shape[0], CHUNKS)
    for c in prange(nch):
        for i in range(c * rows // nch, (c + 1) * rows // nch):
            _softmax_row(x[i], out[i], inplace, w[i])
    return out


@njit(**_SERIAL)
def _weighted_softmax_ser(x, w, out):
    inplace = _same(x, out)
    for i in range(x.shape[0]):
        _softmax_row(x[i], out[i], inplace, w[i])
    return out


def weighted_softmax_rows(x, w, out):
    """Softmax of each row times a weight: ``out[i] = w[i] * softmax(x[i])``, ``w`` of shape
    ``(rows,)``; cross_entropy's VJP (``w * (softmax(x) - onehot(t))``) without a pass for ``w``.

    Same edge policy as :func:`softmax_rows` (an all-NaN row, whatever ``w``); ``out`` may be ``x``.
    """
    return _pick(_weighted_softmax_par, _weighted_softmax_ser, x.size)(x, w, out)


@njit(**_PARALLEL)
def _softmax_vjp_par(y, g, out):
    inplace = _same(g, out)
    rows, nch = y.shape[0], min(y.shape[0], CHUNKS)
    for c in prange(nch):
        for i in range(c * rows // nch, (c + 1) * rows // nch):
            _softmax_vjp_row_to(y[i], g[i], out[i], inplace)
    return out


@njit(**_SERIAL)
def _softmax_vjp_ser(y, g, out):
    inplace = _same(g, out)
    for i in range(y.shape[0]):
        _softmax_vjp_row_to(y[i], g[i], out[i], inplace)
    return out


def softmax_rows_vjp(y, g, out):
    """Softmax VJP of each row: ``dx = y * (g - sum(g * y))``.

    Exactly 0 where ``y == 0`` (for finite ``g``); an all-NaN row where ``y`` is NaN; ``out`` may
    be ``g``.
    """
    return _pick(_softmax_vjp_par, _softmax_vjp_ser, y.size)(y, g, out)


@njit(**_PARALLEL)
def _log_softmax_vjp_par(ls, g, out):
    inplace = _same(g, out)
    rows, nch = ls.shape[0], min(ls.shape[0], CHUNKS)
    for c in prange(nch):
        zero = np.zeros(1, dtype=ls.dtype)[0]  # a 0 of ls's dtype, for exp_shifted(ls, 0)
        for i in range(c * rows // nch, (c + 1) * rows // nch):
            _log_softmax_vjp_row_to(ls[i], g[i], out[i], zero, inplace)
    return out


@njit(**_SERIAL)
def _log_softmax_vjp_ser(ls, g, out):
    inplace = _same(g, out)
    zero = np.zeros(1, dtype=ls.dtype)[0]
    for i in range(ls.shape[0]):
        _log_softmax_vjp_row_to(ls[i], g[i], out[i], zero, inplace)
    return out


def log_softmax_rows_vjp(ls, g, out):
    """Log-softmax VJP of each row: ``dx = g - exp(ls) * sum(g)``.

    ``g`` itself where ``ls == -inf``; an all-NaN row where ``ls`` is NaN; ``out`` may be ``g``.
    """
    return _pick(_log_softmax_vjp_par, _log_softmax_vjp_ser, ls.size)(ls, g, out)


@njit(**_SERIAL)
def online_softmax_rows(x, out):
    """Softmax of each row with a one-pass normaliser (Milakov & Gimelshein, arXiv 1805.02867).

    One pass keeps the running maximum ``m`` and ``d = sum(exp(x - m))``, rescaling ``d`` by
    ``exp(m_old - m_new)`` whenever the maximum grows; a second pass writes ``exp(x - m) / d``.
    ``d`` carries a Kahan compensation ``comp`` (rescaled with it), so its error does not grow
    with the row length.  Written for clarity (serial, in float64), not speed.  Same edge policy
    as :func:`softmax_rows`; ``out`` may be ``x``.
    """
    n = x.shape[1]
    for i in range(x.shape[0]):
        xi = x[i]
        oi = out[i]
        m = -np.inf
        d = 0.0
        comp = 0.0
        for j in range(n):
            v = np.float64(xi[j])
            if v > m:
                # While m is -inf, d is 0 and exp(m - v) is 0: the first entry sets d = 1.
                scale = exp_shifted(m, v)
                d = d * scale + 1.0
                comp *= scale
                m = v
            elif v != v:
                m = np.nan
                break
            elif v > -np.inf:  # a -inf entry adds exp(-inf) = 0; skip it (and -inf - -inf)
                y = exp_shifted(v, m) - comp
                t = d + y
                comp = (t - d) - y
                d = t
        if not np.isfinite(m):  # NaN, +inf, or all -inf
            for j in range(n):
                oi[j] = np.nan
        else:
            for j in range(n):
                oi[j] = exp_shifted(np.float64(xi[j]), m) / d
    return out
