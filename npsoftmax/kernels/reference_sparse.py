"""Reference row kernels of the sparse maps: vectorised NumPy, written to be read.

sparsemax (Martins & Astudillo, arXiv 1602.02068), exact 1.5-entmax and alpha-entmax by
bisection (Peters, Niculae & Martins, arXiv 1905.05702), with their VJPs.  Every kernel has a
compiled twin with the same name, signature and results (to rounding) in
:mod:`npsoftmax.kernels.numba_sparse`.

Contract (as for :mod:`npsoftmax.kernels.reference`)
-----------------------------------------------------
* 2-D ``(rows, n)`` arrays of one floating dtype; the caller provides ``out`` and gets it back;
  ``out`` may be the input (and a VJP's ``g``): results go through temporaries.
* float32 rows are computed in float64 and rounded once; float64 and longdouble in their own
  precision (these twins are generic, so they also serve longdouble).
* Per-row edge policy; no RuntimeWarning escapes:

  - ``-inf`` entries (masks) get probability 0;
  - a row with a NaN, a ``+inf``, or only ``-inf`` gives an all-NaN row (forward and VJP);
  - ``n == 0`` writes nothing.

* Off the support (``y == 0``) a VJP is exactly 0 and never reads ``g`` there (so a NaN of
  ``g`` on an entry the output ignores does not leak into the row).

Why every forward first clamps
------------------------------
Each map is shift invariant, so the row maximum ``m`` is subtracted first (``z = x - m <= 0``;
that is also what makes the bisection accurate at offsets like ``1e8``, where the popular
implementation returns NaN).  The threshold then lies in ``[-1, 0]`` on the map's own scale, so
an entry below ``-1`` can never be in the support; clamping such entries to ``-2`` changes no
output while removing ``-inf`` (masks) and huge magnitudes from every sum, square and power:
no ``inf - inf``, no overflow.

Legend: ``x`` logits, ``m`` row maximum, ``z = x - m`` (clamped), ``zs`` sorted decreasingly,
``k`` support size, ``tau`` threshold, ``y`` the output, ``g`` upstream gradient, ``s`` support
mask ``y > 0``, ``h = y ** (2 - alpha)`` on the support, ``u = h * g``.
"""

from __future__ import annotations

import numpy as np

from .reference import _store, _work_dtype

_FLOOR = -2.0  # below the lowest possible threshold (-1): see "Why every forward first clamps"


def _shifted_rows(x: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(ok, z)``: rows with a finite maximum, and ``max(scale * (x - m), -2)`` on them.

    ``scale > 0`` puts the row on the map's own scale (``1/2`` for 1.5-entmax, ``alpha - 1`` for
    the bisection).  A float64 ``x - m`` may overflow to ``-inf`` for rows spanning more than the
    float range; the clamp turns it into ``-2`` like any other far-away entry.
    """
    xw = x.astype(_work_dtype(x.dtype))  # a copy: out may alias x
    m = xw.max(axis=1)  # NaN propagates: a NaN row has m = NaN
    ok = np.isfinite(m)  # excludes NaN, +inf and all -inf rows
    with np.errstate(over="ignore"):
        z = np.maximum(scale * (xw[ok] - m[ok, None]), _FLOOR)
    return ok, z


def sparsemax_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Sparsemax of each row: ``y = max(z - tau, 0)``, the projection onto the simplex.

    Sort-based threshold (Martins & Astudillo 2016, Algorithm 1): with ``zs`` sorted
    decreasingly, the support size is ``k = max{j : 1 + j * zs_j > zs_1 + ... + zs_j}`` and
    ``tau = (zs_1 + ... + zs_k - 1) / k``.  ``y`` depends on ``x`` only through values, so
    equal entries always get equal outputs (no tie rule is needed).

    Parameters
    ----------
    x : ndarray, shape (rows, n)
        Logits.
    out : ndarray, shape (rows, n)
        Receives ``y``; may be ``x``.

    Returns
    -------
    out : ndarray
    """
    if x.shape[1] == 0:
        return out
    ok, z = _shifted_rows(x)
    zs = -np.sort(-z, axis=1)
    j = np.arange(1, z.shape[1] + 1, dtype=z.dtype)
    cond = 1.0 + j * zs > np.cumsum(zs, axis=1)  # true on a prefix; j = 1 always (zs_1 = 0)
    k = z.shape[1] - np.argmax(cond[:, ::-1], axis=1)  # the largest j where cond holds
    # tau from a fresh sum over the support (NumPy's pairwise sum, not the running cumsum).
    in_top_k = j[None, :] <= k[:, None]
    tau = (np.sum(np.where(in_top_k, zs, 0.0), axis=1) - 1.0) / k
    _store(out, np.maximum(z - tau[:, None], 0.0), ok, np.nan)
    return out


