"""One row of each compiled kernel: the passes over a row, written to be vectorised.

:mod:`npsoftmax.kernels.numba_cpu` runs these functions over the rows of an array (in parallel
chunks) and holds the public kernels; everything here works on 1-D slices, one row at a time,
and is inlined into those loops (``inline="always"``).

How a row is written, and why
-----------------------------
* Each row is a few passes: the minimum and maximum (from memory); then, block by block of
  ``BLOCK`` entries so that the block is still in the L1 cache when it is read again, the
  exponentials and their sum; finally the scaling.  Every pass is a simple loop over a slice
  that LLVM vectorises: the exponential is the polynomial ``exp_shifted`` of
  :mod:`npsoftmax.kernels.numba_exp` (libm's ``exp`` would keep the loop scalar), or its
  cheaper ``exp_shifted_normal`` when the row's minimum shows that no result is subnormal (the
  usual case; a ``-inf`` mask or a row wider than ~86 in float32 takes the exact path).
* While the exponentials are computed, the *next* row is loaded into the cache a step at a
  time (``ahead``, see :mod:`npsoftmax.kernels.numba_prefetch`): the first pass of a row would
  otherwise wait on memory with nothing to compute.
* ``out is x`` is safe: each pass reads ``x[i, j]`` before writing ``out[i, j]`` at the same
  ``j``, and later passes read only ``out`` (log_softmax's last pass still needs ``x``: it
  keeps its exponentials in ``out`` when that is another array, else in a scratch block).
  And as fast: when ``out`` is ``x``, the row functions get one array for both (see
  ``same``), because LLVM runs a scalar loop when two arrays it was given overlap (3.4x
  slower, measured).
* Edge policy without branches in the hot loops: a row holding NaN or ``+inf``, or only
  ``-inf``, has a NaN among its shifted exponentials, so its sum is NaN and the scaling spreads
  it over the row; ``-inf`` entries give ``exp = 0``.  log_softmax and logsumexp test the row
  maximum explicitly.  ``error_model="numpy"``: a float division by zero gives inf/NaN instead of
  raising ``ZeroDivisionError``.
* ``fastmath`` is only ``{"contract"}`` (FMA): ``reassoc`` would cancel TwoSum's error terms, and
  ``nnan``/``ninf`` would delete the NaN and inf semantics the edge policy relies on.
* Sums are accumulated in float64 for both dtypes.  float32 results are rounded once: the
  log-space outputs from float64, the softmax's scaling by a fused multiply-add with the two
  float32 halves of the float64 factor ``w / s`` (:mod:`npsoftmax.kernels.numba_round`).
* Math names: ``x`` logits, ``m`` row max, ``e = exp(x - m)``, ``s`` the sum of ``e``, ``t`` the sum
  without the maxima and ``c`` their count (``s = c + t``), ``lg = log(s)``, ``y`` softmax, ``ls``
  log_softmax, ``g`` upstream gradient.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .numba_exp import FASTMATH, exp_shifted, exp_shifted_normal, normal_range
from .numba_prefetch import PREFETCH_MIN_ROW, PREFETCH_STEP, prefetch
from .numba_reduce import row_dot, row_min_max, row_sum
from .numba_round import minus_log_sum, scale_row

_ROW = dict(inline="always", error_model="numpy", fastmath=FASTMATH)
# Entries per block of the exp pass: 8 KiB of float32, well inside a 32 KiB L1 data cache.
BLOCK = 2048


# -- the passes --------------------------------------------------------------------------------
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
def _block_of(eo, lo, n, size):
    """Where block ``lo`` (of ``size`` entries) of a row of ``n`` goes: its place in ``eo`` when
    ``eo`` is as long as the row, else the start of ``eo``, one block's scratch reused."""
    return eo[lo : lo + size] if eo.shape[0] == n else eo[:size]


@njit(**_ROW)
def _exp_block_ahead(xb, eb, m, normal, ahead, lo):
    """``_exp_block`` in steps of ``PREFETCH_STEP`` entries, each step first asking for the same
    entries of ``ahead`` (the next row, as long as this one) from ``lo`` on: see
    ``numba_prefetch``."""
    n = xb.shape[0]
    for a in range(0, n, PREFETCH_STEP):
        b = min(a + PREFETCH_STEP, n)
        prefetch(ahead, lo + a, lo + b)
        _exp_block(xb[a:b], eb[a:b], m, normal)


