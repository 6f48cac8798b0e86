"""The properties behind :mod:`npsoftmax.testing.properties`, one small function per property.

A property is a name, a Hypothesis strategy and a ``violation(value)`` that returns ``None``
when the property holds at ``value`` and otherwise one sentence saying what went wrong.

Legend: ``t`` the :class:`~npsoftmax.testing.properties.Target` wrapping the user's ``fn``;
``x`` logits; ``y`` its output (float64); ``r`` the reference; ``n`` the row length; ``tol`` the
allowed error; ``c`` a shift; ``s1 < s2`` scales; ``H`` entropy; ``eps`` = ``ulps`` times
``finfo(dtype).eps``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import strategies as S

Violation = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Property:
    name: str
    strategy: st.SearchStrategy
    violation: Violation
    labels: tuple[str, ...] = ("x",)


def show(value: Any, labels: tuple[str, ...]) -> str:
    """Format a drawn example as Python you can paste: ``x = np.array([...], dtype=...)``."""
    values = value if len(labels) > 1 else (value,)
    parts = []
    for label, v in zip(labels, values, strict=True):
        if isinstance(v, np.ndarray):
            body = np.array2string(v, separator=", ", floatmode="unique", threshold=10**6)
            text = f"np.array({body.replace('inf', 'np.inf')}, dtype=np.{v.dtype.name})"
        else:
            text = repr(v)
        parts.append(f"{label} = {text}")
    return "; ".join(parts)


def _reference(kind: str, x: np.ndarray, axis: int) -> np.ndarray:
    import npsoftmax as nps  # late: npsoftmax imports this package

    fn = {"softmax": nps.softmax, "log_softmax": nps.log_softmax, "logsumexp": nps.logsumexp}
    fn["sparsemax"] = nps.sparsemax
    with nps.use_backend("numpy"):
        return np.asarray(fn[kind](x, axis=axis), dtype=np.float64)


def _first_bad(bad: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(bad)[0])


def _row(i: tuple[int, ...]) -> str:
    return f"row {i}" if i else "the row"


def _compare(y: np.ndarray, r: np.ndarray, tol: Any, what: str) -> str | None:
    # Where the reference is infinite (a -inf mask in log space) only the same infinity agrees:
    # an infinite tolerance would let any finite value pass.
    tol = np.where(np.isinf(r), 0.0, np.broadcast_to(tol, y.shape))
    # Equal values (infinities included) and NaN against NaN agree; NaN elsewhere never does.
    same = (y == r) | (np.isnan(y) & np.isnan(r))
    bad = ~(same | (np.abs(y - r) <= tol))
    if not bad.any():
        return None
    i = _first_bad(bad)
    got, want = float(y[i]), float(r[i])
    return f"{what}: at index {i} got {got!r}, expected {want!r} (allowed error {tol[i]:.2e})"


def _agreement(
    t: Any, kind: str, axis: int, tol_rule: Callable[..., Any], what: str, rescale: bool = False
) -> Violation:
    def violation(x: np.ndarray) -> str | None:
        y, err = t(x)
        if err:
            return err
        r = _reference(kind, x, axis)
        if rescale:
            y = _over_own_sum(y, axis)
        return _compare(y, r, tol_rule(x, r), what)

    return violation


def _over_own_sum(y: np.ndarray, axis: int) -> np.ndarray:
    """``y`` divided by its exact row sums (float64), where those are finite and positive.

    The order in which an implementation sums a long row scales the whole row by a common
    factor ``1 + delta`` (``|delta|`` up to ``n eps``: 23 eps for PyTorch on rows of 255,
    measured); "sums to one" bounds that factor, and agreement compares what is left, the
    entries' shape, tightly.  A bias on some entries but not others is not a common factor.
    """
    y64 = np.asarray(y, dtype=np.float64)
    total = np.apply_along_axis(math.fsum, axis, y64) if y64.size else np.ones(())
    total = np.expand_dims(total, axis) if y64.size else total
    ok = np.isfinite(total) & (total > 0)
    return np.where(ok, y64 / np.where(ok, total, 1.0), y64)


def _sums_to_one(t: Any, axis: int, tol_rule: Callable[..., Any], log: bool = False) -> Violation:
    def violation(x: np.ndarray) -> str | None:
        y, err = t(x)
        if err:
            return err
        total = np.sum(np.exp(y) if log else y, axis=axis)
        tol = np.broadcast_to(tol_rule(x), total.shape)
        bad = ~(np.abs(total - 1.0) <= tol)  # written so that NaN is bad
        if bad.any():
            i = _first_bad(bad)
            return f"{_row(i)} sums to {float(total[i])!r}, not 1 within {tol[i]:.2e}"
        return None

    return violation


def _sign(t: Any, limit: float, nonneg: bool) -> Violation:
    def violation(x: np.ndarray) -> str | None:
        y, err = t(x)
        if err:
            return err
        bad = ~(y >= 0) if nonneg else ~(y <= limit)
        if bad.any():
            i = _first_bad(bad)
            return f"at index {i} got {float(y[i])!r}, expected {'>= 0' if nonneg else '<= 0'}"
        return None

    return violation


def _shift(t: Any, axis: int, eps: float, equivariant: bool, prob: bool) -> Violation:
    def violation(value: tuple[np.ndarray, float]) -> str | None:
        x, c = value
        y0, err = t(x)
        y1, err1 = t(x + x.dtype.type(c))  # exact: grid_logits and shifts are built for it
        if err or err1:
            return err or err1
        expected = y0 + c if equivariant else y0
        if prob:
            tol = eps * (np.abs(y0) + np.max(np.abs(y0), axis=axis, keepdims=True))
        else:  # fn(x) and fn(x + c) each round at their own magnitude, and c is added exactly
            tol = eps * (np.abs(y0) + abs(c) + np.abs(y1) + 1.0)
        return _compare(y1, expected, tol, f"fn(x + c) vs fn(x){' + c' if equivariant else ''}")

    return violation


def _entropy(y: np.ndarray, axis: int) -> np.ndarray:
    return -np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0), axis=axis)


def _scale_monotone(t: Any, axis: int, eps: float) -> Violation:
    def violation(value: tuple[np.ndarray, tuple[float, float]]) -> str | None:
        x, (s1, s2) = value
        y1, err = t(x * x.dtype.type(s1))
        y2, err2 = t(x * x.dtype.type(s2))
        if err or err2:
            return err or err2
        p1, p2 = np.max(y1, axis=axis), np.max(y2, axis=axis)
        bad = ~(p2 >= p1 - eps * p1)
        if bad.any():
            i = _first_bad(bad)
            a, b = float(p1[i]), float(p2[i])
            return f"{_row(i)}: largest probability fell from {a!r} at s1 to {b!r} at s2"
        n = x.shape[axis]
        h1, h2 = _entropy(y1, axis), _entropy(y2, axis)
        bad = ~(h2 <= h1 + eps * n * (1.0 + np.log(n)))
        if bad.any():
            i = _first_bad(bad)
            return f"{_row(i)}: entropy rose from {float(h1[i])!r} at s1 to {float(h2[i])!r} at s2"
        return None

    return violation


def _const_gap(t: Any, axis: int, eps: float) -> Violation:
    def violation(x: np.ndarray) -> str | None:
        y, err = t(x)
        if err:
            return err
        gap = x.astype(np.float64) - y  # = logsumexp(x) in every entry of the row
        spread = np.max(gap, axis=axis) - np.min(gap, axis=axis)
        tol = eps * np.max(np.abs(x) + np.abs(y) + 1.0, axis=axis)
        bad = ~(spread <= tol)
        if bad.any():
            i = _first_bad(bad)
            d = float(spread[i])
            return f"{_row(i)}: x - fn(x) varies by {d!r} along the axis (allowed {tol[i]:.2e})"
        return None

    return violation


def _lse_bounds(t: Any, axis: int, eps: float) -> Violation:
    def violation(x: np.ndarray) -> str | None:
        y, err = t(x)
        if err:
            return err
        m, logn = np.max(x, axis=axis).astype(np.float64), np.log(x.shape[axis])
        tol = eps * (np.abs(m) + logn + 1.0)
        bad = ~((y >= m - tol) & (y <= m + logn + tol))
        if bad.any():
            i = _first_bad(bad)
            lo, hi = float(m[i]), float(m[i] + logn)
            return f"{_row(i)}: got {float(y[i])!r}, outside [max, max + log n] = [{lo!r}, {hi!r}]"
        return None

    return violation


# Row lengths where blocked and SIMD kernels go wrong: 2**k - 1, 2**k, 2**k + 1 (9 to 257).
_LONG_LENGTHS = tuple(n for k in range(3, 9) for n in (2**k - 1, 2**k, 2**k + 1) if n >= 9)


@st.composite
def _long_rows(
    draw: Any,
    *,
    dtype: Any,
    axis: int,
    extreme: bool = False,
    bound: float | None = None,
    masked: bool = False,
    max_len: int = 300,
) -> np.ndarray:
    """One or two rows of 9 to ``max_len`` entries, to reach a blocked kernel's blocks.

    Lengths are biased to ``2**k`` and ``2**k +- 1`` (where blocks and remainder loops meet).
    Values come from a NumPy generator seeded by Hypothesis (drawing hundreds of floats one by
    one is slow): uniform in ``[-b, b]``, ``b`` one of ``1``, ``30`` and the bound, in random,
    ascending (each block raises the running max) or descending order; ``masked`` sets some
    entries to ``-inf``, keeping a finite entry per row.
    """
    dt = S._float_dtype(dtype)
    if bound is None:
        bound = S.extreme_bound(dt) if extreme else 30.0
    ndim = max(S._min_dims(axis), 2)
    lengths = [n for n in _LONG_LENGTHS if n <= max_len]
    n = draw(st.sampled_from(lengths) | st.integers(9, max(9, max_len)))
    shape = [1] * ndim
    shape[axis] = n
    shape[1 if axis % ndim == 0 else 0] = draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    b = draw(st.sampled_from([v for v in (1.0, 30.0, bound) if v <= bound]))
    x = rng.uniform(-b, b, size=shape)
    order = draw(st.sampled_from(["random", "ascending", "descending"]))
    if order != "random":
        x = np.sort(x, axis=axis)
        x = x if order == "ascending" else np.flip(x, axis=axis)
    x = x.astype(dt)
    if masked:
        mask = rng.random(shape) < draw(st.sampled_from([0.1, 0.5, 0.9]))
        rows = np.moveaxis(mask, axis, -1)  # a view: unmask one entry of fully masked rows
        rows[..., int(rng.integers(n))] &= ~rows.all(axis=-1)
        x[mask] = -np.inf
    return x


def _inputs(dt: np.dtype, axis: int) -> dict[str, st.SearchStrategy]:
    # Short arrays first (Hypothesis shrinks towards the first branch), then one or two long
    # rows that reach the blocks and remainder loops of vectorised kernels.
    def long(**kw: Any) -> st.SearchStrategy:
        return _long_rows(dtype=dt, axis=axis, **kw)

    return {
        "extreme": S.logits(dtype=dt, extreme=True, axis=axis, max_side=8) | long(extreme=True),
        # Masks with moderate and with extreme logits: a -inf replaced by a large finite
        # negative number only shows when the finite entries are far below it.
        "masked": S.masked_logits(dtype=dt, axis=axis, max_side=8)
        | S.masked_logits(dtype=dt, extreme=True, axis=axis, max_side=8)
        | long(extreme=True, masked=True),
        "shift": st.tuples(S.grid_logits(dtype=dt, axis=axis), S.shifts(dt)),
        "scale": st.tuples(S.grid_logits(dtype=dt, axis=axis), S.scales()),
        "moderate": S.logits(dtype=dt, bound=1e3, axis=axis, max_side=8) | long(bound=1e3),
    }


def _mask_exact(rule: Callable[..., Any]) -> Callable[..., Any]:
    """``rule`` with no tolerance at ``-inf`` logits: a masked entry must be exactly 0."""
    return lambda x, r: np.where(np.isneginf(x), 0.0, rule(x, r))


def softmax_properties(t: Any, dt: np.dtype, axis: int, ulps: float) -> list[Property]:
    eps, s = ulps * float(np.finfo(dt).eps), _inputs(dt, axis)

    def prob_tol(x: np.ndarray, r: np.ndarray) -> np.ndarray:
        # Relative to r, with a floor of max_row(r) / e for the tiny entries: rounding
        # z_i = x_i - max(x) moves r_i = r_max e^{z_i} by r_i |z_i| eps / 2 <= r_max eps / (2e)
        # (t |ln t| <= 1/e), a relative error that grows without bound as r_i shrinks.
        floor = np.max(np.abs(r), axis=axis, keepdims=True) / np.e
        return eps * np.maximum(np.abs(r), floor)

    what = "differs from npsoftmax.softmax (both rescaled to sum to 1)"
    agree = _agreement(t, "softmax", axis, prob_tol, what, rescale=True)
    masks = _agreement(t, "softmax", axis, _mask_exact(prob_tol), what, rescale=True)
    return [
        Property("sums to one", s["extreme"], _sums_to_one(t, axis, lambda x: eps * x.shape[axis])),
        Property("non-negative", s["extreme"], _sign(t, 0.0, nonneg=True)),
        Property("shift invariance", s["shift"], _shift(t, axis, eps, False, True), ("x", "c")),
        Property(
            "scale monotonicity", s["scale"], _scale_monotone(t, axis, eps), ("x", "(s1, s2)")
        ),
        Property(f"agreement ({ulps:g} eps relative)", s["extreme"], agree),
        Property("-inf masks give 0", s["masked"], masks),
    ]


def _log_tol(eps: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    return lambda x, r: eps * (np.abs(r) + 1.0)


def log_softmax_properties(t: Any, dt: np.dtype, axis: int, ulps: float) -> list[Property]:
    eps, s = ulps * float(np.finfo(dt).eps), _inputs(dt, axis)
    agree = _agreement(t, "log_softmax", axis, _log_tol(eps), "differs from npsoftmax.log_softmax")
    sums = _sums_to_one(t, axis, lambda x: eps * x.shape[axis], log=True)
    return [
        Property("exp sums to one", s["extreme"], sums),
        Property("non-positive", s["extreme"], _sign(t, eps, nonneg=False)),
        Property("x - fn(x) constant", s["extreme"], _const_gap(t, axis, eps)),
        Property("shift invariance", s["shift"], _shift(t, axis, eps, False, False), ("x", "c")),
        Property(f"agreement ({ulps:g} eps (|r| + 1))", s["extreme"], agree),
        Property("-inf masks give -inf", s["masked"], agree),
    ]


def logsumexp_properties(t: Any, dt: np.dtype, axis: int, ulps: float) -> list[Property]:
    eps, s = ulps * float(np.finfo(dt).eps), _inputs(dt, axis)
    agree = _agreement(t, "logsumexp", axis, _log_tol(eps), "differs from npsoftmax.logsumexp")
    return [
        Property("max <= lse <= max + log n", s["extreme"], _lse_bounds(t, axis, eps)),
        Property("shift equivariance", s["shift"], _shift(t, axis, eps, True, False), ("x", "c")),
        Property(f"agreement ({ulps:g} eps (|r| + 1))", s["extreme"], agree),
        Property("-inf masks ignored", s["masked"], agree),
    ]


def sparsemax_properties(t: Any, dt: np.dtype, axis: int, ulps: float) -> list[Property]:
    eps, s = ulps * float(np.finfo(dt).eps), _inputs(dt, axis)

    def tol(x: np.ndarray, r: Any = None) -> np.ndarray:
        # The threshold tau is a cumulative sum of up to n logits: error ~ n * eps * max|x|.
        big = np.max(np.abs(x.astype(np.float64)), axis=axis, keepdims=r is not None)
        return eps * x.shape[axis] * (big + 1.0)

    agree = _agreement(t, "sparsemax", axis, tol, "differs from npsoftmax.sparsemax")
    return [
        Property("sums to one", s["moderate"], _sums_to_one(t, axis, tol)),
        Property("non-negative", s["moderate"], _sign(t, 0.0, nonneg=True)),
        Property(f"agreement ({ulps:g} eps n (max|x| + 1))", s["moderate"], agree),
    ]


PROPERTIES: dict[str, Callable[[Any, np.dtype, int, float], list[Property]]] = {
    "softmax": softmax_properties,
    "log_softmax": log_softmax_properties,
    "logsumexp": logsumexp_properties,
    "sparsemax": sparsemax_properties,
}
