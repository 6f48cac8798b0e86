"""The classification losses' arguments, checked and put in row form, with PyTorch's rules.

The class axis (PyTorch's: 1 for ``ndim >= 2``, else 0), class-index targets flattened to
``(rows,)`` with ``ignore_index`` applied (:class:`Target`), the three reductions and the weight
each row gets back in the VJP, label smoothing.  Used by :mod:`npsoftmax.functional.losses`,
whose legend applies (``w``: the upstream gradient's share of a row).
"""

from __future__ import annotations

import numbers
import operator
from typing import Any, NamedTuple

import numpy as np

from .._dask import refuse_dask
from ..autograd.dispatch import as_array
from ..autograd.shapes import normalize_axis
from ..autograd.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


class Target(NamedTuple):
    """Class-index targets as ``(rows,)`` arrays: which rows count, and where to read them."""

    index: np.ndarray  # (rows,) intp, 0 where the row is ignored (a safe index)
    keep: np.ndarray  # (rows,) bool, False where the target equals ignore_index
    shape: tuple[int, ...]  # the target's shape: the input's without the class axis


def class_axis(ndim: int, axis: Any, op: str) -> int:
    """PyTorch's class axis (1 for ``ndim >= 2``, else 0) or the one given, normalised."""
    if ndim == 0:
        raise ValueError(f"{op}: the input must have a class axis, got a 0-d array.")
    if axis is None:
        return 1 if ndim >= 2 else 0
    return normalize_axis(axis, ndim, op)


def check_options(reduction: Any, ignore_index: Any, op: str) -> int | None:
    """Check ``reduction`` (PyTorch's three) and return ``ignore_index`` as an int (or None)."""
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        hint = (
            ""
            if isinstance(reduction, str)
            else " (the third positional argument is reduction: pass class weights as weight=)"
        )
        raise ValueError(
            f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}{hint}."
        )
    if ignore_index is None:
        return None
    try:
        return operator.index(ignore_index)
    except TypeError:
        raise TypeError(
            f"{op}: ignore_index must be an integer or None, got {ignore_index!r}."
        ) from None


def class_targets(
    target: np.ndarray, shape: tuple[int, ...], axis: int, ignore_index: int | None, op: str
) -> Target:
    """Validate integer class indices against an input of ``shape`` with classes on ``axis``."""
    n_classes = shape[axis]
    expected = shape[:axis] + shape[axis + 1 :]
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: target must hold integer class indices, got dtype {target.dtype}"
            + (
                f" (probability targets need the input's shape {shape})."
                if op == "cross_entropy"
                else "."
            )
        )
    if target.shape != expected:
        raise ValueError(
            f"{op}: target has shape {target.shape}, but an input of shape {shape} with classes "
            f"on axis {axis} needs targets of shape {expected}."
        )
    t = target.reshape(-1)
    keep = np.ones(t.shape, dtype=bool) if ignore_index is None else t != ignore_index
    bad = keep & ((t < 0) | (t >= n_classes))
    if bad.any():
        shown = first_values(t[bad])
        also = "" if ignore_index is None else f" (or ignore_index={ignore_index})"
        raise IndexError(
            f"{op}: target value(s) {shown} out of range: class indices must lie in "
            f"[0, {n_classes - 1}]{also} for {n_classes} classes."
        )
    # Ignored rows read class 0 (a safe index); their loss and gradient are zeroed by keep.
    index = np.where(keep, t, 0).astype(np.intp) if t.size else t.astype(np.intp)
    return Target(index, keep, expected)


def class_weights(weight: Any, n_classes: int, dtype: np.dtype, op: str) -> np.ndarray | None:
    """PyTorch's ``weight``: ``None``, or one finite real weight per class, as ``dtype``.

    A Tensor's values are used as a constant (no gradient flows to the weights).
    """
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if w.dtype.kind not in "iuf":
        raise TypeError(f"{op}: weight must hold real numbers, got dtype {w.dtype}.")
    if w.shape != (n_classes,):
        raise ValueError(
            f"{op}: weight must have shape ({n_classes},), one weight per class, got shape "
            f"{w.shape}."
        )
    if not np.isfinite(w).all():
        raise ValueError(
            f"{op}: weight must be finite, got {first_values(w[~np.isfinite(w)])} in it."
        )
    return w.astype(dtype)


