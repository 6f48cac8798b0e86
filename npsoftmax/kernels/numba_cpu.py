"""Compiled row kernels: Numba loops with the names, signatures and results of the reference.

The contract is that of :mod:`npsoftmax.kernels.reference` (2-D C-contiguous ``(rows, classes)``
float32 or float64 input, a caller-provided ``out`` that may alias the input, the per-row edge
policy of design.md); results agree with the reference to a few ulps, not bit for bit (``exp``,
``log1p`` and the summation order differ).

How the loops are written, and why
----------------------------------
* ``prange`` runs over rows only: rows are independent, so no two threads touch one row.
* Each row is a few simple passes (max; exp and sum; scale), each reading ``x[i, j]`` before it
  writes ``out[i, j]`` at the same ``j`` and later passes reading only ``out``: that is what makes
  ``out is x`` (and a VJP's ``out is g``) safe.
* float32 rows are computed in float64 (``x - m``, ``exp``, the sums) and rounded when stored:
  float32 arithmetic would round ``x - m``, and exp turns that absolute error of up to
  ``|x - m| * 2**-24`` into a relative one (tens of ulps for ``|x - m|`` near 100).
* The max loop tests ``v != v``: ``if v > m`` alone skips NaN (every comparison with NaN is
  false), so NaN would not propagate as it does in ``np.max``.
* The forward sums start at ``s = 1`` (the first maximum's ``exp(0)``) and add every other term
  ``e <= 1 <= s`` with Fast2Sum, whose error term ``(s - s_new) + e`` is exact because
  ``s >= e``: the sum is accurate to about one ulp for any row length (NumPy's pairwise sum, in
  the reference, to about ``log2(n)`` ulps at worst), and ``t = (s - 1) + c`` feeds ``log1p``.
* No ``fastmath``: ``reassoc`` would fold the Fast2Sum error term to zero, and ``nnan``/``ninf``
  would delete the NaN/inf guards (variants.md section 5, item 10).  ``error_model="numpy"`` so
  that a float division by zero gives inf/NaN instead of raising ``ZeroDivisionError``.
* Math names: ``x`` logits, ``m`` row max, ``jm`` index of the first max, ``e = exp(x - m)``,
  ``s = sum(e)``, ``c`` its rounding error, ``t = s - 1``, ``y`` softmax, ``ls`` log_softmax,
  ``g`` upstream gradient.

Accuracy
--------
Measured on random rows (10**5 elements, rows of 1000, uniform in [-50, 50] and [-1e3, 1e3]),
against an oracle computed with 40-digit decimal arithmetic from the exact input values
(``tests/naive.py``) and rounded to the dtype: the largest distance in ulps.  The VJPs take
``y = softmax(x)`` or ``ls = log_softmax(x)`` rounded to the dtype and ``g`` standard normal, and
their error is in units of ``eps * y * (|g| + |sum(g * y)|)`` resp. ``eps * (|g| + y * sum|g|)``,
because ``g - sum(...)`` may cancel.  Reproduce with ``python -m tests.kernels.test_accuracy``.

ACCURACY_TABLE

float64 softmax is the one kernel above a few ulps, and it is the conditioning of ``exp``, not
the algorithm: ``x - m`` is rounded to float64 with an absolute error up to ``|x - m| * 2**-53``,
which ``exp`` turns into a relative error, so the error of ``y_j`` is at most about
``2 + |x_j - m|`` ulps (tested), large only for tiny probabilities.  float32 avoids this by
computing in float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# cache: compile once per dtype, then load from __pycache__.  See the docstring for why there is
# no fastmath and why error_model is "numpy".
_ROWS = dict(cache=True, parallel=True, error_model="numpy")


@njit(cache=True, error_model="numpy")
def _row_max(xi):
    """Return ``(m, jm)``: the row maximum as float64 and the index of its first occurrence.

    ``m`` is NaN if the row has a NaN (``jm`` then meaningless), ``-inf`` for an empty or all
    ``-inf`` row; otherwise ``xi[jm] == m``.
    """
    m = -np.inf
    jm = 0
    for j in range(xi.shape[0]):
        v = np.float64(xi[j])
        if v > m:
            m = v
            jm = j
        elif v != v:  # NaN: `v > m` is false for it, so look for it explicitly
            return np.nan, 0
    return m, jm


@njit(**_ROWS)
def softmax_rows(x, out):
    """Softmax of each row: ``y = exp(x - m) / sum(exp(x - m))``, ``m = max(x)``.

    An all-NaN row where ``x`` has a NaN, a ``+inf`` or only ``-inf``; ``out`` may be ``x``.
    """
    n = x.shape[1]
    for i in prange(x.shape[0]):
        xi = x[i]
        oi = out[i]
        m, jm = _row_max(xi)
        if not np.isfinite(m):  # NaN, +inf, or all -inf (an empty row writes nothing)
            for j in range(n):
                oi[j] = np.nan
        else:
            s = 1.0  # exp(x[jm] - m) = 1
            c = 0.0  # Fast2Sum: the exact rounding error of each `s + e`, since e <= 1 <= s
            for j in range(jm):
                e = math.exp(np.float64(xi[j]) - m)
                oi[j] = e
                s_new = s + e
                c += (s - s_new) + e
                s = s_new
            for j in range(jm + 1, n):
                e = math.exp(np.float64(xi[j]) - m)
                oi[j] = e
                s_new = s + e
                c += (s - s_new) + e
                s = s_new
            oi[jm] = 1.0
            s += c
            for j in range(n):
                oi[j] = oi[j] / s
    return out


@njit(cache=True, error_model="numpy")
def _sum_exp_others(xi, m, jm):
    """Return ``t = sum(exp(x_j - m) for j != jm)`` in float64 (compensated, see module doc)."""
    s = 1.0
    c = 0.0
    for j in range(jm):
        e = math.exp(np.float64(xi[j]) - m)
        s_new = s + e
        c += (s - s_new) + e
        s = s_new
    for j in range(jm + 1, xi.shape[0]):
        e = math.exp(np.float64(xi[j]) - m)
        s_new = s + e
        c += (s - s_new) + e
        s = s_new
    # s - 1 is exact (s >= 1 is a float, so 1 is a multiple of its ulp).
    return (s - 1.0) + c


@njit(**_ROWS)
def log_softmax_rows(x, out):
    """Log-softmax of each row: ``ls = (x - m) - log(sum(exp(x - m)))``, ``m = max(x)``.

    Computed as ``(x - m) - log1p(t)``: in log space, and accurate for a dominant entry.  An
    all-NaN row where ``x`` has a NaN, a ``+inf`` or only ``-inf``; ``out`` may be ``x``.
    """
    n = x.shape[1]
    for i in prange(x.shape[0]):
        xi = x[i]
        oi = out[i]
        m, jm = _row_max(xi)
        if not np.isfinite(m):
            for j in range(n):
                oi[j] = np.nan
        else:
            lg = math.log1p(_sum_exp_others(xi, m, jm))
            for j in range(n):
                # No cancellation: x - m <= 0 <= lg.  x = -inf gives -inf.
                oi[j] = (np.float64(xi[j]) - m) - lg
    return out


@njit(**_ROWS)
def logsumexp_rows(x, out):
    """Log-sum-exp of each row: ``lse = m + log(sum(exp(x - m)))``, ``m = max(x)``.

    ``out`` has shape ``(rows,)``.  ``-inf`` for an empty or all ``-inf`` row, ``+inf`` for a row
    with ``+inf`` and no NaN, NaN for a row with a NaN.
    """
    for i in prange(x.shape[0]):
        xi = x[i]
        m, jm = _row_max(xi)
        if np.isfinite(m):
            out[i] = m + math.log1p(_sum_exp_others(xi, m, jm))
        else:
            out[i] = m  # NaN, +inf or -inf is the answer itself (and avoids inf - inf)
    return out


@njit(**_ROWS)
def softmax_rows_vjp(y, g, out):
    """Softmax VJP of each row: ``dx = y * (g - sum(g * y))``.

    Exactly 0 where ``y == 0`` (for finite ``g``); an all-NaN row where ``y`` is NaN; ``out`` may
    be ``g``.
    """
    n = y.shape[1]
    for i in prange(y.shape[0]):
        dot = 0.0
        for j in range(n):
            dot += np.float64(g[i, j]) * np.float64(y[i, j])
        for j in range(n):
            yj = np.float64(y[i, j])
            # y * (g - dot), expanded so that no intermediate overflows (see the reference).
            out[i, j] = yj * np.float64(g[i, j]) - yj * dot
    return out


@njit(**_ROWS)
def log_softmax_rows_vjp(ls, g, out):
    """Log-softmax VJP of each row: ``dx = g - exp(ls) * sum(g)``.

    ``g`` itself where ``ls == -inf``; an all-NaN row where ``ls`` is NaN; ``out`` may be ``g``.
    """
    n = ls.shape[1]
    for i in prange(ls.shape[0]):
        sg = 0.0
        for j in range(n):
            sg += np.float64(g[i, j])
        for j in range(n):
            out[i, j] = np.float64(g[i, j]) - math.exp(np.float64(ls[i, j])) * sg
    return out
