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
    ``u = h * g`` (formula (B) of variants.md).

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
    return _entmax_vjp(np.sqrt(yw[ok]), g.astype(work, copy=False)[ok], ok, out)


def _entmax_vjp(h: np.ndarray, g: np.ndarray, ok: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``dx = u - (sum(u) / sum(h)) * h`` with ``u = h * g`` on the support ``h > 0``."""
    s = h > 0
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE for non-finite g on the support
        u = np.where(s, h * g, 0.0)
        ratio = u.sum(axis=1, keepdims=True) / h.sum(axis=1, keepdims=True)
        _store(out, np.where(s, u - ratio * h, 0.0), ok, np.nan)
    return out


def entmax_bisect_rows(x: np.ndarray, alpha: float, n_iter: int, out: np.ndarray) -> np.ndarray:
    """alpha-entmax of each row by bisection: ``y = max(w - tau, 0) ** (1 / (alpha - 1))``.

    ``w = (alpha - 1) * (x - m) <= 0``.  The threshold with ``sum(y) = 1`` lies in the bracket
    ``[-1, -(1/n) ** (alpha - 1)]`` (at ``tau = -1`` the maximum alone has ``y = 1``; at the
    upper end every ``y_i <= 1/n``); ``n_iter`` halvings keep the half where ``sum(y) >= 1`` at
    the lower end, and ``y`` is taken at the middle of the last bracket, then divided by its
    sum (the entmax package's ``ensure_sum_one``), so rows always sum to one to rounding.

    Parameters
    ----------
    x : ndarray, shape (rows, n)
        Logits.
    alpha : float
        ``> 1``; ``2`` is sparsemax, ``1.5`` is 1.5-entmax, ``alpha -> 1`` tends to softmax.
    n_iter : int
        The most halvings (``>= 1``); the bracket width after ``k`` is at most ``2 ** -k``, and
        they stop early once no bracket can shrink in float64 (``tau_lo + width == tau_lo``).
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
    tau_lo = np.full((w.shape[0], 1), -1.0, dtype=w.dtype)
    width = 1.0 - (1.0 / n) ** a1

    def mass(tau: np.ndarray) -> np.ndarray:
        # y(tau) for every row; underflow to 0 (alpha near 1) is the correct rounding.
        with np.errstate(under="ignore"):
            return np.maximum(w - tau, 0.0) ** (1.0 / a1)

    for _ in range(n_iter):
        width /= 2.0
        tau_mid = tau_lo + width
        if np.all(tau_mid == tau_lo):
            break  # every bracket is below float64's resolution at its tau: converged
        # The root is at or above tau_mid while y(tau_mid) still sums to at least one.
        tau_lo = np.where(mass(tau_mid).sum(axis=1, keepdims=True) >= 1.0, tau_mid, tau_lo)
    y = mass(tau_lo + width / 2.0)
    _store(out, y / y.sum(axis=1, keepdims=True), ok, np.nan)  # the maximum keeps y > 0: no 0/0
    return out


def entmax_bisect_rows_vjp(
    y: np.ndarray, g: np.ndarray, alpha: float, out: np.ndarray
) -> np.ndarray:
    """alpha-entmax VJP of each row: ``dx = u - (sum(u) / sum(h)) * h``, ``h = y ** (2 - alpha)``
    on the support, ``u = h * g`` (formula (B) of variants.md).

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
    with np.errstate(over="ignore", divide="ignore"):
        h = np.where(yo > 0, np.where(yo > 0, yo, 1.0) ** (2.0 - alpha), 0.0)
    return _entmax_vjp(h, g.astype(work, copy=False)[ok], ok, out)
