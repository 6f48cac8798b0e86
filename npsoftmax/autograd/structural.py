"""Shape, indexing and joining primitives: ``Function`` subclasses with hand-written VJPs.

Legend: ``x`` is the input, ``out`` the result, ``g`` the gradient flowing back (shaped like
``out``).  None of these ops changes a value, so each VJP moves ``g`` back to where its
elements came from; where one input element fed several outputs (broadcasting, repeated
indices), their gradients add up.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .function import Function
from .shapes import normalize_axis
from .tensor import Tensor


class ReshapeFunction(Function):
    """``x`` with a new shape and the same elements in C order (**primitive**)."""

    op = "reshape"  # the name its errors give it

    def forward(self, x: np.ndarray, *, shape: Any) -> np.ndarray:
        self.in_shape = x.shape
        try:
            return np.reshape(x, shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape an array of shape {x.shape} (size {x.size}) into "
                f"shape {shape}."
            ) from None

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # reshape VJP: dx = reshape(g, x.shape)  (a reshape only relabels the elements)
        return (np.reshape(g, self.in_shape),)


def _axis_tuple(axes: Any, ndim: int, op: str) -> tuple[int, ...]:
    given = tuple(axes) if isinstance(axes, (tuple, list)) else (axes,)
    return tuple(normalize_axis(a, ndim, op) for a in given)


class TransposeFunction(Function):
    """``x`` with its axes permuted; reversed when ``axes`` is None (**primitive**)."""

    op = "transpose"  # the name its errors give it

    def forward(self, x: np.ndarray, *, axes: Any = None) -> np.ndarray:
        if axes is None:
            perm = tuple(range(x.ndim))[::-1]
        else:
            perm = _axis_tuple(axes, x.ndim, "transpose")
            if sorted(perm) != list(range(x.ndim)):
                raise ValueError(
                    f"transpose: axes {axes!r} are not a permutation of the {x.ndim} axes of "
                    f"an array of shape {x.shape}."
                )
        self.inverse = tuple(np.argsort(perm).tolist())
        return np.transpose(x, perm)

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # transpose VJP: dx = transpose(g, argsort(axes))  (the inverse permutation)
        return (np.transpose(g, self.inverse),)


def moveaxis_permutation(ndim: int, source: Any, destination: Any) -> tuple[int, ...]:
    """The ``axes`` for :class:`TransposeFunction` that ``np.moveaxis(x, source, dest)`` uses.

    Raises
    ------
    ValueError
        If ``source`` and ``destination`` differ in length or repeat an axis.
    numpy.exceptions.AxisError
        If an axis is out of range.
    """
    src = _axis_tuple(source, ndim, "moveaxis")
    dst = _axis_tuple(destination, ndim, "moveaxis")
    if len(src) != len(dst):
        raise ValueError(
            f"moveaxis: source {source!r} and destination {destination!r} must name the same "
            f"number of axes."
        )
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(
            f"moveaxis: source {source!r} and destination {destination!r} must not repeat an axis."
        )
    # NumPy's algorithm: the axes that stay, in order, with each moved axis inserted at its
    # destination (in increasing destination order, so earlier inserts do not shift later ones).
    order = [n for n in range(ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return tuple(order)


class BroadcastToFunction(Function):
    """``x`` broadcast to ``shape``, a read-only view as ``np.broadcast_to`` (**primitive**)."""

    op = "broadcast_to"  # the name its errors give it

    def forward(self, x: np.ndarray, *, shape: Any) -> np.ndarray:
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(
                f"broadcast_to: cannot broadcast shape {x.shape} to shape {shape}."
            ) from None

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # broadcast_to VJP: dx = g summed over the broadcast axes.  That sum is exactly the
        # engine's unbroadcast, so g goes back at the output's shape.
        return (g,)


def _plain_index(index: Any) -> Any:
    """``index`` with any Tensor in it (an integer or boolean index Tensor) replaced by its data."""
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index.data if isinstance(index, Tensor) else index


def _is_basic(index: Any) -> bool:
    """Whether ``index`` uses basic indexing only (ints, slices, None, Ellipsis)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        i is None or i is Ellipsis or isinstance(i, (slice, numbers.Integral)) for i in parts
    )


class GetItemFunction(Function):
    """``x[index]``: basic and advanced indexing, boolean masks included (**primitive**)."""

    op = "getitem"  # the name its errors give it

    def forward(self, x: np.ndarray, *, index: Any) -> np.ndarray:
        self.index, self.in_shape = _plain_index(index), x.shape
        try:
            return x[self.index]
        except IndexError as err:
            raise IndexError(f"getitem: cannot index an array of shape {x.shape}: {err}") from None

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # getitem VJP: dx = zeros like x, with g scatter-added at x[index].  np.add.at makes
        # repeated indices accumulate (x[[0, 0]] sends both gradients to x[0]), where
        # dx[index] = g would keep only one; basic indexing never repeats an element, so there
        # the (much faster) assignment is exact.
        dx = np.zeros(self.in_shape, dtype=g.dtype)
        if _is_basic(self.index):
            dx[self.index] = g
        else:
            np.add.at(dx, self.index, g)
        return (dx,)


