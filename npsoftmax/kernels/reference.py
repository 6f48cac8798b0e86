"""Reference row kernels: vectorised NumPy, written to be read (the textbook, and the oracle).

Every kernel here has a compiled twin with the same name, signature and results (to a few ulps)
in :mod:`npsoftmax.kernels.numba_cpu`; :mod:`npsoftmax.kernels` dispatches to one of them.

Contract
--------
* Inputs are 2-D ``(rows, classes)`` arrays of one floating dtype; the caller provides ``out``
  (same dtype) and gets it back.  ``out`` may be the input itself (in place), and a VJP's ``g``
  may be its ``out``: every result is computed into a temporary before ``out`` is written.
* float32 rows are computed in float64 and rounded once at the end (so a float32 result is within
  about one ulp of the exact answer); float64 and longdouble rows in their own precision.  These
  twins are generic, so they also serve longdouble input, which the compiled twins do not.
* Per-row edge policy (design.md, "Numerical policy"); no RuntimeWarning escapes:

  - ``-inf`` entries get probability 0 (log-probability ``-inf``);
  - a row with a NaN, a ``+inf``, or only ``-inf`` has no finite maximum: ``softmax`` and
    ``log_softmax`` give an all-NaN row, ``logsumexp`` gives the row maximum itself (NaN if the
    row has a NaN, else ``+inf`` or ``-inf``);
  - an empty class axis: ``softmax``/``log_softmax`` write nothing, ``logsumexp`` gives ``-inf``.

Legend: ``x`` logits, ``m`` row maximum, ``d = x - m``, ``e = exp(d)``, ``jm`` index of the first
maximum, ``t`` the sum of ``e`` without entry ``jm`` (so ``sum(e) = 1 + t``), ``y`` softmax,
``ls`` log_softmax, ``g`` upstream gradient.
"""

from __future__ import annotations

import numpy as np


def _work_dtype(dtype: np.dtype) -> np.dtype:
    # float32 -> float64 (accuracy for long rows at no cost in readability); float64 and
    # longdouble are already at least float64.
    return np.promote_types(dtype, np.float64)