@njit(**_ROW)
def _exp_sum(xi, eo, m, normal, inplace, ahead):
    """``sum(exp(xi - m))`` in float64, each block's exponentials written to ``eo`` first.

    ``eo`` is a row as long as ``xi`` (each block at its place; ``inplace``: it is ``xi``, and
    the blocks get one slice for both, see ``same``) or a scratch of one block, reused.
    ``ahead``, the next row, is loaded into the cache meanwhile when the row has at least
    ``PREFETCH_MIN_ROW`` entries (a shorter row's successor is near, and the steps cost more
    than they save, see ``numba_prefetch``).
    """
    n = xi.shape[0]
    fetch = n >= PREFETCH_MIN_ROW
    s = 0.0
    for lo in range(0, n, BLOCK):
        if inplace:
            xb = eb = eo[lo : lo + BLOCK]
        else:
            xb = xi[lo : lo + BLOCK]
            eb = _block_of(eo, lo, n, xb.shape[0])
        if fetch:
            _exp_block_ahead(xb, eb, m, normal, ahead, lo)
        else:
            _exp_block(xb, eb, m, normal)
        s += row_sum(eb)
    return s


@njit(**_ROW)
def softmax_row(xi, oi, w, inplace, ahead):
    """``oi = w * softmax(xi)``: ``w`` is 1.0 for the softmax itself (the product is then exact
    and LLVM folds it away), a row weight for ``numba_cpu.weighted_softmax_rows``; ``ahead``
    the next row, prefetched meanwhile."""
    n = xi.shape[0]
    if n == 0:
        return
    xmin, m = row_min_max(xi)
    normal = normal_range(xmin, m)
    s = _exp_sum(xi, oi, m, normal, inplace, ahead)  # s >= 1 (exp(0) = 1 at the max), or NaN
    scale_row(oi, s, w, np.float64(xmin) - np.float64(m))


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
def _log_sum(xi, xmin, m, scratch, ahead):
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
    s = _exp_sum(xi, scratch, m, normal, False, ahead)
    if s >= (LOG_SUM_FLOOR_F64 if xi.itemsize == 8 else LOG_SUM_FLOOR_F32):
        return math.log(s)
    t = 0.0
    c = 0
    for lo in range(0, n, BLOCK):
        xb = xi[lo : lo + BLOCK]
        eb = _block_of(scratch, lo, n, xb.shape[0])
        c += _exp_block_below(xb, eb, m, normal)
        t += row_sum(eb)
    return math.log(c) + math.log1p(t / c)


@njit(**_ROW)
def _log_softmax_into(xi, oi, scratch, ahead):
    n = xi.shape[0]
    if n == 0:
        return
    xmin, m = row_min_max(xi)
    lg = _log_sum(xi, xmin, m, scratch, ahead) if np.isfinite(m) else np.nan
    for j in range(n):
        oi[j] = minus_log_sum(xi[j], m, lg)  # NaN everywhere when lg is NaN


@njit(**_ROW)
def _exp_block_below_f64(xb, eb, m, normal):
    """``_exp_block_below`` of a float32 block with float64 exponentials: ``eb`` is float64,
    ``m`` the float32 maximum; returns the count of the maxima (left out of ``eb``)."""
    m64 = np.float64(m)
    c = np.int64(0)
    if normal:
        for j in range(xb.shape[0]):
            top = xb[j] == m
            e = exp_shifted_normal(np.float64(xb[j]), m64)
            eb[j] = 0.0 if top else e
            c += np.int64(1) if top else np.int64(0)
    else:
        for j in range(xb.shape[0]):
            top = xb[j] == m
            e = exp_shifted(np.float64(xb[j]), m64)
            eb[j] = 0.0 if top else e
            c += np.int64(1) if top else np.int64(0)
    return c


@njit(**_ROW)
def _log_sum_f64(xi, xmin, m, wide):
    """``lg = log(sum(exp(x - m)))`` of a float32 row with float64 exponentials.

    The second pass of ``_log_sum`` (the ``c`` maxima apart, the others summed as ``t``) in
    float64, block by block through ``wide``, a float64 scratch of one block.
    """
    n = xi.shape[0]
    normal = normal_range(np.float64(xmin), np.float64(m))
    t = 0.0
    c = 0
    for lo in range(0, n, BLOCK):
        xb = xi[lo : lo + BLOCK]
        eb = wide[: xb.shape[0]]
        c += _exp_block_below_f64(xb, eb, m, normal)
        t += row_sum(eb)
    return math.log(c) + math.log1p(t / c)