def _along_axis_index(shape: tuple[int, ...], indices: np.ndarray, axis: int) -> tuple:
    """The advanced index equivalent to ``take_along_axis(., indices, axis)`` on ``shape``.

    ``indices`` along ``axis``, and along every other axis an ``arange`` shaped to broadcast
    against ``indices``: NumPy's own construction.
    """
    index = []
    for d, n in enumerate(shape):
        if d == axis:
            index.append(indices)
        else:
            index.append(np.arange(n).reshape((1,) * d + (n,) + (1,) * (len(shape) - d - 1)))
    return tuple(index)


class TakeAlongAxisFunction(Function):
    """``np.take_along_axis(x, indices, axis)``; ``indices`` is a constant (**primitive**).

    ``axis=None`` works on the flattened ``x`` (``indices`` then is 1-D).
    """

    op = "take_along_axis"  # the name its errors give it

    def forward(self, x: np.ndarray, *, indices: Any, axis: Any = -1) -> np.ndarray:
        indices = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if indices.dtype.kind not in "iu":
            raise TypeError(
                f"take_along_axis: indices must be an integer array, got dtype {indices.dtype}."
            )
        self.in_shape = x.shape
        if axis is None:
            x = x.reshape(-1)
        axis = 0 if axis is None else normalize_axis(axis, x.ndim, "take_along_axis")
        if indices.ndim != x.ndim:
            raise ValueError(
                f"take_along_axis: indices of shape {indices.shape} must have as many dimensions "
                f"as the array of shape {x.shape} it indexes."
            )
        self.indexed_shape = x.shape
        self.index = _along_axis_index(x.shape, indices, axis)
        try:
            return x[self.index]
        except (IndexError, ValueError) as err:
            raise type(err)(
                f"take_along_axis: cannot take indices of shape {indices.shape} along axis "
                f"{axis} of an array of shape {x.shape}: {err}"
            ) from None

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # take_along_axis VJP: dx = zeros like x, with g scatter-added at the taken positions
        # (np.add.at: an index taken twice receives both gradients)
        dx = np.zeros(self.indexed_shape, dtype=g.dtype)
        np.add.at(dx, self.index, g)
        return (dx.reshape(self.in_shape),)


class ConcatenateFunction(Function):
    """``np.concatenate(arrays, axis)`` for any number of inputs (**primitive**).

    ``axis=None`` concatenates the flattened inputs.
    """

    op = "concatenate"  # the name its errors give it

    def forward(self, *arrays: np.ndarray, axis: Any = 0) -> np.ndarray:
        if not arrays:
            raise ValueError("concatenate: needs at least one array to join, got none.")
        self.shapes = [a.shape for a in arrays]
        if axis is None:
            arrays = tuple(a.reshape(-1) for a in arrays)
        elif any(a.ndim == 0 for a in arrays):
            raise ValueError(
                f"concatenate: cannot join 0-d arrays (shapes {self.shapes}); use stack."
            )
        self.axis = 0 if axis is None else normalize_axis(axis, arrays[0].ndim, "concatenate")
        self.sizes = [a.shape[self.axis] for a in arrays]
        try:
            return np.concatenate(arrays, axis=self.axis)
        except ValueError:
            raise ValueError(
                f"concatenate: cannot join shapes {self.shapes} along axis {axis}: they must "
                f"have the same number of dimensions and agree on every other axis."
            ) from None

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # concatenate VJP: dx_i = the slab of g that x_i filled (g split at the running sizes)
        parts = np.split(g, np.cumsum(self.sizes)[:-1], axis=self.axis)
        return tuple(p.reshape(shape) for p, shape in zip(parts, self.shapes))


class StackFunction(Function):
    """``np.stack(arrays, axis)``: join same-shaped inputs along a new axis (**primitive**)."""

    op = "stack"  # the name its errors give it

    def forward(self, *arrays: np.ndarray, axis: int = 0) -> np.ndarray:
        if not arrays:
            raise ValueError("stack: needs at least one array to stack, got none.")
        for a in arrays[1:]:
            if a.shape != arrays[0].shape:
                raise ValueError(
                    f"stack: all inputs must have the same shape, got {arrays[0].shape} and "
                    f"{a.shape}."
                )
        self.axis = normalize_axis(axis, arrays[0].ndim + 1, "stack")
        return np.stack(arrays, axis=self.axis)

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # stack VJP: dx_i = g at position i along the new axis
        return tuple(np.moveaxis(g, self.axis, 0))
