"""Compiled row kernels: Numba loops with the names, signatures and results of the reference.

The contract is that of :mod:`npsoftmax.kernels.reference` (2-D C-contiguous ``(rows, classes)``
float32 or float64 input, a caller-provided ``out`` that may alias the input, the per-row edge
policy of design.md); results agree with the reference to a few ulps, not bit for bit.

How the loops are written, and why
----------------------------------
* Rows are split into contiguous chunks run in parallel (``prange`` over chunks, never inside a
  row): rows are independent, each thread streams through its own part of memory, and a fresh
  output is first touched (page-faulted) by the thread that writes it.
* One row's passes (the blocks, the exponentials, the in-place rule, the edge policy, the
  float64 sums) are :mod:`npsoftmax.kernels.numba_rows`.  The loops hand each row function
  the next row of its chunk (``next_row``) to prefetch (:mod:`~.numba_prefetch`).
* Each serial kernel and each ``prange`` body starts with ``wide_vectors()``: on AVX-512 CPUs
  its loops then use 512-bit vectors, where LLVM's tuning would stop at 256
  (:mod:`npsoftmax.kernels.numba_vectors`).

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

logsumexp near 0: ``lse = m + lg`` (``lg = log(sum(exp(x - m))) >= 0``) cancels when ``m`` is
close to ``-lg`` (logsumexp of log-probabilities, say), and the absolute error of ``lg`` becomes
a large relative error of a small result; the random rows above never come near it.  A float32
row with ``lg > |lse|`` is summed again with float64 exponentials (see
``numba_rows.logsumexp_row``): measured on rows of 2 to 1000 shifted so that ``lse`` is near 0,
float32 stays within 1.2 ulps (numpy: 0.5), where it reached hundreds to thousands before.
float64 logsumexp (both backends, as ``scipy.special.logsumexp``) has an absolute error bound,
about ``eps * max(1, log(n))``, not a relative one: measured 0.5 ``eps`` absolute on rows of 2
in [-1, 1] shifted towards ``lse = 0``, which was up to 7790 ulps of the small results.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .numba_cache import drop_stale_cache
from .numba_exp import FASTMATH, exp_shifted
from .numba_prefetch import next_row
from .numba_rows import (
    BLOCK,
    cross_entropy_row,
    log_softmax_row,
    log_softmax_vjp_row,
    logsumexp_row,
    same,
    softmax_row,
    softmax_vjp_row,
)
from .numba_threads import pick
from .numba_vectors import wide_vectors

# The modules whose code the kernels below inline: Numba's cache does not see their edits, so a
# stale cache is dropped here, before any kernel loads it (see numba_cache).
INLINED = (
    "numba_exp",
    "numba_prefetch",
    "numba_reduce",
    "numba_round",
    "numba_rows",
    "numba_vectors",
)
drop_stale_cache("numba_cpu", INLINED)

# Each kernel is compiled twice per dtype (cached on disk): a parallel loop over chunks of rows,
# and a serial loop for inputs below PARALLEL_MIN_SIZE entries, where waking the thread pool
# costs more than the work (tens of microseconds when idle, milliseconds on a busy machine);
# numba_threads.pick chooses.
SERIAL = dict(cache=True, error_model="numpy", fastmath=FASTMATH)
PARALLEL = dict(SERIAL, parallel=True)
# Contiguous chunks of rows that prange hands out to the threads.  A constant, not
# ``4 * get_num_threads()``: reading the thread count from compiled code goes through a pointer
# into the threading layer, which would stop Numba from caching the kernel.
CHUNKS = 256


# -- the row loops: parallel and serial twins, and the public kernel that picks one ------------
@njit(**PARALLEL)
def _softmax_par(x, out):
    inplace = same(x, out)
    rows, nch = x.shape[0], min(x.shape[0], CHUNKS)
    for c in prange(nch):
        wide_vectors()
        lo, hi = c * rows // nch, (c + 1) * rows // nch
        for i in range(lo, hi):
            softmax_row(x[i], out[i], 1.0, inplace, x[next_row(i, hi)])
    return out


@njit(**SERIAL)
def _softmax_ser(x, out):
    wide_vectors()
    inplace = same(x, out)
    hi = x.shape[0]
    for i in range(hi):
        softmax_row(x[i], out[i], 1.0, inplace, x[next_row(i, hi)])
    return out


def softmax_rows(x, out):
    """Softmax of each row: ``y = exp(x - m) / sum(exp(x - m))``, ``m = max(x)``.

    An all-NaN row where ``x`` has a NaN, a ``+inf`` or only ``-inf``; ``out`` may be ``x``.
    """
    return pick(_softmax_par, _softmax_ser, x.size)(x, out)


@njit(**PARALLEL)
def _log_softmax_par(x, out):
    inplace = same(x, out)
    rows, nch = x.shape[0], min(x.shape[0], CHUNKS)
    for c in prange(nch):
        wide_vectors()
        # For out=x: the exponentials cannot go to out, x is still needed.
        scratch = np.empty(min(x.shape[1], BLOCK), dtype=x.dtype)
        lo, hi = c * rows // nch, (c + 1) * rows // nch
        for i in range(lo, hi):
            log_softmax_row(x[i], out[i], scratch, inplace, x[next_row(i, hi)])
    return out


@njit(**SERIAL)
def _log_softmax_ser(x, out):
    wide_vectors()
    inplace = same(x, out)
    scratch = np.empty(min(x.shape[1], BLOCK), dtype=x.dtype)
    hi = x.shape[0]
    for i in range(hi):
        log_softmax_row(x[i], out[i], scratch, inplace, x[next_row(i, hi)])
    return out


def log_softmax_rows(x, out):
    """Log-softmax of each row: ``ls = (x - m) - log(sum(exp(x - m)))``, ``m = max(x)``.

    In log space; for a row dominated by its maximum the sum is split as ``c + t`` (see
    ``_log_sum``) so that the largest entry is accurate when the others are tiny.  An all-NaN
    row where ``x`` has a NaN, a ``+inf`` or only ``-inf``; ``out`` may be ``x``.
    """
    return pick(_log_softmax_par, _log_softmax_ser, x.size)(x, out)


@njit(**PARALLEL)
def _logsumexp_par(x, out):
    rows, nch = x.shape[0], min(x.shape[0], CHUNKS)
    for c in prange(nch):
        wide_vectors()
        scratch = np.empty(min(x.shape[1], BLOCK), dtype=x.dtype)
        wide = np.empty(min(x.shape[1], BLOCK) if x.itemsize == 4 else 0, dtype=np.float64)
        lo, hi = c * rows // nch, (c + 1) * rows // nch
        for i in range(lo, hi):
            out[i] = logsumexp_row(x[i], scratch, wide, x[next_row(i, hi)])
    return out


@njit(**SERIAL)
def _logsumexp_ser(x, out):
    wide_vectors()
    scratch = np.empty(min(x.shape[1], BLOCK), dtype=x.dtype)
    # float32 rows whose result is near 0 are summed again in float64 (see logsumexp_row).
    wide = np.empty(min(x.shape[1], BLOCK) if x.itemsize == 4 else 0, dtype=np.float64)
    hi = x.shape[0]
    for i in range(hi):
        out[i] = logsumexp_row(x[i], scratch, wide, x[next_row(i, hi)])
    return out


def logsumexp_rows(x, out):
    """Log-sum-exp of each row: ``lse = m + log(sum(exp(x - m)))``, ``m = max(x)``.

    ``out`` has shape ``(rows,)``.  ``-inf`` for an empty or all ``-inf`` row, ``+inf`` for a row
    with ``+inf`` and no NaN, NaN for a row with a NaN.  Near 0 the float64 result has an
    absolute error bound, not a relative one (see the module's Accuracy notes).
    """
    return pick(_logsumexp_par, _logsumexp_ser, x.size)(x, out)


@njit(**PARALLEL)
def _cross_entropy_par(x, t, out):
    rows, nch = x.shape[0], min(x.shape[0], CHUNKS)
    for c in prange(nch):
        wide_vectors()
        scratch = np.empty(min(x.shape[1], BLOCK), dtype=x.dtype)
        lo, hi = c * rows // nch, (c + 1) * rows // nch
        for i in range(lo, hi):
            out[i] = cross_entropy_row(x[i], t[i], scratch, x[next_row(i, hi)])
    return out


@njit(**SERIAL)
def _cross_entropy_ser(x, t, out):
    wide_vectors()
    scratch = np.empty(min(x.shape[1], BLOCK), dtype=x.dtype)
    hi = x.shape[0]
    for i in range(hi):
        out[i] = cross_entropy_row(x[i], t[i], scratch, x[next_row(i, hi)])
    return out


def cross_entropy_rows(x, t, out):
    """Cross-entropy of each row with a class index: ``out[i] = -log_softmax(x[i])[t[i]]``.

    Computed as ``log(sum(exp(x - m))) - (x[t] - m)`` without writing the log-softmax row:
    ``t`` holds valid indices, ``out`` has shape ``(rows,)``.  NaN where ``x`` has a NaN, a
    ``+inf`` or only ``-inf`` (log_softmax's row policy); ``+inf`` where ``x[t]`` is ``-inf``.
    """
    return pick(_cross_entropy_par, _cross_entropy_ser, x.size)(x, t, out)


@njit(**PARALLEL)
def _weighted_softmax_par(x, w, out):
    inplace = same(x, out)
    rows, nch = x.shape[0], min(x.shape[0], CHUNKS)
    for c in prange(nch):
        wide_vectors()
        lo, hi = c * rows // nch, (c + 1) * rows // nch
        for i in range(lo, hi):
            softmax_row(x[i], out[i], w[i], inplace, x[next_row(i, hi)])
    return out


@njit(**SERIAL)
def _weighted_softmax_ser(x, w, out):
    wide_vectors()
    inplace = same(x, out)
    hi = x.shape[0]
    for i in range(hi):
        softmax_row(x[i], out[i], w[i], inplace, x[next_row(i, hi)])
    return out


def weighted_softmax_rows(x, w, out):
    """Softmax of each row times a weight: ``out[i] = w[i] * softmax(x[i])``, ``w`` of shape
    ``(rows,)``; cross_entropy's VJP (``w * (softmax(x) - onehot(t))``) without a pass for ``w``.

    Same edge policy as :func:`softmax_rows` (an all-NaN row, whatever ``w``); ``out`` may be ``x``.
    """
    return pick(_weighted_softmax_par, _weighted_softmax_ser, x.size)(x, w, out)


@njit(**PARALLEL)
def _softmax_vjp_par(y, g, out):
    inplace = same(g, out)
    rows, nch = y.shape[0], min(y.shape[0], CHUNKS)
    for c in prange(nch):
        wide_vectors()
        for i in range(c * rows // nch, (c + 1) * rows // nch):
            softmax_vjp_row(y[i], g[i], out[i], inplace)
    return out


@njit(**SERIAL)
def _softmax_vjp_ser(y, g, out):
    wide_vectors()
    inplace = same(g, out)
    for i in range(y.shape[0]):
        softmax_vjp_row(y[i], g[i], out[i], inplace)
    return out


def softmax_rows_vjp(y, g, out):
    """Softmax VJP of each row: ``dx = y * (g - sum(g * y))``.

    Exactly 0 where ``y == 0`` (for finite ``g``); an all-NaN row where ``y`` is NaN; ``out`` may
    be ``g``.
    """
    return pick(_softmax_vjp_par, _softmax_vjp_ser, y.size)(y, g, out)


@njit(**PARALLEL)
def _log_softmax_vjp_par(ls, g, out):
    inplace = same(g, out)
    rows, nch = ls.shape[0], min(ls.shape[0], CHUNKS)
    for c in prange(nch):
        wide_vectors()
        zero = np.zeros(1, dtype=ls.dtype)[0]  # a 0 of ls's dtype, for exp_shifted(ls, 0)
        for i in range(c * rows // nch, (c + 1) * rows // nch):
            log_softmax_vjp_row(ls[i], g[i], out[i], zero, inplace)
    return out


@njit(**SERIAL)
def _log_softmax_vjp_ser(ls, g, out):
    wide_vectors()
    inplace = same(g, out)
    zero = np.zeros(1, dtype=ls.dtype)[0]
    for i in range(ls.shape[0]):
        log_softmax_vjp_row(ls[i], g[i], out[i], zero, inplace)
    return out


def log_softmax_rows_vjp(ls, g, out):
    """Log-softmax VJP of each row: ``dx = g - exp(ls) * sum(g)``.

    ``g`` itself where ``ls == -inf``; an all-NaN row where ``ls`` is NaN; ``out`` may be ``g``.
    """
    return pick(_log_softmax_vjp_par, _log_softmax_vjp_ser, ls.size)(ls, g, out)


@njit(**SERIAL)
def online_softmax_rows(x, out):
    """Softmax of each row with a one-pass normaliser (Milakov & Gimelshein, arXiv 1805.02867).

    One pass keeps the running maximum ``m`` and ``d = sum(exp(x - m))``, rescaling ``d`` by
    ``exp(m_old - m_new)`` whenever the maximum grows; a second pass writes ``exp(x - m) / d``.
    ``d`` carries a Kahan compensation ``comp`` (rescaled with it), so its error does not grow
    with the row length.  Written for clarity (serial, in float64), not speed.  Same edge policy
    as :func:`softmax_rows`; ``out`` may be ``x``.
    """
    wide_vectors()
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
