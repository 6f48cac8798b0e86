"""Slow, obviously-correct oracles, one row at a time, in 40-digit decimal arithmetic.

Each oracle takes 1-D rows (any float dtype), converts every value to :class:`decimal.Decimal`
exactly (``Decimal(float)`` is exact), computes in Python's :mod:`decimal` module at 40
significant digits (``exp`` and ``ln`` there are correctly rounded), and rounds each result once to
float64.  So a result is the correctly rounded float64 answer for the exact input values, and
rounding it to float32 gives "the float64 oracle rounded".  These are the yardsticks for the
kernels' ulp errors and for the functional API; speed is no goal (about 10 us per element).

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
from decimal import Context, Decimal

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
    """
    if t == 0:
        return Decimal(0)
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