def _exp_minus(x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(d, e)``: ``d = x - m`` rounded, and ``e = exp(x - m)`` accurate to about an ulp.

    ``d`` is rounded, and exp turns its absolute error (up to ``|d| * eps / 2``) into a relative
    one: ``|d|`` ulps for a tiny probability.  TwoSum recovers the rounding error exactly,
    ``x - m = d + err``, and ``exp(d + err) = exp(d) * (1 + err)`` to well below an ulp.
    ``d`` overflows to -inf only for rows spanning more than the float range (say
    ``[1e308, -1e308]``), where ``exp(-inf) = 0`` is the right probability: no warning.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        d = x - m
        bp = d - x
        err = (x - (d - bp)) + (-m - bp)
        err[~np.isfinite(err)] = 0.0  # only where d is infinite (a mask, an overflow)
        e = np.exp(d)
        e += e * err
    return d, e


def _shifted_exp(x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Max-shifted exponentials of the rows that have a finite maximum.

    Returns ``(m, ok, d, e, t)`` where ``m`` is the row maximum of every row (NaN for a row with a
    NaN), ``ok`` marks the rows with a finite maximum, and ``d = x - m``, ``e = exp(d)`` and
    ``t = sum(e) - 1`` are given for those rows only (in the working dtype).
    """
    xw = x.astype(_work_dtype(x.dtype))  # a copy: ``out`` may alias ``x``
    m = xw.max(axis=1)  # max propagates NaN, so a NaN row has m = NaN
    ok = np.isfinite(m)  # excludes rows with a NaN or +inf, and all -inf rows
    xo, mo = xw[ok], m[ok, None]
    # Max-subtraction: d <= 0, so exp cannot overflow and the first maximum has e = 1 exactly.
    d, e = _exp_minus(xo, mo)
    # t: the sum without the first maximum's e = 1.  Keeping the 1 apart lets log_softmax and
    # logsumexp use log1p(t), which stays accurate when t is tiny (a row with one dominant
    # entry): log(1 + t) would round 1 + t first and lose t.
    first = (np.arange(len(xo)), np.argmax(xo, axis=1))
    e[first] = 0.0
    t = e.sum(axis=1)
    e[first] = 1.0
    return m, ok, d, e, t


def _store(out: np.ndarray, value: np.ndarray, ok: np.ndarray, fill: float | np.ndarray) -> None:
    """Write ``value`` into the ``ok`` rows of ``out`` and ``fill`` into the others."""
    # The cast to float32 may overflow to +-inf (e.g. log_softmax([3e38, -3e38]) = [0, -6e38]),
    # which is the correctly rounded result: no warning.
    with np.errstate(over="ignore"):
        out[~ok] = fill if np.ndim(fill) == 0 else fill[~ok]
        out[ok] = value


def softmax_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Softmax of each row: ``y = exp(x - m) / sum(exp(x - m))``, ``m = max(x)``.

    Parameters
    ----------
    x : ndarray, shape (rows, n)
        Logits.
    out : ndarray, shape (rows, n)
        Receives ``y``; may be ``x``.

    Returns
    -------
    out : ndarray
        ``y``; an all-NaN row where ``x`` has a NaN, a ``+inf`` or only ``-inf``.
    """
    if x.shape[1] == 0:
        return out
    _, ok, _, e, t = _shifted_exp(x)
    # The denominator is 1 + t >= 1: no division by zero and no overflow.
    _store(out, e / (1.0 + t)[:, None], ok, np.nan)
    return out


def log_softmax_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Log-softmax of each row: ``ls = (x - m) - log(sum(exp(x - m)))``, ``m = max(x)``.

    Stays in log space: never ``log(softmax(x))`` (which gives ``-inf`` for ``x = [1000, 1]``)
    and never ``x - logsumexp(x)`` (which gives NaN or 0 for ``x = [1e308, 1e308]``); the sum is
    taken as ``log1p(t)`` so that the largest entry stays accurate when the others are tiny.

    Parameters
    ----------
    x : ndarray, shape (rows, n)
        Logits.
    out : ndarray, shape (rows, n)
        Receives ``ls``; may be ``x``.

    Returns
    -------
    out : ndarray
        ``ls``; an all-NaN row where ``x`` has a NaN, a ``+inf`` or only ``-inf``.
    """
    if x.shape[1] == 0:
        return out
    _, ok, d, _, t = _shifted_exp(x)
    # d - log1p(t) never cancels (d <= 0 <= log1p(t)); a -inf entry of x gives d = -inf.
    _store(out, d - np.log1p(t)[:, None], ok, np.nan)
    return out


def logsumexp_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Log-sum-exp of each row: ``lse = m + log(sum(exp(x - m)))``, ``m = max(x)``.

    Parameters
    ----------
    x : ndarray, shape (rows, n)
        Logits.
    out : ndarray, shape (rows,)
        Receives ``lse``.

    Returns
    -------
    out : ndarray
        ``lse``; ``-inf`` for an empty or all ``-inf`` row, ``+inf`` for a row with ``+inf`` and
        no NaN, NaN for a row with a NaN.

    Notes
    -----
    ``m + log1p(t)`` cancels when the result is near 0: its error is bounded in absolute terms,
    about ``eps * max(1, log(n))`` of the working dtype, as in ``scipy.special.logsumexp``.  A
    float32 row, summed in float64, stays within about half an ulp; a float64 result near 0
    may be off by many of its own ulps.
    """
    if x.shape[1] == 0:
        out[...] = -np.inf  # the empty sum is 0, and log(0) = -inf
        return out
    m, ok, _, _, t = _shifted_exp(x)
    # Rows without a finite maximum: the maximum itself is the answer (NaN, +inf or -inf), and
    # using it directly avoids inf - inf inside the shift.
    _store(out, m[ok] + np.log1p(t), ok, m)
    return out


def cross_entropy_rows(x: np.ndarray, t: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Cross-entropy of each row with a class index: ``-ls[t] = log(sum(exp(x - m))) - (x[t] - m)``.

    Parameters
    ----------
    x : ndarray, shape (rows, n)
        Logits, ``n >= 1``.
    t : ndarray of intp, shape (rows,)
        The target class of each row, in ``[0, n)``.
    out : ndarray, shape (rows,)
        Receives the losses.

    Returns
    -------
    out : ndarray
        ``-log_softmax(x)[t]`` per row; NaN where ``x`` has a NaN, a ``+inf`` or only ``-inf``,
        ``+inf`` where ``x[t]`` is ``-inf``.
    """
    if x.shape[1] == 0:
        out[...] = np.nan  # no class to be the target
        return out
    _, ok, d, _, s1 = _shifted_exp(x)
    # log1p(s1) >= 0 and -d[t] >= 0: the sum of two non-negative terms, no cancellation.
    _store(out, np.log1p(s1) - d[np.arange(len(d)), t[ok]], ok, np.nan)
    return out


def weighted_softmax_rows(x: np.ndarray, w: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Softmax of each row times a weight: ``out[i] = w[i] * softmax(x[i])``.

    Parameters
    ----------
    x : ndarray, shape (rows, n)
        Logits.
    w : ndarray, shape (rows,)
        The weight of each row.
    out : ndarray, shape (rows, n)
        Receives ``w * y``; may be ``x``.

    Returns
    -------
    out : ndarray
        ``w * y``; an all-NaN row where ``x`` has a NaN, a ``+inf`` or only ``-inf``.
    """
    if x.shape[1] == 0:
        return out
    _, ok, _, e, t = _shifted_exp(x)
    # The softmax as softmax_rows gives it, then the weight (so w = 1 gives it bit for bit).
    _store(out, e / (1.0 + t)[:, None] * w[ok, None], ok, np.nan)
    return out


def softmax_rows_vjp(y: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Softmax VJP of each row: ``dx = y * (g - sum(g * y))``.

    Parameters
    ----------
    y : ndarray, shape (rows, n)
        The softmax output (saved by the forward pass).
    g : ndarray, shape (rows, n)
        Upstream gradient; may be ``out``.
    out : ndarray, shape (rows, n)
        Receives ``dx``.

    Returns
    -------
    out : ndarray
        ``dx``: exactly 0 where ``y == 0`` (for finite ``g``), an all-NaN row where ``y`` is NaN.
    """
    work = _work_dtype(y.dtype)
    yw, gw = y.astype(work, copy=False), g.astype(work, copy=False)
    # Non-finite g may give inf - inf or 0 * inf: NaN, quietly (the compiled twin never warns).
    with np.errstate(over="ignore", invalid="ignore"):
        dot = np.sum(gw * yw, axis=1, keepdims=True)
        # y * (g - dot), expanded: g - dot can overflow for float64 |g| near the maximum, while
        # y * g and y * dot are each at most max|g| and their difference is the (finite) answer.
        dx = yw * gw - yw * dot
        out[...] = dx
    return out


def log_softmax_rows_vjp(ls: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Log-softmax VJP of each row: ``dx = g - exp(ls) * sum(g)``.

    Parameters
    ----------
    ls : ndarray, shape (rows, n)
        The log_softmax output (saved by the forward pass); ``exp(ls)`` is the softmax.
    g : ndarray, shape (rows, n)
        Upstream gradient; may be ``out``.
    out : ndarray, shape (rows, n)
        Receives ``dx``.

    Returns
    -------
    out : ndarray
        ``dx``: ``g`` itself where ``ls == -inf`` (``exp(-inf) = 0``), an all-NaN row where
        ``ls`` is NaN.
    """
    work = _work_dtype(ls.dtype)
    lw, gw = ls.astype(work, copy=False), g.astype(work, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):
        dx = gw - np.exp(lw) * np.sum(gw, axis=1, keepdims=True)
        out[...] = dx
    return out


def online_softmax_rows(x: np.ndarray, out: np.ndarray, block: int = 256) -> np.ndarray:
    """Softmax of each row with a one-pass normaliser (Milakov & Gimelshein, arXiv 1805.02867).

    The row is read once, block by block, keeping a running maximum ``m`` and a running
    normaliser ``d = sum(exp(x - m))`` merged with the associative rule

        (m1, d1) + (m2, d2) = (M, d1 * exp(m1 - M) + d2 * exp(m2 - M)),  M = max(m1, m2),

    then read a second time to write ``exp(x - m) / d``.  Same results and edge policy as
    :func:`softmax_rows` (to rounding); ``block`` only changes the merge order.

    Parameters
    ----------
    x : ndarray, shape (rows, n)
        Logits.
    out : ndarray, shape (rows, n)
        Receives the softmax; may be ``x``.
    block : int, default 256
        Columns per block of the first pass.

    Returns
    -------
    out : ndarray
    """
    rows, n = x.shape
    if n == 0:
        return out
    work = _work_dtype(x.dtype)
    m = np.full(rows, -np.inf, dtype=work)
    d = np.zeros(rows, dtype=work)
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, n, block):
            xb = x[:, start : start + block].astype(work)
            mb = xb.max(axis=1)  # NaN propagates
            big = np.fmax(m, mb)  # the running max; fmax ignores a NaN of a new block, so
            big = np.where(np.isnan(mb), mb, big)  # put it back: a NaN row stays NaN
            # exp(m - big) is 0 while m is still -inf; a block that is all -inf adds 0.
            keep = np.where(np.isneginf(m), 0.0, d * np.exp(m - big))
            shifted = np.where(np.isneginf(big)[:, None], -np.inf, xb - big[:, None])
            d = keep + np.exp(shifted).sum(axis=1)
            m = big
        ok = np.isfinite(m)  # NaN, +inf and all -inf rows have no finite maximum
        y = _exp_minus(x[ok].astype(work), m[ok, None])[1] / d[ok, None]
    _store(out, y, ok, np.nan)
    return out
