"""Shape helpers: the one place for gradient unbroadcasting and for moving an axis last.

Every row-wise op (softmax and its family) works on a 2-D ``(rows, classes)`` view with the
class axis last; :func:`to_rows` builds that view and :func:`from_rows` undoes it.  Every
broadcasting op hands the engine a gradient of the *output's* shape; :func:`unbroadcast`, called
once by the engine, sums it back down to each input's shape.
"""

from __future__ import annotations

import operator

import numpy as np


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.

    Broadcasting aligns shapes on the right: leading axes that the input did not have are
    summed away, then every axis where the input had size 1 and the output did not is summed
    with ``keepdims``.  The VJP of ``broadcast_to`` is exactly this sum.
    """
    grad = np.asarray(grad)
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        # Too few axes: an op's backward is wrong; the engine's shape check names the op.
        return grad
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def normalize_axis(axis: object, ndim: int, op: str = "this operation") -> int:
    """Return ``axis`` as a non-negative int, or raise a clear error.

    Raises
    ------
    TypeError
        If ``axis`` is not an integer, or is a bool (``True.__index__()`` is 1, but NumPy and
        SciPy refuse ``axis=True``, and so do we).
    IndexError
        If ``axis`` is outside ``[-ndim, ndim - 1]``; the message names the axis and ``ndim``.
        (NumPy's ``AxisError`` is both a ``ValueError`` and an ``IndexError``; we raise it.)
    """
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{op}: axis must be an integer, got the bool {axis!r}.")
    try:
        ax = operator.index(axis)
    except TypeError:
        raise TypeError(
            f"{op}: axis must be an integer, got {axis!r} of type {type(axis).__name__}."
        ) from None
    # A 0-d array is treated as one element along axis 0 (or -1), as PyTorch does.
    valid = ax in (0, -1) if ndim == 0 else -ndim <= ax < ndim
    if not valid:
        raise np.exceptions.AxisError(
            f"{op}: axis {ax} is out of bounds for an array of dimension {ndim} "
            f"(valid axes are {-max(ndim, 1)} to {max(ndim, 1) - 1})."
        )
    return ax % ndim if ndim else 0


def as_integer(value: object, name: str, op: str) -> int:
    """``value`` as a Python int (anything with ``__index__``) or a ``TypeError`` naming ``name``.

    A bool is refused: ``k=True`` is almost surely a mistake, though ``True.__index__()`` is 1.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be an integer, got {value!r}.")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{op}: {name} must be an integer, got {value!r} of type {type(value).__name__}."
        ) from None


def normalize_axes(axis: object, ndim: int, op: str = "this operation") -> tuple[int, ...]:
    """Normalise ``axis`` (an int, a tuple of ints, or ``None`` for all axes) to sorted ints.

    Raises
    ------
    ValueError
        If an axis is repeated.
    """
    if axis is None:
        return tuple(range(ndim)) if ndim else (0,)
    if isinstance(axis, tuple):
        axes = tuple(normalize_axis(a, ndim, op) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{op}: repeated axis in {axis!r}.")
        return tuple(sorted(axes))
    return (normalize_axis(axis, ndim, op),)


def to_rows(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, tuple[int, ...]]:
    """View ``x`` as a C-contiguous ``(rows, classes)`` array with ``axes`` last and merged.

    ``axes`` are normalised (see :func:`normalize_axes`).  Returns the 2-D array and the shape
    of ``x`` with ``axes`` moved last, which :func:`from_rows` needs to restore the layout.
    Copies only when ``x`` is not already C-contiguous in that order.  A 0-d input is one row
    of one class.
    """
    if x.ndim == 0:
        return x.reshape(1, 1), (1,)
    k = len(axes)
    last = tuple(range(x.ndim - k, x.ndim))
    moved = x if axes == last else np.moveaxis(x, axes, last)  # moveaxis costs microseconds
    moved_shape = moved.shape
    n = int(np.prod(moved_shape[x.ndim - k :], dtype=np.int64))
    rows = int(np.prod(moved_shape[: x.ndim - k], dtype=np.int64))
    return np.ascontiguousarray(moved).reshape(rows, n), moved_shape


def from_rows(
    y2d: np.ndarray, moved_shape: tuple[int, ...], axes: tuple[int, ...], ndim: int
) -> np.ndarray:
    """Undo :func:`to_rows`: reshape ``y2d`` to ``moved_shape`` and move ``axes`` back."""
    if ndim == 0:
        return y2d.reshape(())
    k = len(axes)
    last = tuple(range(ndim - k, ndim))
    y = y2d.reshape(moved_shape)
    return y if axes == last else np.moveaxis(y, last, axes)


def reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> tuple[int, ...]:
    """``shape`` with ``axes`` removed (or set to 1 with ``keepdims``): a reduction's shape."""
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)
