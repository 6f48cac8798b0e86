"""Compiled row kernels of the sparse maps: Numba loops with the reference's names and results.

The contract, the edge policy and the algorithms are those of
:mod:`npsoftmax.kernels.reference_sparse` (read it first: it explains the max-subtraction and
the clamp to ``-2`` that keeps ``-inf`` masks and huge magnitudes out of every sum); results
agree with it to rounding, not bit for bit (summation orders differ).

How the loops are written, and why
----------------------------------
* ``prange`` runs over rows only; each row copies its shifted, clamped values into a private
  float64 buffer first, which is what makes ``out is x`` (and a VJP's ``out is g``) safe and
  computes float32 rows in float64.
* The row maximum loop tests ``v != v``: ``v > m`` alone would skip a NaN.
* The sort is NumPy's (``np.sort`` of the row buffer), ascending; the sorted row is walked from
  its end, the largest entry first.
* No ``fastmath`` (it would delete the NaN/inf guards); ``error_model="numpy"`` so that a float
  division by zero gives inf/NaN instead of raising ``ZeroDivisionError``.

Legend: ``x`` logits, ``m`` row maximum, ``z`` the shifted, clamped row, ``zs`` ``z`` sorted,
``k`` support size, ``tau`` threshold, ``y`` output, ``g`` upstream gradient, ``h`` the VJP
weights (``1``, ``sqrt(y)`` or ``y ** (2 - alpha)`` on the support), ``u = h * g``.

Accuracy
--------
Measured against the exact oracles of ``tests/naive.py`` (sparsemax in rationals, 1.5-entmax and
alpha-entmax to 40 digits) on random rows with full random mantissas (10**5 elements per
range, rows of 1000, uniform in [-0.1, 0.1], [-1, 1] and [-10, 10]: supports of about 100, 30
and 10 entries for sparsemax), the largest error over the three ranges; ``@tau``: rows of 100
with three entries moved onto the exact threshold and its neighbouring floats.  ``ulps``: on
the support, in ulps of the exact output; ``units``: the error of ``max(w - tau, 0)`` in units
of ``eps`` times ``|w| + |tau|`` (``w = (alpha - 1) (x - m)``), the kernel's own error, since
``y`` cancels near the boundary of the support and ulps there measure the conditioning (VJPs:
``eps`` times the size of the terms of ``h * (g - ratio)``); ``off``: nonzero outputs where the
exact one is 0.  ``entmax_bisect_rows`` runs to convergence (the default of
``npsoftmax.entmax_bisect``; ``n_iter = 1100`` is only a cap).  Reproduce with
``python -m tests.kernels.test_sparse_accuracy 1100`` (numpy: the reference twins)::

                                             ulps          units       units@tau      off@tau
    kernel                 alpha dtype   numba  numpy numba  numpy numba  numpy numba  numpy
    ----------------------------------------------------------------------------------------
    sparsemax_rows             2 float32    0.5    0.5  0.487  0.487   0.42   0.42      0      0
    entmax15_rows            1.5 float32    0.5    0.5  0.229  0.229  0.223  0.223      0      0
    entmax_bisect_rows      1.25 float32    0.5    0.5  0.122  0.122  0.105  0.105      0      0
    entmax_bisect_rows       1.5 float32    0.5    0.5  0.229  0.229  0.223  0.223      0      0
    entmax_bisect_rows         2 float32    0.5    0.5  0.487  0.487   0.42   0.42      0      0
    entmax_bisect_rows         3 float32    0.5    0.5  0.871  0.871  0.937  0.937      0      0
    sparsemax_rows_vjp         2 float32      -      -  0.403  0.403  0.375  0.375      0      0
    entmax15_rows_vjp        1.5 float32      -      -  0.374  0.374  0.362  0.362      0      0
    entmax_bisect_rows_vjp  1.25 float32      -      -   0.39   0.39  0.382  0.382      0      0
    entmax_bisect_rows_vjp   1.5 float32      -      -  0.374  0.374  0.362  0.362      0      0
    entmax_bisect_rows_vjp     2 float32      -      -  0.403  0.403  0.375  0.375      0      0
    entmax_bisect_rows_vjp     3 float32      -      -  0.445  0.445  0.454  0.454      0      0
    sparsemax_rows             2 float64  5.2e4  1.4e4   1.63  0.995   1.33  0.943      2      2
    entmax15_rows            1.5 float64  1.7e5  1.7e5   4.63   1.87   1.66  0.929      7      3
    entmax_bisect_rows      1.25 float64  1.3e6  3.8e5    3.1   1.02   1.08  0.961     18     17
    entmax_bisect_rows       1.5 float64  1.7e5  1.7e5   4.68   1.86   1.77  0.929     26     19
    entmax_bisect_rows         2 float64  1.4e4  1.9e4   5.12   1.32    2.6   1.33      0      0
    entmax_bisect_rows         3 float64  3.2e4  3.2e4   27.3   27.3  6.7e7  6.7e7      0      0
    sparsemax_rows_vjp         2 float64      -      -  0.953  0.731    0.8    0.8      0      0
    entmax15_rows_vjp        1.5 float64      -      -   1.99  0.932   1.05  0.936      0      0
    entmax_bisect_rows_vjp  1.25 float64      -      -   1.43   1.01   1.38   1.07      0      0
    entmax_bisect_rows_vjp   1.5 float64      -      -   1.99  0.932   1.05  0.936      0      0
    entmax_bisect_rows_vjp     2 float64      -      -  0.953  0.731    0.8    0.8      0      0
    entmax_bisect_rows_vjp     3 float64      -      -   1.79   1.44   1.85   2.64      0      0
    (n_iter = 1100; nonzero outputs off the support on random rows: 0)

float32 rows are computed in float64 and rounded once: every output within half an ulp.  In
float64 every kernel is within 5 units, and no output off the support is nonzero on random
rows, except the bisection at alpha 3 (27 units: the threshold is known to an ulp of ``tau``,
which ``y = sqrt(w - tau)`` amplifies where ``w - tau`` is small).  With the entmax package's
fixed ``n_iter = 50`` (``python -m tests.kernels.test_sparse_accuracy 50``) the bracket that 50
halvings leave (``2 ** -51`` in ``tau``, large against a small ``|tau|``) gave 16, 103 and 1570
units at alpha 1.5, 2 and 3.  An entry within an ulp of the threshold may come out as a tiny
positive number (``off@tau``); at ``alpha > 2`` up to ``sqrt(eps) = 1.5e-8`` (``y = sqrt(w -
tau)`` at alpha 3), which the normalisation spreads over the row (every output off by ~1e-8
relative, ``units@tau``): the map is that ill-conditioned there (its Jacobian is unbounded at
the boundary), and both twins agree.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .numba_cache import drop_stale_cache
from .numba_vectors import wide_vectors

# As numba_cpu's: the module whose code these kernels inline (the vector-width attribute).
INLINED = ("numba_vectors",)
drop_stale_cache("numba_sparse", INLINED)

_ROWS = dict(cache=True, parallel=True, error_model="numpy")


@njit(cache=True, error_model="numpy")
def _shift_row(xi, scale, z):
    """Fill ``z`` with ``max(scale * (x - m), -2)`` (float64); False if ``m`` is not finite.

    ``m`` not finite: the row has a NaN, a ``+inf``, or only ``-inf`` (the NaN-row policy).
    """
    wide_vectors()
    m = -np.inf
    for j in range(xi.shape[0]):
        v = np.float64(xi[j])
        if v > m:
            m = v
        elif v != v:  # NaN
            return False
    if not np.isfinite(m):
        return False
    for j in range(xi.shape[0]):
        # -inf (a mask), and anything below the lowest possible threshold -1, becomes -2.
        z[j] = max(scale * (np.float64(xi[j]) - m), -2.0)
    return True


@njit(cache=True, error_model="numpy")
def _fill_nan(oi):
    wide_vectors()
    for j in range(oi.shape[0]):
        oi[j] = np.nan


@njit(**_ROWS)
def sparsemax_rows(x, out):
    """Sparsemax of each row: ``y = max(z - tau, 0)`` with the sort-based threshold."""
    n = x.shape[1]
    for i in prange(x.shape[0]):
        wide_vectors()
        z = np.empty(n)
        if not _shift_row(x[i], 1.0, z):
            _fill_nan(out[i])
            continue
        zs = np.sort(z)
        k = 1
        cs = 0.0
        for j in range(n):  # j + 1 = candidate support size, zs[n - 1 - j] its smallest entry
            v = zs[n - 1 - j]
            cs += v
            if 1.0 + (j + 1) * v > cs:
                k = j + 1
        s = 0.0
        for j in range(k):
            s += zs[n - 1 - j]
        tau = (s - 1.0) / k
        for j in range(n):
            out[i, j] = max(z[j] - tau, 0.0)
    return out


@njit(**_ROWS)
def sparsemax_rows_vjp(y, g, out):
    """Sparsemax VJP of each row: ``dx = s * (g - mean of g over the support s = y > 0)``."""
    n = y.shape[1]
    for i in prange(y.shape[0]):
        wide_vectors()
        if _has_nan(y[i]):
            _fill_nan(out[i])
            continue
        k = 0
        s = 0.0
        for j in range(n):
            if y[i, j] > 0:
                k += 1
                s += np.float64(g[i, j])
        mean = s / k
        for j in range(n):
            out[i, j] = np.float64(g[i, j]) - mean if y[i, j] > 0 else 0.0
    return out


@njit(cache=True, error_model="numpy")
def _has_nan(yi):
    wide_vectors()
    for j in range(yi.shape[0]):
        if yi[j] != yi[j]:
            return True
    return False


@njit(**_ROWS)
def entmax15_rows(x, out):
    """Exact 1.5-entmax of each row: ``y = max(z - tau, 0) ** 2``, ``z = (x - m) / 2``."""
    n = x.shape[1]
    for i in prange(x.shape[0]):
        wide_vectors()
        z = np.empty(n)
        if not _shift_row(x[i], 0.5, z):
            _fill_nan(out[i])
            continue
        zs = np.sort(z)
        k = 0
        cs = 0.0
        cs2 = 0.0
        for j in range(n):
            v = zs[n - 1 - j]
            cs += v
            cs2 += v * v
            mean = cs / (j + 1)
            ss = cs2 - (j + 1) * mean * mean
            tau_j = mean - math.sqrt(max((1.0 - ss) / (j + 1), 0.0))
            if tau_j <= v:
                k += 1
        # tau again on the support, with a two-pass variance (no cancellation).
        mean = 0.0
        for j in range(k):
            mean += zs[n - 1 - j]
        mean /= k
        ss = 0.0
        for j in range(k):
            d = zs[n - 1 - j] - mean
            ss += d * d
        tau = mean - math.sqrt(max((1.0 - ss) / k, 0.0))
        for j in range(n):
            d = max(z[j] - tau, 0.0)
            out[i, j] = d * d
    return out


@njit(cache=True, error_model="numpy")
def _entmax_vjp_row(h, gi, oi):
    """``oi = u - (sum(u) / sum(h)) * h`` with ``u = h * g`` on the support ``h > 0``."""
    wide_vectors()
    su = 0.0
    sh = 0.0
    for j in range(h.shape[0]):
        if h[j] > 0:
            su += h[j] * np.float64(gi[j])
            sh += h[j]
    ratio = su / sh
    for j in range(h.shape[0]):
        if h[j] > 0:
            oi[j] = h[j] * np.float64(gi[j]) - ratio * h[j]
        else:
            oi[j] = 0.0


@njit(**_ROWS)
def entmax15_rows_vjp(y, g, out):
    """1.5-entmax VJP of each row: ``dx = u - (sum(u) / sum(h)) * h``, ``h = sqrt(y)``."""
    n = y.shape[1]
    for i in prange(y.shape[0]):
        wide_vectors()
        if _has_nan(y[i]):
            _fill_nan(out[i])
            continue
        h = np.empty(n)
        for j in range(n):
            h[j] = math.sqrt(np.float64(y[i, j])) if y[i, j] > 0 else 0.0
        _entmax_vjp_row(h, g[i], out[i])
    return out


@njit(**_ROWS)
def entmax_bisect_rows(x, alpha, n_iter, out):
    """alpha-entmax of each row by bisection on ``tau`` in ``[-1, -(1/n) ** (alpha - 1)]``.

    At most ``n_iter`` halvings, fewer once the bracket is below float64's resolution at ``tau``.
    """
    n = x.shape[1]
    if n == 0:
        return out
    a1 = alpha - 1.0
    inv = 1.0 / a1
    width0 = 1.0 - (1.0 / n) ** a1
    for i in prange(x.shape[0]):
        wide_vectors()
        z = np.empty(n)
        if not _shift_row(x[i], a1, z):
            _fill_nan(out[i])
            continue
        tau_lo = -1.0
        width = width0
        for _ in range(n_iter):
            width /= 2.0
            tau_mid = tau_lo + width
            if tau_mid == tau_lo:
                break  # the bracket is below float64's resolution at tau: converged
            s = 0.0
            for j in range(n):
                d = z[j] - tau_mid
                if d > 0:
                    s += d**inv
            if s >= 1.0:  # the root is at or above tau_mid
                tau_lo = tau_mid
        tau = tau_lo + width / 2.0
        y = np.empty(n)
        s = 0.0
        for j in range(n):
            d = z[j] - tau
            y[j] = d**inv if d > 0 else 0.0
            s += y[j]
        for j in range(n):  # ensure_sum_one; the maximum keeps s > 0
            out[i, j] = y[j] / s
    return out


@njit(**_ROWS)
def entmax_bisect_rows_vjp(y, g, alpha, out):
    """alpha-entmax VJP of each row: formula (B) with ``h = y ** (2 - alpha)`` on the support."""
    n = y.shape[1]
    b = 2.0 - alpha
    for i in prange(y.shape[0]):
        wide_vectors()
        if _has_nan(y[i]):
            _fill_nan(out[i])
            continue
        h = np.empty(n)
        for j in range(n):
            h[j] = np.float64(y[i, j]) ** b if y[i, j] > 0 else 0.0
        _entmax_vjp_row(h, g[i], out[i])
    return out
