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
``npsoftmax.entmax_bisect``; ``n_iter`` only caps its Newton steps).  Reproduce with
``python -m tests.kernels.test_sparse_accuracy 100`` (numpy: the reference twins)::

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
    entmax_bisect_rows      1.25 float64  1.9e5  6.7e5    3.1   1.08   1.08  0.593     22      3
    entmax_bisect_rows       1.5 float64  5.6e5  3.3e5   4.86   1.53   1.44  0.974     18      5
    entmax_bisect_rows         2 float64  3.4e4  5.5e4   7.86   2.45   1.88   1.97      0      0
    entmax_bisect_rows         3 float64  2.2e3    690   4.42   3.19   3.38   2.84      0      0
    sparsemax_rows_vjp         2 float64      -      -  0.953  0.731    0.8    0.8      0      0
    entmax15_rows_vjp        1.5 float64      -      -    1.3  0.974   1.26   1.04      0      0
    entmax_bisect_rows_vjp  1.25 float64      -      -   2.14   1.22   2.36   1.19      0      0
    entmax_bisect_rows_vjp   1.5 float64      -      -   1.25  0.983   1.26   1.05      0      0
    entmax_bisect_rows_vjp     2 float64      -      -  0.953  0.731    0.8    0.8      0      0
    entmax_bisect_rows_vjp     3 float64      -      -   1.49   1.52   2.64   1.59      0      0
    (n_iter = 100; nonzero outputs off the support on random rows: 0)

float32 rows are computed in float64 and rounded once: every output within half an ulp.  In
float64 every kernel is within 8 units, and no output off the support is nonzero on random
rows.  ``entmax_bisect_rows`` decides its support on the sorted logits and never rounds
``w - tau`` (see the reference twin), so an entry at the threshold moves the rest of the row
by rounding only (``units@tau``; the bisection on ``tau`` it replaced gave 27 units at alpha
3 on random rows and 6.7e7 at the threshold, and could not represent outputs below about
``eps ** (1 / (alpha - 1))`` at large alpha).  An entry within an ulp of the threshold may
still come out as a tiny positive number (``off@tau``): either side is within rounding there.
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
def _entmax_vjp_row(h, hs, gi, oi):
    """``oi = u - (sum(u) / sum(h)) * h`` with ``u = h * g`` on the support ``hs > 0``, as
    ``h (g - gbar)`` except at the entry of largest weight (``hs = h / max(h) = 1``) when it
    outweighs the rest, which gets the reference twin's cancellation-free
    ``sum_{j != *} h_j (g* - g_j) / sum(hs)``."""
    wide_vectors()
    if hs.shape[0] == 0:
        return
    star = 0
    for j in range(hs.shape[0]):
        if hs[j] > hs[star]:
            star = j
    g_star = np.float64(gi[star])
    sum_hs = 0.0
    sum_hsg = 0.0
    sum_hd = 0.0  # over the others: h_j (g_j - g*)
    for j in range(hs.shape[0]):
        if hs[j] > 0:
            gj = np.float64(gi[j])
            sum_hs += hs[j]
            sum_hsg += hs[j] * gj
            if j != star:
                sum_hd += h[j] * (gj - g_star)
    g_bar = sum_hsg / sum_hs
    for j in range(hs.shape[0]):
        if hs[j] > 0:
            oi[j] = h[j] * (np.float64(gi[j]) - g_bar)
        else:
            oi[j] = 0.0
    if sum_hs < 2.0:  # the largest weight dominates: h (g - gbar) would cancel there
        oi[star] = -sum_hd / sum_hs


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
        h_max = 0.0
        for j in range(n):
            h[j] = math.sqrt(np.float64(y[i, j])) if y[i, j] > 0 else 0.0
            h_max = max(h_max, h[j])
        hs = np.empty(n)
        for j in range(n):
            hs[j] = h[j] / h_max
        _entmax_vjp_row(h, hs, g[i], out[i])
    return out


@njit(cache=True, error_model="numpy")
def _log_d(c, theta, delta):
    """``log(c + delta)`` with ``delta = exp(theta)``, accurate when either term is tiny."""
    if c == 0.0:
        return theta
    if c >= delta:
        lc = math.log(c)
        return lc + math.log1p(math.exp(theta - lc))
    r = c / delta if delta > 1e-290 else math.exp(math.log(c) - theta)
    return theta + math.log1p(r)


