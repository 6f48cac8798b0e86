"""Taylor softmax: the exponential replaced by its Taylor polynomial, evaluated in log space.

Legend: ``x`` logits, ``a = |x|``, ``n`` the order, ``f_n(x) = sum_{k<=n} x^k / k!`` the Taylor
polynomial, ``t_k = x^k / k!`` its terms, ``y = f_n(x) / sum f_n`` the output, ``g`` the
upstream gradient, ``<a, b>`` a sum along the class axis.

Every number is kept as a sign and a logarithm until one last shift by the row's largest
``log f``: the terms ``x^k / k!`` leave the float range long before the ratios ``y`` do (``1/k!``
underflows from ``k = 178``, ``x^2 / 2`` overflows beyond ``1.9e154``), so a plain sum gives
``0 / 0`` or ``inf / inf``.  For ``x < 0`` the terms alternate and can cancel catastrophically
(``f_100(-20) = 2.1e-9`` from terms up to ``4.3e7``); those entries use a series of positive
terms instead (:func:`_log_negative`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd.dispatch import dispatch
from ..autograd.function import Function
from ..autograd.shapes import as_integer
from ._rows import map_rows, map_rows_vjp

# An alternating sum whose terms add up (in absolute value) to more than this times its value
# has lost more than 4 bits to cancellation: recomputed by the positive series.  Order 2 never
# gets there (at most 5, at x = -1); for |x| >= 2n it cannot (at most 4, see _log_taylor).
_CANCELLATION = 16.0


def _log_factorials(n: int) -> np.ndarray:
    """``log(k!)`` for ``k = 0..n`` (Python's lgamma: 1/k! underflows, its log does not)."""
    return np.array([math.lgamma(k + 1) for k in range(n + 1)])


def _log_negative(a: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """``(sign, log|f_top(-a)|)`` for ``a > 0``, from a series of positive terms.

    With ``f_n(x) = e^x Gamma(n + 1, x) / n!`` (true for every real ``x``) and
    ``Gamma(n + 1, -a) = n! + (-1)^n int_0^a s^n e^s ds``, expanding ``e^s`` gives

        f_n(-a) = e^(-a) (1 + (-1)^n S),   S = sum_{j>=0} a^(n+1+j) / (n! j! (n+1+j)),

    whose terms are positive: no cancellation, except that of ``1 - S`` near the root of an odd
    polynomial, where it is harmless (an error of ``eps * e^(-a)``, small beside ``f_{n+1}``).
    The terms peak near ``j = a`` and fall like a Poisson tail: ``a + 10 sqrt(a) + 40`` of them
    reach 1e-20 of the sum.
    """
    la = np.log(a)
    amax = float(a.max())
    jmax = math.ceil(amax + 10.0 * math.sqrt(amax) + 40.0)
    log_jfact = _log_factorials(jmax)
    lead = math.lgamma(top + 1)

    def log_term(j: Any) -> np.ndarray:
        return (top + 1 + j) * la - lead - log_jfact[j] - np.log(top + 1.0 + j)

    # The terms grow while j + 1 < a: shifting by the one at floor(a) - 1 keeps all below ~2.
    peak = log_term(np.maximum(np.floor(a) - 1, 0).astype(np.intp))
    total = sum(np.exp(log_term(j) - peak) for j in range(jmax + 1))
    log_s = peak + np.log(total)
    if top % 2 == 0:
        return np.ones_like(a), -a + np.logaddexp(0.0, log_s)
    with np.errstate(divide="ignore"):  # 1 - S = 0 exactly: log 0 = -inf, sign 0
        below = log_s < 0
        mag = np.where(
            below,
            np.log1p(-np.exp(np.minimum(log_s, 0.0))),
            log_s + np.log1p(-np.exp(-np.abs(log_s))),
        )
    return np.where(below, 1.0, np.where(log_s > 0, -1.0, 0.0)), -a + mag


def _log_taylor(
    x2: np.ndarray, order: int, tops: tuple[int, ...]
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """``f_top(x) = sign * exp(r + shift)`` for each ``top`` in ``tops``, entry by entry.

    ``shift = log max_k c^k / k!`` (``k <= order``, ``c`` the row's largest finite ``|x|``) is
    one number per row, shared by every ``top``, so that ``f_n`` and its derivative
    ``f_{n-1}`` stay comparable.  Each term is computed as ``exp(k log(a / c) + (k log c -
    log k! - shift))``: the bracket is common to the row (its rounding is a tiny perturbation of
    the coefficients), and ``log(a / c) = log1p((a - c) / c)`` is accurate for the entries that
    matter most.  ``-inf`` entries (masks) get sign 0 and ``r = -inf``.  Returns the rows
    holding ``+inf`` or NaN (NaN rows) and one ``(sign, r)`` pair per ``top``.
    """
    x = x2.astype(np.promote_types(x2.dtype, np.float64))
    finite = np.isfinite(x)
    bad = np.any(np.isnan(x) | np.isposinf(x), axis=1)
    x = np.where(finite, x, 0.0)
    a, neg = np.abs(x), x < 0
    c = a.max(axis=1, keepdims=True, initial=0.0)
    c = np.where(c > 0, c, 1.0)  # a row of zeros: any scale will do
    log_fact = _log_factorials(order)
    with np.errstate(divide="ignore"):  # log 0 = -inf at x = 0: its terms past k = 0 vanish
        # log(a / c): log1p((a - c) / c) near c (a - c exact there); below c / 2, log of the
        # quotient (once a < c * eps, (a - c) / c rounds to -1 and log1p(-1) = -inf would drop
        # every term but the first); log a - log c only where even a / c underflows.
        lc, q = np.log(c), a / c
        lu = np.where(q > 0.5, np.log1p((a - c) / c), np.where(q > 0, np.log(q), np.log(a) - lc))
    # The largest c^k / k! is at k = floor(c) (the terms grow while k + 1 <= c).
    kc = np.minimum(np.floor(c), order).astype(np.intp)
    shift = kc * lc - log_fact[kc]
    total = np.repeat(np.exp(-shift), x.shape[1], axis=1)  # k = 0: t_0 = 1
    size = total.copy()
    before_last, last_peak = None, int(kc.max(initial=0))
    for k in range(1, order + 1):
        t = np.exp(k * lu + (k * lc - log_fact[k] - shift))
        size += t
        total += np.where(neg, -t, t) if k % 2 else t
        if k == order - 1:
            before_last = (total.copy(), size.copy())
        if k > last_peak and not t.any():
            break  # past every entry's largest term, and all terms underflow: the rest are 0
    sums = {order: (total, size), order - 1: before_last or (total.copy(), size.copy())}
    results = []
    for top in tops:
        s, abs_sum = sums[top]
        # |x| >= 2 top: the terms shrink by k / |x| <= 1/2 below the last, so s is at least
        # half the last term and abs_sum at most twice it: no cancellation to speak of.
        ill = neg & (abs_sum > _CANCELLATION * np.abs(s))
        with np.errstate(divide="ignore"):  # a sum that is exactly 0 (an odd polynomial's root)
            sign, r = np.sign(s), np.log(np.abs(s))
        if ill.any():
            sign[ill], log_f = _log_negative(a[ill], top)
            r[ill] = log_f - np.broadcast_to(shift, x.shape)[ill]
        sign[~finite], r[~finite] = 0.0, -np.inf
        results.append((sign, r))
    return bad, results


# Order 2 is computed directly below this |x|: (x + 1)^2 stays far from overflow.
_DIRECT_LIMIT = 1e150


def _order_two(x2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(bad rows, f_2, f_1)`` of the default order computed directly, or None where not safe.

    ``f_2(x) = ((x + 1)^2 + 1) / 2`` is a sum of positive terms (no cancellation) and ``f_1 =
    1 + x`` is its derivative: for float32 and float64 rows with ``|x| < 1e150`` the log-space
    path buys nothing and costs 3-4x the time (measured).  Masks give 0, as there.
    """
    if np.promote_types(x2.dtype, np.float64) != np.float64:
        return None  # longdouble: the general path keeps its precision
    x = x2.astype(np.float64)
    finite = np.isfinite(x)
    x0 = np.where(finite, x, 0.0)
    if x0.size and np.abs(x0).max() >= _DIRECT_LIMIT:
        return None
    bad = np.any(np.isnan(x) | np.isposinf(x), axis=1)
    f = np.where(finite, ((x0 + 1.0) ** 2 + 1.0) / 2.0, 0.0)
    return bad, f, np.where(finite, x0 + 1.0, 0.0)


def _taylor_values(
    x2: np.ndarray, order: int, derivative: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(ok, f, f')``: ``f = f_n`` and, if ``derivative``, ``f' = f_{n-1}``, on one per-row
    scale; ``ok`` marks the rows with a finite, nonzero ``f`` (no NaN or ``+inf``, not every
    entry a mask), the others' values are not used."""
    direct = _order_two(x2) if order == 2 else None
    if direct is not None:
        bad, f, df = direct
        return ~bad & (f.max(axis=1, initial=0.0) > 0), f, df
    tops = (order, order - 1) if derivative else (order,)
    bad, logs = _log_taylor(x2, order, tops)
    r = logs[0][1]
    m = np.max(r, axis=1, keepdims=True, initial=-np.inf)
    with np.errstate(invalid="ignore"):  # rows without a finite entry: m = -inf, not used
        f = np.exp(r - m)  # f > 0 (even order); the largest is 1, masks are 0
        df = logs[1][0] * np.exp(logs[1][1] - m) if derivative else None
    return ~bad & np.isfinite(m[:, 0]), f, df


def _taylor_rows(x2: np.ndarray, y2: np.ndarray, order: int) -> np.ndarray:
    """Row kernel: ``y = f(x) / sum(f(x))``, ``f`` the Taylor polynomial of exp of ``order``."""
    ok, f, _ = _taylor_values(x2, order, derivative=False)
    y2[ok] = f[ok] / f[ok].sum(axis=1, keepdims=True)
    y2[~ok] = np.nan
    return y2


class TaylorSoftmaxFunction(Function):
    """Fused op: ``y = f(x) / sum(f(x))``, ``f(x) = sum_{k<=n} x^k / k!``."""

    op = "taylor_softmax"  # the name its errors give it

    def forward(
        self, x: np.ndarray, axis: Any = -1, order: int = 2, out: np.ndarray | None = None
    ) -> np.ndarray:
        self.order = order

        def kernel(x2: np.ndarray, y2: np.ndarray) -> np.ndarray:
            return _taylor_rows(x2, y2, order)

        y, self.rows, y2 = map_rows(kernel, x, axis, "taylor_softmax", out, keep_input=True)
        self.save_for_backward(y2)
        return y

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # Formula (A): dx = f'(x) / S * (g - <g, y>), f' = f_{n-1}, S = sum f; f and f' on the
        # same per-row scale (recomputed: the forward keeps only y).
        (y2,) = self.saved_arrays
        ok, f, df = _taylor_values(self.rows.x2, self.order, derivative=True)

        def vjp(y2: np.ndarray, g2: np.ndarray, dx2: np.ndarray) -> np.ndarray:
            # g is zeroed on masks, where y = 0: 0 * inf (g = d log y, say) would be NaN.
            gw = np.where(np.isneginf(self.rows.x2), 0.0, g2.astype(f.dtype))
            dot = np.sum(gw[ok] * y2[ok], axis=1, keepdims=True)
            dx2[ok] = df[ok] / f[ok].sum(axis=1, keepdims=True) * (gw[ok] - dot)
            dx2[~ok] = np.nan  # the output is NaN there: so is its gradient
            return dx2

        return (map_rows_vjp(vjp, y2, g, self.rows),)


def taylor_softmax(x: Any, order: int = 2, axis: Any = -1) -> Any:
    r"""Taylor softmax: the exponential replaced by its Taylor polynomial of even ``order``.

    Fused op.  ``order=2`` normalises :math:`1 + x + x^2/2`.

    Parameters
    ----------
    x : array_like or Tensor
        Logits; ``-inf`` entries are masks (probability 0).
    order : int, default 2
        A positive even integer.  Even-order Taylor polynomials of :math:`e^x` are positive
        for every real :math:`x`; odd orders reach zero or below (order 1: :math:`1 + x \le 0`
        for :math:`x \le -1`), which would give negative or infinite "probabilities".
    axis : int, tuple of int or None, default -1
        The class axis (axes).

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``; each row is non-negative and sums to one.

    Raises
    ------
    ValueError
        If ``order`` is not a positive even integer.
    TypeError
        If ``order`` is not an integer, or ``x`` is not numeric.

    Notes
    -----
    .. math:: f(x) = \sum_{k=0}^{n} \frac{x^k}{k!}, \qquad y_i = \frac{f(x_i)}{\sum_j f(x_j)}

    No maximum is subtracted: the map is not shift invariant (``[0, 1]`` gives
    ``[0.286, 0.714]``, ``[10, 11]`` gives ``[0.457, 0.543]``), and not order preserving below
    :math:`x = -1` (``[-3, -1]`` gives ``[0.833, 0.167]``).  VJP, that of any normalised
    positive map :math:`y = f(x) / \sum_j f(x_j)`, with :math:`f'(x) = \sum_{k<n} x^k / k!`:

    .. math:: \bar{x} = \frac{f'(x)}{\sum_j f(x_j)} \odot (g - \langle g, y \rangle)

    Numerics: every :math:`f(x_i)` is computed as a sign and a logarithm, and the row is
    shifted by its largest logarithm before exponentiating, so any order and any finite input
    gives a finite answer (the terms :math:`x^k/k!` themselves leave the float range).  For
    :math:`x < 0` the alternating sum can cancel catastrophically; where it would lose more
    than 4 bits, :math:`f(x) = e^{x}(1 + S)` is used instead, with
    :math:`S = \sum_{j \ge 0} |x|^{n+1+j} / (n!\, j!\, (n+1+j))` (positive terms).  The relative
    error grows with the order, to about :math:`10^{-12}` at order 2000.

    Edge policy: ``-inf`` entries are masks, with probability 0 and gradient 0 (as elsewhere
    in npsoftmax, although :math:`f(-\infty) = +\infty`); a row holding ``+inf`` or NaN, or
    only masks, gives NaN; an empty axis gives an empty result.

    References
    ----------
    A. de Brébisson, P. Vincent, "An Exploration of Softmax Alternatives Belonging to the
    Spherical Loss Family", ICLR 2016, arXiv:1511.05042.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.taylor_softmax(np.array([0.0, 1.0])).round(3)
    array([0.286, 0.714])
    >>> nps.taylor_softmax(np.array([-3.0, -1.0, -np.inf])).round(3)
    array([0.833, 0.167, 0.   ])
    >>> nps.taylor_softmax(np.array([50.0, 49.0]), order=204).round(4)  # terms past 1e308
    array([0.7311, 0.2689])
    """
    n = as_integer(order, "order", "taylor_softmax")
    if n < 2 or n % 2:
        raise ValueError(
            f"taylor_softmax: order must be a positive even integer (2, 4, ...), got {n}; odd "
            "orders give polynomials that reach zero or below (order 1: 1 + x <= 0 for x <= -1)."
        )
    return dispatch(TaylorSoftmaxFunction, x, axis=axis, order=n)