@njit(**_ROW)
def logsumexp_row(xi, scratch, wide, ahead):
    """``m + log(sum(exp(x - m)))`` of one row in float64; ``scratch`` holds a block of the
    row's dtype, ``wide`` a float64 block.

    A float32 row whose result is near 0 (``m`` close to ``-lg``) is summed again with float64
    exponentials: each float32 exponential carries up to about half a float32 ulp, so ``lg``
    carries up to about ``eps32 * lg / 2`` in absolute terms, and ``m + lg`` cancels it into
    about ``lg / |m + lg|`` ulps of the result (102 ulps at ``x = [-0.987, -0.469]``, thousands
    closer to 0).  The test ``lg > |m + lg|`` (a cancellation factor above 1; only rows with
    ``-2 lg < m < 0``) keeps the error within about 1.2 ulps, as the reference's float64 sum
    does.  Such rows pay a second, float64 exp pass (the logsumexp of log-probabilities, every
    row near 0, took 2-3x as long, measured); others one comparison.  log_softmax and
    cross_entropy need no such pass: their terms do not cancel.
    """
    n = xi.shape[0]
    if n == 0:
        return -np.inf  # the empty sum is 0
    xmin, m = row_min_max(xi)
    if np.isfinite(m):
        lg = _log_sum(xi, xmin, m, scratch, ahead)
        lse = np.float64(m) + lg
        if xi.itemsize == 4 and lg > abs(lse):
            lse = np.float64(m) + _log_sum_f64(xi, xmin, m, wide)
        return lse
    # NaN, +inf, or -inf (all -inf): the maximum is the answer, unless a NaN hides behind a +inf
    # (row_min_max may skip a NaN).
    for j in range(n):
        if xi[j] != xi[j]:
            return np.nan
    return np.float64(m)


@njit(**_ROW)
def cross_entropy_row(xi, ti, scratch, ahead):
    """``-ls[ti] = log(sum(exp(x - m))) - (x[ti] - m)`` in float64, rounded once by the caller.

    Both terms are >= 0, so nothing cancels: a confident prediction's small loss keeps its
    digits (``lse - x[ti]`` in the dtype would lose them to the rounding of ``lse``).
    """
    if xi.shape[0] == 0:
        return np.nan  # no class to be the target
    xmin, m = row_min_max(xi)
    if not np.isfinite(m):
        return np.nan  # log_softmax's row policy: a NaN, a +inf, or only -inf
    return _log_sum(xi, xmin, m, scratch, ahead) - (np.float64(xi[ti]) - np.float64(m))


@njit(**_ROW)
def _softmax_vjp_into(yi, gi, oi):
    dot = row_dot(gi, yi)
    for j in range(yi.shape[0]):
        yj = np.float64(yi[j])
        # y * (g - dot), expanded so that no intermediate overflows (see the reference).
        oi[j] = yj * np.float64(gi[j]) - yj * dot


@njit(**_ROW)
def _log_softmax_vjp_into(li, gi, oi, zero):
    sg = row_sum(gi)
    for j in range(li.shape[0]):
        # exp(ls) = exp_shifted(ls, 0): ls <= 0, and -inf gives 0.
        oi[j] = np.float64(gi[j]) - np.float64(exp_shifted(li[j], zero)) * sg


@njit(**_ROW)
def same(a, b):
    """Whether ``b`` is ``a`` (the same data): the kernels' ``out`` may be their input."""
    return a.ctypes.data == b.ctypes.data


# When ``out`` is the input, a row function is given *one* array for both (softmax's row does
# it itself, for its blocks).  Given two arrays, LLVM vectorises a loop like ``o[j] = f(x[j])``
# behind a runtime check that their ranges do not overlap, and runs the scalar loop when they
# do: ``out=x`` was 3.4x slower than a separate output (softmax, float32, measured).  Given one
# array, it sees one pointer, a dependence at distance 0, and vectorises without a check.
@njit(**_ROW)
def log_softmax_row(xi, oi, scratch, inplace, ahead):
    """``oi = log_softmax(xi)``; ``scratch`` holds a block (used only when ``oi`` is ``xi``)."""
    if inplace:
        _log_softmax_into(oi, oi, scratch, ahead)  # x is still needed after the exp pass
    else:
        # The output row is the scratch: the exp pass, bound by arithmetic, then brings its lines
        # into the cache (a store first reads its line from memory), and the last pass, a light
        # one, writes to the cache instead of waiting on memory.  12% faster (float32
        # (4096, 32768), 1 and 2 threads, measured); rows wider than the cache lose nothing.
        _log_softmax_into(xi, oi, oi, ahead)


@njit(**_ROW)
def softmax_vjp_row(yi, gi, oi, inplace):
    """``oi = yi * (gi - sum(gi * yi))``; ``inplace``: ``oi`` is ``gi``."""
    if inplace:
        _softmax_vjp_into(yi, oi, oi)
    else:
        _softmax_vjp_into(yi, gi, oi)


@njit(**_ROW)
def log_softmax_vjp_row(li, gi, oi, zero, inplace):
    """``oi = gi - exp(li) * sum(gi)``, ``zero`` a 0 of the dtype; ``inplace``: ``oi`` is ``gi``."""
    if inplace:
        _log_softmax_vjp_into(li, oi, oi, zero)
    else:
        _log_softmax_vjp_into(li, gi, oi, zero)