@njit(cache=True, error_model="numpy")
def _support_size(xs, a1, inv):
    """The support size ``k``: the largest ``j`` with ``sum_{i < j} (a1 (xs_i - xs_j)) ** inv
    < 1``, ``xs`` the candidates sorted increasingly (so walked from the end)."""
    wide_vectors()
    n_c = xs.shape[0]
    lo = 1
    hi = n_c + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        xk = xs[n_c - mid]
        s = 0.0
        for j in range(n_c - 1, n_c - mid, -1):  # largest first: stop once the mass is 1
            s += (a1 * (xs[j] - xk)) ** inv
            if s >= 1.0:
                break
        if s < 1.0:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True, error_model="numpy")
def _newton_ell(c, a1, inv, n_iter, eps):
    """``ell = log(y_k)`` solving ``sum_j y_j = 1``, ``y_j = (c_j + exp(a1 ell)) ** inv``, by
    the reference's Newton method (two convex models, from the right: see reference_sparse)."""
    wide_vectors()
    k = c.shape[0]
    ell = min(-math.log(k), math.log1p(-c[0]) * inv)
    b = min(a1, 1.0)
    for _ in range(n_iter):
        delta = math.exp(a1 * ell)
        yk = math.exp(ell)
        f = 0.0
        df = 0.0
        for j in range(k):
            if c[j] == 0.0:
                f += yk
                df += yk
            else:
                d = c[j] + delta
                yj = d**inv
                f += yj
                df += yj * (delta / d)
        if not (f > 1.0 and df > 0.0):
            break  # at the root to rounding
        new = ell - f * math.log(f) / df
        q = b * (f - 1.0) / df
        if q < 1.0:
            new = min(new, ell + math.log1p(-q) / b)
        if not new < ell:
            break
        step = ell - new
        ell = new
        if b * step <= 4.0 * eps * (1.0 + b * abs(ell)):
            break
    return ell


@njit(**_ROWS)
def entmax_bisect_rows(x, alpha, n_iter, out):
    """alpha-entmax of each row: support from the sorted candidates, then Newton on the
    pivot's ``log y`` (the algorithm of the reference twin, row by row).

    At most ``n_iter`` Newton steps, fewer once converged.
    """
    n = x.shape[1]
    if n == 0:
        return out
    a1 = alpha - 1.0
    inv = 1.0 / a1
    eps = np.finfo(np.float64).eps
    for i in prange(x.shape[0]):
        wide_vectors()
        z = np.empty(n)
        if not _shift_row(x[i], a1, z):
            _fill_nan(out[i])
            continue
        n_c = 0
        for j in range(n):
            if z[j] > -1.0:  # w > -1: only these can be in the support
                n_c += 1
        xs = np.empty(n_c)
        n_c = 0
        for j in range(n):
            if z[j] > -1.0:
                xs[n_c] = np.float64(x[i, j])
                n_c += 1
        xs = np.sort(xs)
        m = xs[n_c - 1]
        k = _support_size(xs, a1, inv)
        xk = xs[n_c - k]  # the pivot: the smallest entry of the support
        c = np.empty(k)
        for j in range(k):
            c[j] = a1 * (xs[n_c - 1 - j] - xk)  # c[0] for the maximum
        ell = _newton_ell(c, a1, inv, n_iter, eps)
        theta = a1 * ell
        delta = math.exp(theta)
        ld1 = _log_d(c[0], theta, delta)  # log d of the maximum
        d1 = math.exp(ld1)
        s = 0.0
        for j in range(n):
            v = np.float64(x[i, j])
            yj = 0.0
            if v >= xk:
                dd = m - v
                if ld1 > -700.0:
                    t = a1 * dd / d1
                else:
                    t = math.exp(math.log(a1 * dd) - ld1) if dd > 0.0 else 0.0
                if t <= 0.5:  # y_j / y_max = (1 - t) ** inv, relative to the maximum
                    yj = math.exp(math.log1p(-t) * inv)
                else:  # relative to the pivot: d_j = c_j + delta
                    yj = math.exp((_log_d(a1 * (v - xk), theta, delta) - ld1) * inv)
            z[j] = yj
            s += yj
        for j in range(n):  # ensure_sum_one; the maximum has z = 1, so s >= 1
            out[i, j] = z[j] / s
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
        # The largest weight is at the smallest output for alpha > 2, else at the largest.
        ref = 1.0 if b < 0 else 0.0
        for j in range(n):
            v = np.float64(y[i, j])
            if v > 0:
                ref = min(ref, v) if b < 0 else max(ref, v)
        h = np.empty(n)
        hs = np.empty(n)
        for j in range(n):
            v = np.float64(y[i, j])
            h[j] = v**b if v > 0 else 0.0  # may overflow to inf at alpha > 2
            hs[j] = (v / ref) ** b if v > 0 else 0.0  # in (0, 1]
        _entmax_vjp_row(h, hs, g[i], out[i])
    return out
