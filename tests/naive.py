"""Slow, obviously-correct oracles, one row at a time, in 40-digit decimal arithmetic.

Each oracle takes 1-D rows (any float dtype), converts every value to :class:`decimal.Decimal`
exactly (``Decimal(float)`` is exact), computes in Python's :mod:`decimal` module at 40
significant digits (``exp`` and ``ln`` there are correctly rounded), and rounds each result once to
float64.  So a result is the correctly rounded float64 answer for the exact input values, and
rounding it to float32 gives "the float64 oracle rounded".  These are the yardsticks for the
kernels' ulp errors and for the functional API; speed is no goal (about 20 us per element).
Sections: the softmax family (below), then the sparse maps (their own section and legend).

Edge policy (design.md, "Numerical policy"), spelled out with plain ``if``s:

* ``-inf`` entries get probability 0 (log-probability ``-inf``);
* a row with a NaN, a ``+inf`` or only ``-inf`` has no finite maximum: softmax and log_softmax
  give NaN everywhere; logsumexp gives NaN if there is a NaN, else the maximum (``+inf``/``-inf``);
* an empty row: softmax and log_softmax give an empty row, logsumexp gives ``-inf``.

The VJP oracles apply their formula as written, with IEEE-like NaN/inf propagation.

Legend: ``x`` logits, ``m`` row max, ``d = x - m``, ``e = exp(d)``, ``y`` softmax, ``ls``
log_softmax, ``g`` upstream gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Context, Decimal, localcontext
from fractions import Fraction

import numpy as np

PREC = 40  # significant decimal digits: far beyond float64's 17
_CTX = Context(prec=PREC, traps=[])  # no traps: inf - inf or 0 * inf give NaN, as in IEEE


def _floats(row: Sequence[float]) -> list[float]:
    return [float(v) for v in row]


def _no_finite_max(x: list[float]) -> float | None:
    """The answer of logsumexp for a row without a finite maximum, or None if it has one."""
    if any(math.isnan(v) for v in x):
        return math.nan
    if not x:
        return -math.inf  # the empty sum is 0
    m = max(x)
    return m if math.isinf(m) else None  # +inf, or -inf for an all -inf row


def _ln1p(t: Decimal) -> Decimal:
    """``ln(1 + t)`` for ``t >= 0`` to 40 digits even when ``t`` is tiny.

    Plain ``ln(1 + t)`` at 40 digits would round ``1 + t`` to 1 for ``t < 1e-40``; raising the
    precision by the number of leading zeros of ``t`` keeps 40 digits of ``t`` in ``1 + t``.
    Below ``1e-40`` the series ``t - t^2 / 2 + ...`` gives the 40 digits instead: its next term
    is 1e-80 of ``t``, and raising the precision by the zeros of, say, ``exp(-1e5)`` (43 430
    of them) made one ``ln`` take minutes (a Hypothesis row ``[1e5, 0, 1e-300]`` did).
    """
    if t == 0:
        return Decimal(0)
    if t.adjusted() < -PREC:
        return _CTX.subtract(t, _CTX.divide(_CTX.multiply(t, t), 2))
    ctx = Context(prec=PREC + max(0, -t.adjusted()), traps=[])
    return ctx.ln(ctx.add(1, t))


def _shifted(x: list[float]) -> tuple[Decimal, list[Decimal], list[Decimal], Decimal]:
    """For a row with a finite max: ``m``, ``d = x - m``, ``e = exp(d)``, ``ln(sum(e))``."""
    m = max(x)
    jm = x.index(m)  # the first maximum; its e is exactly 1
    d = [_CTX.subtract(Decimal(v), Decimal(m)) for v in x]  # -inf stays -inf
    e = [_CTX.exp(dj) for dj in d]  # exp(-inf) = 0: probability 0
    t = _CTX.add(Decimal(0), Decimal(0))
    for j, ej in enumerate(e):
        if j != jm:
            t = _CTX.add(t, ej)
    return Decimal(m), d, e, _ln1p(t)


def naive_softmax(row: Sequence[float]) -> np.ndarray:
    """``y = exp(x - m) / sum(exp(x - m))`` as float64."""
    x = _floats(row)
    if _no_finite_max(x) is not None:
        return np.full(len(x), np.nan)
    _, _, e, lg = _shifted(x)
    s = _CTX.exp(lg)  # = 1 + t, exactly enough (40 digits)
    return np.array([float(_CTX.divide(ej, s)) for ej in e])


def naive_log_softmax(row: Sequence[float]) -> np.ndarray:
    """``ls = (x - m) - log(sum(exp(x - m)))`` as float64."""
    x = _floats(row)
    if _no_finite_max(x) is not None:
        return np.full(len(x), np.nan)
    _, d, _, lg = _shifted(x)
    return np.array([float(_CTX.subtract(dj, lg)) for dj in d])


def naive_logsumexp(row: Sequence[float]) -> float:
    """``lse = m + log(sum(exp(x - m)))`` as a float."""
    x = _floats(row)
    special = _no_finite_max(x)
    if special is not None:
        return special
    m, _, _, lg = _shifted(x)
    return float(_CTX.add(m, lg))


def naive_softmax_vjp(y: Sequence[float], g: Sequence[float]) -> np.ndarray:
    """Softmax VJP ``dx = y * (g - sum(g * y))`` as float64."""
    yd = [Decimal(v) for v in _floats(y)]
    gd = [Decimal(v) for v in _floats(g)]
    dot = Decimal(0)
    for yj, gj in zip(yd, gd):
        dot = _CTX.add(dot, _CTX.multiply(gj, yj))
    return np.array([float(_CTX.multiply(yj, _CTX.subtract(gj, dot))) for yj, gj in zip(yd, gd)])


def naive_log_softmax_vjp(ls: Sequence[float], g: Sequence[float]) -> np.ndarray:
    """Log-softmax VJP ``dx = g - exp(ls) * sum(g)`` as float64."""
    ld = [Decimal(v) for v in _floats(ls)]
    gd = [Decimal(v) for v in _floats(g)]
    total = Decimal(0)
    for gj in gd:
        total = _CTX.add(total, gj)
    return np.array(
        [float(_CTX.subtract(gj, _CTX.multiply(_CTX.exp(lj), total))) for lj, gj in zip(ld, gd)]
    )


def naive_rows(oracle: Callable[..., np.ndarray | float], *arrays: np.ndarray) -> np.ndarray:
    """Apply a per-row oracle to every row of 2-D arrays; float64 result of the kernel's shape.

    Row oracles (``naive_softmax``, ...) give ``(rows, n)``; ``naive_logsumexp`` gives ``(rows,)``.
    """
    rows, n = arrays[0].shape
    shape = (rows,) if oracle is naive_logsumexp else (rows, n)
    result = np.empty(shape)
    for i in range(rows):
        result[i] = oracle(*(a[i] for a in arrays))
    return result


# ==============================================================================================
# Sparse maps: sparsemax, 1.5-entmax, alpha-entmax and their VJPs (appended; owner: sparse maps).
#
# The same row policy as above: a row with a NaN, a +inf or only -inf gives an all-NaN row;
# -inf entries get 0; an empty row gives an empty row.  The forward oracles try every support
# size k (of the finite entries sorted decreasingly), solve for the threshold tau assuming that
# support, and keep the k whose KKT conditions hold (the top k entries above tau, the next one
# at or below it): the definition, not the kernels' algorithms.  sparsemax is exact (rational
# arithmetic with fractions.Fraction); 1.5-entmax solves its quadratic in 40-digit decimals;
# alpha-entmax finds tau by float bisection and polishes it with Newton steps in 40 digits.
# Decimal arithmetic runs inside localcontext(_CTX), so plain operators use 40 digits.
#
# Legend (sparse maps): z the scaled row ((alpha - 1) * x), zs its finite entries sorted
# decreasingly, tau the threshold, y the output, g upstream gradient, h the VJP weights.
# ==============================================================================================


def _sparse_special(x: list[float]) -> bool:
    """True if the row gets the all-NaN answer: a NaN, a +inf, or (non-empty) no finite entry."""
    nan_or_inf = any(math.isnan(v) or v == math.inf for v in x)
    return nan_or_inf or (bool(x) and all(v == -math.inf for v in x))


def naive_sparsemax(row: Sequence[float]) -> np.ndarray:
    """Sparsemax ``y = max(x - tau, 0)``, exact (fractions), rounded once to float64."""
    x = _floats(row)
    if _sparse_special(x):
        return np.full(len(x), np.nan)
    xs = sorted((Fraction(v) for v in x if v > -math.inf), reverse=True)
    tau = Fraction(0)
    for k in range(1, len(xs) + 1):
        tau = (sum(xs[:k]) - 1) / k
        if xs[k - 1] > tau and (k == len(xs) or xs[k] <= tau):
            break
    return np.array([float(max(Fraction(v) - tau, 0)) if v > -math.inf else 0.0 for v in x])


def naive_entmax15(row: Sequence[float]) -> np.ndarray:
    """1.5-entmax ``y = max(x/2 - tau, 0)^2`` with ``sum(y) = 1``, in 40-digit decimals."""
    x = _floats(row)
    if _sparse_special(x):
        return np.full(len(x), np.nan)
    with localcontext(_CTX):
        # Shift by the maximum first (each difference correctly rounded to 40 digits): at 40
        # digits, squares of values near 1e308 would lose the "1" of the quadratic below.
        m = Decimal(max(x)) if x else Decimal(0)
        z = [(Decimal(v) - m) / 2 if v > -math.inf else None for v in x]
        zs = sorted((v for v in z if v is not None), reverse=True)
        tau = Decimal(0)
        for k in range(1, len(zs) + 1):
            s1 = sum(zs[:k], Decimal(0))
            s2 = sum((v * v for v in zs[:k]), Decimal(0))
            # sum_{i<=k} (zs_i - tau)^2 = 1 <=> k tau^2 - 2 s1 tau + s2 - 1 = 0; the smaller root
            disc = s1 * s1 - k * (s2 - 1)
            if disc < 0:
                continue
            tau = (s1 - disc.sqrt()) / k
            if zs[k - 1] > tau and (k == len(zs) or zs[k] <= tau):
                break
        return np.array([float((v - tau) ** 2) if v is not None and v > tau else 0.0 for v in z])


def naive_entmax_bisect(row: Sequence[float], alpha: float) -> np.ndarray:
    """alpha-entmax ``y = max((alpha-1) x - tau, 0)^(1/(alpha-1))`` with ``sum(y) = 1``.

    ``tau`` by 200 float64 bisection steps on ``[max z - 1, max z]`` (``sum(y)`` falls from at
    least 1 to 0 there), then four Newton steps on ``sum(y) - 1`` in 40-digit decimals.
    """
    x = _floats(row)
    if _sparse_special(x) or not x:
        return np.full(len(x), np.nan)
    with localcontext(_CTX):
        a1 = Decimal(alpha) - 1
        beta = 1 / a1
        m = Decimal(max(x))  # shift first, as for naive_entmax15
        z = [a1 * (Decimal(v) - m) if v > -math.inf else None for v in x]
        zmax = max(v for v in z if v is not None)
        zf = [float(v - zmax) for v in z if v is not None]  # to locate tau to float precision
        lo, hi = -1.0, 0.0
        for _ in range(200):
            mid = (lo + hi) / 2
            mass = sum(max(v - mid, 0.0) ** float(beta) for v in zf)
            lo, hi = (mid, hi) if mass >= 1 else (lo, mid)
        tau = zmax + Decimal((lo + hi) / 2)
        for _ in range(4):
            pos = [v - tau for v in z if v is not None and v > tau]
            f = sum((d**beta for d in pos), Decimal(0)) - 1
            df = -beta * sum((d ** (beta - 1) for d in pos), Decimal(0))
            tau -= f / df
        return np.array([float((v - tau) ** beta) if v is not None and v > tau else 0.0 for v in z])


def naive_entmax_vjp(y: Sequence[float], g: Sequence[float], alpha: float) -> np.ndarray:
    """Formula (B): ``dx = u - (sum(u) / sum(h)) * h``, ``h = y^(2 - alpha)`` where ``y > 0``
    (0 elsewhere), ``u = h * g``; an all-NaN row where ``y`` has a NaN; 0 off the support."""
    yf, gf = _floats(y), _floats(g)
    if any(math.isnan(v) for v in yf):
        return np.full(len(yf), np.nan)
    with localcontext(_CTX):
        b = 2 - Decimal(alpha)
        h = [Decimal(v) ** b if v > 0 else Decimal(0) for v in yf]
        u = [hj * Decimal(gj) if hj > 0 else Decimal(0) for hj, gj in zip(h, gf)]
        ratio = sum(u, Decimal(0)) / sum(h, Decimal(0)) if yf else Decimal(0)
        return np.array([float(uj - ratio * hj) if hj > 0 else 0.0 for uj, hj in zip(u, h)])


def naive_sparsemax_vjp(y: Sequence[float], g: Sequence[float]) -> np.ndarray:
    """Sparsemax VJP ``dx = s * (g - mean of g over s)``, ``s = y > 0`` (formula (B), alpha 2)."""
    return naive_entmax_vjp(y, g, 2.0)


def naive_entmax15_vjp(y: Sequence[float], g: Sequence[float]) -> np.ndarray:
    """1.5-entmax VJP (formula (B) with ``h = sqrt(y)``)."""
    return naive_entmax_vjp(y, g, 1.5)


def naive_entmax_bisect_converged(row: Sequence[float], alpha: float) -> np.ndarray:
    """alpha-entmax with ``tau`` found by bisection to convergence in 40-digit decimals.

    No Newton step, so it stays exact where :func:`naive_entmax_bisect` may not: for
    ``alpha > 2`` with an entry within a few ulps of the threshold, ``sum(y)`` has an infinite
    slope there and four Newton steps leave ``tau`` about an ulp off (then that entry gets
    ``~1e-8`` instead of ``~1e-15``).  Float bisection (NumPy) only narrows the bracket, which
    is checked in decimals before it is used.  Slower (about 80 decimal halvings, each summing
    the support's powers): the yardstick of tests/kernels/test_sparse_accuracy.py.
    """
    x = _floats(row)
    if _sparse_special(x) or not x:
        return np.full(len(x), np.nan)
    with localcontext(_CTX):
        a1 = Decimal(alpha) - 1
        beta = 1 / a1
        m = Decimal(max(x))  # shift first, as for naive_entmax15
        z = [a1 * (Decimal(v) - m) if v > -math.inf else None for v in x]
        # tau >= -1 (the maximum, w = 0, alone gives mass 1), so only w > -1 can count.
        top = sorted((v for v in z if v is not None and v > -1), reverse=True)

        def mass(tau: Decimal) -> Decimal:
            return sum(((v - tau) ** beta for v in top if v > tau), Decimal(0))

        zf = np.array([float(v) for v in top])
        lo_f, hi_f = -1.0, 0.0
        for _ in range(60):
            mid_f = (lo_f + hi_f) / 2
            big = np.sum(np.maximum(zf - mid_f, 0.0) ** float(beta)) >= 1
            lo_f, hi_f = (mid_f, hi_f) if big else (lo_f, mid_f)
        lo, hi = Decimal(lo_f) - Decimal("1e-12"), Decimal(hi_f) + Decimal("1e-12")
        if not (lo >= -1 and mass(lo) >= 1 and hi <= 0 and mass(hi) < 1):
            lo, hi = Decimal(-1), Decimal(0)  # mass(-1) >= 1 > mass(0) = 0
        while hi - lo > abs(lo) * Decimal("1e-39"):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if mass(mid) >= 1 else (lo, mid)
        tau = (lo + hi) / 2
        return np.array([float((v - tau) ** beta) if v is not None and v > tau else 0.0 for v in z])