def sparsemax_rows_vjp(y: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Sparsemax VJP of each row: ``dx = s * (g - mean of g over the support)``, ``s = y > 0``.

    Parameters
    ----------
    y : ndarray, shape (rows, n)
        The sparsemax output (saved by the forward pass).
    g : ndarray, shape (rows, n)
        Upstream gradient; may be ``out``.
    out : ndarray, shape (rows, n)
        Receives ``dx``.

    Returns
    -------
    out : ndarray
        ``dx``: exactly 0 off the support, an all-NaN row where ``y`` has a NaN.
    """
    work = _work_dtype(y.dtype)
    yw, gw = y.astype(work, copy=False), g.astype(work, copy=False)
    ok = ~np.isnan(yw).any(axis=1)
    s = yw[ok] > 0
    gs = np.where(s, gw[ok], 0.0)
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE for non-finite g on the support
        mean = gs.sum(axis=1, keepdims=True) / s.sum(axis=1, keepdims=True)
        _store(out, np.where(s, gs - mean, 0.0), ok, np.nan)
    return out


def entmax15_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Exact 1.5-entmax of each row: ``y = max(z - tau, 0) ** 2`` with ``z = (x - m) / 2``.

    Sort-based threshold (Peters et al. 2019): for each candidate size ``j`` the top ``j``
    entries give ``tau_j = mean_j - sqrt(max(delta_j, 0))`` with ``delta_j = (1 - ss_j) / j``
    and ``ss_j`` the sum of squared deviations from their mean ``mean_j`` (``tau_j`` solves
    ``sum_{i <= j} (zs_i - tau)^2 = 1``); the support size is ``k = #{j : tau_j <= zs_j}``.
    ``tau`` is then recomputed on the support with a two-pass variance (no cancellation).

    Parameters
    ----------
    x : ndarray, shape (rows, n)
        Logits.
    out : ndarray, shape (rows, n)
        Receives ``y``; may be ``x``.

    Returns
    -------
    out : ndarray
    """
    if x.shape[1] == 0:
        return out
    ok, z = _shifted_rows(x, 0.5)
    zs = -np.sort(-z, axis=1)
    j = np.arange(1, z.shape[1] + 1, dtype=z.dtype)
    mean = np.cumsum(zs, axis=1) / j
    ss = np.cumsum(zs * zs, axis=1) - j * mean * mean  # fine for finding k: |zs| <= 2
    tau_j = mean - np.sqrt(np.maximum((1.0 - ss) / j, 0.0))
    k = np.count_nonzero(tau_j <= zs, axis=1)
    tau = _entmax15_tau(zs, k)
    _store(out, np.maximum(z - tau[:, None], 0.0) ** 2, ok, np.nan)
    return out


def _entmax15_tau(zs: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``tau`` solving ``sum_{i <= k} (zs_i - tau)^2 = 1`` with the larger root taken smaller
    than every ``zs_i`` of the support: ``tau = mean - sqrt((1 - ss) / k)``, two-pass ``ss``."""
    top = np.arange(zs.shape[1])[None, :] < k[:, None]
    mean = np.sum(np.where(top, zs, 0.0), axis=1) / k
    ss = np.sum(np.where(top, (zs - mean[:, None]) ** 2, 0.0), axis=1)
    return mean - np.sqrt(np.maximum((1.0 - ss) / k, 0.0))


def entmax15_rows_vjp(y: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """1.5-entmax VJP of each row: ``dx = u - (sum(u) / sum(h)) * h``, ``h = sqrt(y)``,
    ``u = h * g`` (the entmax family's VJP, Peters et al. 2019).

    Parameters
    ----------
    y : ndarray, shape (rows, n)
        The 1.5-entmax output (saved by the forward pass).
    g : ndarray, shape (rows, n)
        Upstream gradient; may be ``out``.
    out : ndarray, shape (rows, n)
        Receives ``dx``.

    Returns
    -------
    out : ndarray
        ``dx``: exactly 0 off the support, an all-NaN row where ``y`` has a NaN.
    """
    work = _work_dtype(y.dtype)
    yw = y.astype(work, copy=False)
    ok = ~np.isnan(yw).any(axis=1)
    h = np.sqrt(yw[ok])
    hs = h / h.max(axis=1, keepdims=True, initial=0.0)  # every row has y = 1 / n at least
    return _entmax_vjp(h, hs, g.astype(work, copy=False)[ok], ok, out)


def _entmax_vjp(
    h: np.ndarray, hs: np.ndarray, g: np.ndarray, ok: np.ndarray, out: np.ndarray
) -> np.ndarray:
    """``dx = u - (sum(u) / sum(h)) * h`` with ``u = h * g`` on the support ``hs > 0``.

    ``hs = h / max(h)``, computed by the caller without overflow (``h`` itself may be inf at
    alpha > 2).  ``dx = h (g - gbar)``, ``gbar = sum(hs g) / sum(hs)``, except at the entry
    of largest weight, ``*``, where that product cancels: at alpha 60, ``h = [1e119, 1.7]``
    puts ``gbar`` within an ulp of its ``g`` and loses everything (exactly, ``dx`` there is
    about 1.7).  When it outweighs the rest (``sum(hs) < 2``), ``dx_* = sum_{j != *} h_j (g* -
    g_j) / sum(hs)`` there, free of cancellation.
    """
    if h.shape[1] == 0:
        return out
    s = hs > 0
    star = np.argmax(hs, axis=1)[:, None]  # hs = 1 there
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE for non-finite g on the support
        sum_hs = hs.sum(axis=1, keepdims=True)
        g_bar = np.where(s, hs * g, 0.0).sum(axis=1, keepdims=True) / sum_hs
        dx = np.where(s, h * (g - g_bar), 0.0)
        others = s & (np.arange(h.shape[1])[None, :] != star)
        diff = g - np.take_along_axis(g, star, axis=1)  # g_j - g*
        dx_star = -np.where(others, h * diff, 0.0).sum(axis=1, keepdims=True) / sum_hs
        # Only where that entry outweighs the rest (else h (g - gbar) does not cancel).
        plain = np.take_along_axis(dx, star, axis=1)
        np.put_along_axis(dx, star, np.where(sum_hs < 2.0, dx_star, plain), axis=1)
        _store(out, dx, ok, np.nan)
    return out


def entmax_bisect_rows(x: np.ndarray, alpha: float, n_iter: int, out: np.ndarray) -> np.ndarray:
    """alpha-entmax of each row: ``y = max(w - tau, 0) ** (1 / (alpha - 1))``, ``sum(y) = 1``.

    ``w = a1 (x - m) <= 0`` with ``a1 = alpha - 1``.  The threshold is never formed: ``w - tau``
    rounded to float64 cannot hold outputs below about ``eps ** (1 / a1)`` (at alpha 60 the
    exact ``0.0089`` of ``[0, -0.0169, -0.5, 0.01]`` needs ``w - tau = 1e-121``), nor the
    ``1 - O(a1)`` values of alpha near 1.  Instead, with the support's smallest entry ``x_k``
    as pivot, ``w_i - tau = c_i + delta``, ``c_i = a1 (x_i - x_k) >= 0`` from the logits and
    ``delta = y_k ** a1 > 0`` the one unknown:

    1. Support.  Only ``w > -1`` can be in it (``tau >= -1``).  Sorted decreasingly (``xs``),
       entry ``j`` is in it iff the mass of the entries above it at ``tau = w_j`` is below 1,
       ``sum_{i < j} (a1 (xs_i - xs_j)) ** (1 / a1) < 1``, a condition monotone in ``j``:
       a binary search finds the support size ``k``.
    2. Newton on ``ell = log y_k``: ``F(ell) = sum_{i <= k} (c_i + exp(a1 ell)) ** (1 / a1)``
       is increasing, ``log F`` is convex in ``ell``, and ``F`` is convex in ``exp(b ell)``
       with ``b = min(a1, 1)`` (a power ``1 / a1 >= 1`` of ``delta``, or a norm of
       ``(c_i ** (1/a1), y_k)``).  Newton on a convex increasing function from the right never
       overshoots, so from ``ell_0`` with ``F >= 1`` (``y_k = 1/k``, capped so that ``y_max
       <= 1``) each step takes the smaller of the two models' steps; both are quadratic near
       the root, and one of them is fast far from it (``log F`` is nearly linear in ``ell``
       near softmax, ``F`` nearly linear in ``y_k`` at large alpha).  It stops once a step is
       below rounding (3 to 9 steps on rows of up to 200 entries, alpha from ``1 + 1e-14``
       to ``1e6``), or after ``n_iter`` steps.
    3. Output relative to the maximum: ``y_i / y_max = (d_i / d_1) ** (1 / a1)`` with
       ``d_i / d_1 = 1 - a1 (m - x_i) / d_1`` through ``log1p`` where that ratio is above
       1/2 (no ``eps / a1`` loss near softmax), else from ``d_i = c_i + delta`` in log form
       (no cancellation near the pivot); then divided by the sum (``ensure_sum_one``).

    Measured against 80-digit mpmath (rows of 2 to 30, alpha from ``1 + 1e-8`` to 100): within
    1 ulp of 1 absolutely, and within ``8 eps (1 + |log y|)`` relatively on nonzero outputs.

    Parameters
    ----------
    x : ndarray, shape (rows, n)
        Logits.
    alpha : float
        ``> 1``; ``2`` is sparsemax, ``1.5`` is 1.5-entmax, ``alpha -> 1`` tends to softmax.
    n_iter : int
        The most Newton steps (``>= 1``); they stop early once converged.
    out : ndarray, shape (rows, n)
        Receives ``y``; may be ``x``.

    Returns
    -------
    out : ndarray
    """
    n = x.shape[1]
    if n == 0:
        return out
    a1 = alpha - 1.0
    ok, w = _shifted_rows(x, a1)
    xw = x.astype(_work_dtype(x.dtype))[ok]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        xs = -np.sort(-np.where(w > -1.0, xw, -np.inf), axis=1)  # candidates, decreasing
        xs = xs[:, : max(1, int(np.isfinite(xs).sum(axis=1).max(initial=1)))]  # drop the rest
        k = _support_size(xs, a1)
        xk = np.take_along_axis(xs, k[:, None] - 1, axis=1)  # the pivot
        top = np.arange(xs.shape[1])[None, :] < k[:, None]
        c = np.where(top, a1 * (xs - xk), 0.0)  # c[:, 0] for the maximum
        ell = _newton_ell(c, top, k, a1, n_iter)
        theta = a1 * ell
        delta = np.exp(theta)
        ld1 = _log_d(c[:, :1], theta, delta)  # log d of the maximum
        dd = xs[:, :1] - xw  # m - x
        t = np.where(ld1 > -700.0, a1 * dd / np.exp(ld1), np.exp(np.log(a1 * dd) - ld1))
        # Near the maximum: log(d_i / d_1) = log1p(-a1 (m - x_i) / d_1).
        log_ratio = np.log1p(-t)
        # Near the pivot (d_i < d_1 / 2): d_i = c_i + delta, in log form.
        far = (t > 0.5) & (xw >= xk)
        r, _ = np.nonzero(far)
        log_ratio[far] = _log_d(a1 * (xw - xk)[far], theta[r, 0], delta[r, 0]) - ld1[r, 0]
        y = np.where(xw >= xk, np.exp(log_ratio / a1), 0.0)
    _store(out, y / y.sum(axis=1, keepdims=True), ok, np.nan)  # y_max = 1: no 0/0
    return out


def _support_size(xs: np.ndarray, a1: float) -> np.ndarray:
    """Per row, the largest ``j`` with ``sum_{i < j} (a1 (xs_i - xs_j)) ** (1 / a1) < 1``
    (``xs`` sorted decreasingly, non-candidates ``-inf`` at the end): a binary search."""
    lo = np.ones(len(xs), dtype=np.intp)
    hi = np.isfinite(xs).sum(axis=1) + 1
    cols = np.arange(xs.shape[1])[None, :]
    while (hi - lo > 1).any():
        mid = (lo + hi) // 2
        xj = np.take_along_axis(xs, mid[:, None] - 1, axis=1)
        base = np.where(cols < mid[:, None] - 1, a1 * (xs - xj), 0.0)
        inside = (base ** (1.0 / a1)).sum(axis=1) < 1.0
        lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
    return lo


def _newton_ell(c: np.ndarray, top: np.ndarray, k: np.ndarray, a1: float, n_iter: int):
    """``ell = log y_k`` with ``sum_i (c_i + exp(a1 ell)) ** (1 / a1) = 1`` over ``top``, by
    Newton from the right with the two convex models (see :func:`entmax_bisect_rows`)."""
    eps = np.finfo(c.dtype).eps
    b = min(a1, 1.0)
    # y_k = 1/k gives F >= 1; so does y_max = 1 (d_1 = 1), which keeps every y <= 1.
    ell = np.minimum(-np.log(k.astype(c.dtype)), np.log1p(-c[:, 0]) / a1)[:, None]
    rows = np.arange(len(c))  # the rows still iterating
    for _ in range(n_iter):
        cr, el = c[rows], ell[rows]
        delta = np.exp(a1 * el)
        d = cr + delta
        # dy_i / d ell = y_i * delta / d_i; the pivot (c_i = 0) has y = exp(ell) exactly.
        y = np.where(top[rows], np.where(cr == 0.0, np.exp(el), d ** (1.0 / a1)), 0.0)
        f = y.sum(axis=1, keepdims=True)
        df = np.where(cr == 0.0, y, y * (delta / d)).sum(axis=1, keepdims=True)
        q = b * (f - 1.0) / df
        new = np.minimum(
            el - f * np.log(f) / df,  # Newton on log F in ell
            np.where(q < 1.0, el + np.log1p(-q) / b, np.inf),  # Newton on F in exp(b ell)
        )
        # No step at the root to rounding (f <= 1, or no decrease).
        moved = (f > 1.0) & (df > 0.0) & (new < el)
        ell[rows] = np.where(moved, new, el)
        # Converged once a step is below rounding.
        go = moved & (b * (el - new) > 4.0 * eps * (1.0 + b * np.abs(new)))
        rows = rows[go[:, 0]]
        if not len(rows):
            break
    return ell


def _log_d(c: np.ndarray, theta: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """``log(c + delta)``, ``delta = exp(theta)``, accurate when either term is tiny."""
    lc = np.log(c)
    big = c >= delta
    r = np.where(delta > 1e-290, c / delta, np.exp(lc - theta))
    value = np.where(big, lc + np.log1p(np.exp(theta - lc)), theta + np.log1p(r))
    return np.where(c == 0.0, theta, value)


def entmax_bisect_rows_vjp(
    y: np.ndarray, g: np.ndarray, alpha: float, out: np.ndarray
) -> np.ndarray:
    """alpha-entmax VJP of each row: ``dx = u - (sum(u) / sum(h)) * h``, ``h = y ** (2 - alpha)``
    on the support, ``u = h * g`` (the entmax family's VJP, Peters et al. 2019).

    For ``alpha > 2`` the weights ``h`` grow without bound as ``y -> 0`` (the Jacobian is
    unbounded near the support's boundary); outputs so small that ``h`` overflows give a
    non-finite row, quietly.

    Parameters
    ----------
    y : ndarray, shape (rows, n)
        The alpha-entmax output (saved by the forward pass).
    g : ndarray, shape (rows, n)
        Upstream gradient; may be ``out``.
    alpha : float
        The ``alpha`` of the forward pass.
    out : ndarray, shape (rows, n)
        Receives ``dx``.

    Returns
    -------
    out : ndarray
        ``dx``: exactly 0 off the support, an all-NaN row where ``y`` has a NaN.
    """
    work = _work_dtype(y.dtype)
    yw = y.astype(work, copy=False)
    ok = ~np.isnan(yw).any(axis=1)
    yo = yw[ok]
    s = yo > 0
    ys = np.where(s, yo, 1.0)
    # The largest weight is at the smallest output for alpha > 2, else at the largest.
    if alpha > 2.0:
        ref = np.min(ys, axis=1, keepdims=True, initial=1.0)
    else:
        ref = np.max(np.where(s, yo, 0.0), axis=1, keepdims=True, initial=0.0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        h = np.where(s, ys ** (2.0 - alpha), 0.0)
        hs = np.where(s, (ys / ref) ** (2.0 - alpha), 0.0)  # in (0, 1]: no overflow
    return _entmax_vjp(h, hs, g.astype(work, copy=False)[ok], ok, out)
