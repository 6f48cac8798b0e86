"""Reduction primitives (sum, mean, max): ``Function`` subclasses with hand-written VJPs.

Legend: ``x`` is the input, ``out`` the reduced result, ``g`` the gradient flowing back (shaped
like ``out``).  Every backward first puts the reduced axes back as length-1 axes (``g_keep``),
then broadcasts to ``x``'s shape.  A sum that overflows gives inf without a RuntimeWarning
(``np.errstate``), as in :mod:`.primitives`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .function import Function
from .shapes import normalize_axis


def reduction_axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """Return ``axis`` (None, an int or a tuple of ints) as a tuple of non-negative axes.

    ``None`` means every axis.  A 0-d array has no axis to reduce, but accepts ``axis=0`` or
    ``-1`` as one element along one axis (see :func:`~npsoftmax.autograd.shapes.normalize_axis`);
    it gives ``()``, which NumPy reduces as the identity.

    Raises
    ------
    numpy.exceptions.AxisError
        If an axis is out of range (it is both a ``ValueError`` and an ``IndexError``).
    ValueError
        If an axis is repeated.
    """
    if axis is None:
        return tuple(range(ndim))
    given = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    axes = tuple(normalize_axis(a, ndim, op) for a in given)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: axis {axis!r} names the same axis twice.")
    return axes if ndim else ()


def _keep(g: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """``g`` with the reduced ``axes`` restored as length-1 axes (a view)."""
    return g if keepdims else np.expand_dims(g, axes)


def _divide_widened(g: np.ndarray, count: Any) -> np.ndarray:
    """``g / count`` computed in at least float32, returned in ``g``'s dtype.

    A count above 65504 is inf in float16 (NEP 50 casts a Python int to ``g``'s dtype), which
    would turn every share into 0; 1 / 100000 itself is representable (subnormal) in float16.
    """
    wide = np.promote_types(g.dtype, np.float32)
    return (g.astype(wide, copy=False) / np.asarray(count, dtype=wide)).astype(g.dtype, copy=False)


class SumFunction(Function):
    """Sum over ``axis`` (**primitive**)."""

    op = "sum"  # the name its errors give it

    @np.errstate(all="ignore")
    def forward(self, x: np.ndarray, *, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        self.axes = reduction_axes(axis, x.ndim, "sum")
        self.keepdims, self.in_shape = keepdims, x.shape
        return np.sum(x, axis=self.axes, keepdims=keepdims)

    @np.errstate(all="ignore")
    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # sum VJP: dx = g broadcast back along the summed axes
        return (np.broadcast_to(_keep(g, self.axes, self.keepdims), self.in_shape),)


class MeanFunction(Function):
    """Arithmetic mean over ``axis`` (**primitive**)."""

    op = "mean"  # the name its errors give it

    @np.errstate(all="ignore")
    def forward(self, x: np.ndarray, *, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        self.axes = reduction_axes(axis, x.ndim, "mean")
        self.keepdims, self.in_shape = keepdims, x.shape
        self.count = int(np.prod([x.shape[a] for a in self.axes], dtype=np.int64))
        if self.count == 0:
            # The mean of no elements is NaN, as in NumPy, but without its RuntimeWarning
            # (the project's policy): 0 * NaN raises no floating-point flag.
            return np.sum(x, axis=self.axes, keepdims=keepdims) * np.nan
        return np.mean(x, axis=self.axes, keepdims=keepdims)

    @np.errstate(all="ignore")
    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # mean VJP: dx = g / n broadcast back along the averaged axes (n = elements averaged).
        # When n = 0 the input is empty and so is its gradient: max(n, 1) only avoids 0 / 0.
        g_keep = _divide_widened(_keep(g, self.axes, self.keepdims), max(self.count, 1))
        return (np.broadcast_to(g_keep, self.in_shape),)


class MaxFunction(Function):
    """Maximum over ``axis`` (**primitive**), like ``np.max`` / ``torch.amax``.

    Ties share the gradient equally among the tied maxima (as ``torch.amax`` does; a subgradient
    that is symmetric in the tied entries).  NaN propagates as in ``np.max``: a slice containing
    NaN has maximum NaN, and its gradient goes to its NaN entries (shared equally), the entries
    that produced the output.
    """

    op = "max"  # the name its errors give it

    def forward(self, x: np.ndarray, *, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        axes = reduction_axes(axis, x.ndim, "max")
        if any(x.shape[a] == 0 for a in axes):
            raise ValueError(
                f"max: cannot take the maximum over an empty axis (input shape {x.shape}, "
                f"axis {axis!r}); the maximum of no elements is undefined."
            )
        out = np.max(x, axis=axes, keepdims=keepdims)
        if self.needs_input_grad[0]:
            out_keep = _keep(out, axes, keepdims)
            winners = x == out_keep
            nan_out = np.isnan(out_keep)
            if nan_out.any():
                winners |= np.isnan(x) & nan_out
            # The boolean mask of maxima is all the backward needs (smaller than x).
            self.save_for_backward(winners)
            self.axes, self.keepdims = axes, keepdims
        return out

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # max VJP: dx = g / m on the m entries equal to the maximum of their slice, 0 elsewhere
        (winners,) = self.saved_arrays
        m = np.sum(winners, axis=self.axes, keepdims=True)  # >= 1: every slice has a maximum
        share = _divide_widened(_keep(g, self.axes, self.keepdims), m)
        return (np.where(winners, share, 0),)