def target_weights(target: Target, weight: np.ndarray | None) -> np.ndarray | None:
    """``weight[t_n]`` for each row, 0 on ignored rows; ``None`` without class weights."""
    if weight is None:
        return None
    return np.where(target.keep, weight[target.index], 0)


def counted(target: Target, row_weight: np.ndarray | None) -> np.ndarray:
    """The rows that add to a loss: not ignored and, with class weights, of non-zero weight."""
    return target.keep if row_weight is None else row_weight != 0


def weighed(loss: np.ndarray, target: Target, row_weight: np.ndarray | None) -> np.ndarray:
    """``a * loss`` per row (``a = 1`` without class weights), exactly 0 on a row that is not
    :func:`counted`, even at an infinite or NaN loss (which ``0 * inf`` would make NaN)."""
    with np.errstate(invalid="ignore"):
        scaled = loss if row_weight is None else row_weight * loss
    return np.where(counted(target, row_weight), scaled, 0)


def mean_divisor(target: Target, row_weight: np.ndarray | None) -> float:
    """What a ``"mean"`` divides by: the counted rows, or their total weight (as PyTorch)."""
    return int(target.keep.sum()) if row_weight is None else float(row_weight.sum())


def first_values(bad: np.ndarray) -> str:
    """The first five distinct values of ``bad``, for an error message (``"7, 9, ..."``)."""
    values = np.unique(bad)
    return ", ".join(str(v) for v in values[:5]) + (", ..." if values.size > 5 else "")


def reduce_rows(loss: np.ndarray, count: float, reduction: str, shape: tuple[int, ...]) -> Any:
    """Apply the reduction to per-row losses (ignored rows already 0); ``count`` divides a mean.

    A mean over no counted row (an empty batch, or every target ignored) is the honest 0/0:
    NaN, as in PyTorch, returned without a RuntimeWarning; so is one whose class weights sum to
    0 (negative weights) over losses that sum to 0, and over any other sum it is +-inf.
    """
    if reduction == "none":
        return loss.reshape(shape)
    total = loss.sum()
    if reduction == "sum":
        return total
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(total, count, dtype=np.result_type(total, count))


def row_weights(
    g: np.ndarray,
    target: Target,
    count: float,
    reduction: str,
    row_weight: np.ndarray | None = None,
) -> np.ndarray:
    """``w``: the upstream gradient's share for each row, 0 on ignored rows, as ``(rows, 1)``.

    ``row_weight`` (the rows' class weights, for :func:`counted`) tells a mean over nothing,
    whose gradient is 0, from one over rows whose weights sum to 0, whose gradient is ``g / 0``.
    """
    rows = target.keep.shape[0]
    if reduction == "none":
        w = g.reshape(rows)
    elif reduction == "sum":
        w = np.broadcast_to(g, (rows,))
    elif count or counted(target, row_weight).any():
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.broadcast_to(np.divide(g, count), (rows,))
    else:
        # A mean over nothing has no target to push: every gradient is 0 (not g / 0).
        w = np.zeros(rows, dtype=g.dtype)
    return np.where(target.keep, w, 0)[:, None]


def smoothed(q2: np.ndarray, eps: float) -> np.ndarray:
    """Label smoothing of a target distribution: ``(1 - eps) q + eps / C``."""
    return q2 * (1 - eps) + eps / q2.shape[1] if eps else q2


def check_smoothing(value: Any) -> float:
    """cross_entropy's ``label_smoothing``, checked: a real number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"cross_entropy: label_smoothing must be a real number, got {value!r}.")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1], got {value}.")
    return float(value)


def loss_input(x: Any, axis: Any, op: str) -> tuple[Any, int]:
    """The input (a Tensor, or a checked array) and its class axis, which must not be empty."""
    x = x if isinstance(x, Tensor) else as_array(x, f"{op}'s input")
    ax = class_axis(x.ndim, axis, op)
    require_classes(x.shape, ax, op)
    return x, ax


def require_classes(shape: tuple[int, ...], ax: int, op: str) -> None:
    """Refuse an empty class axis: a loss needs at least one class to score a target."""
    if shape[ax] == 0:
        raise ValueError(f"{op}: the class axis {ax} of the input of shape {shape} is empty.")


def refuse_dask_losses(op: str, *values: Any) -> None:
    """The losses reduce over the whole batch: refuse dask input before computing any of it."""
    refuse_dask(
        op,
        "a loss reduces over the whole batch, and its targets index the class axis. Compute "
        "the inputs first (x.compute()), or map nps.log_softmax over the blocks with dask.",
        *values,
    )
