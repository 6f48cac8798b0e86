"""Public differentiable shape, indexing and joining functions.

Each is one call of :func:`~npsoftmax.autograd.dispatch.dispatch` (array in, array out; Tensor
in, Tensor out) and is re-exported by :mod:`.ops`.  Legend: ``g`` is the gradient flowing back to
the result, ``dx`` the gradient of ``x``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .dispatch import dispatch
from .structural import (
    BroadcastToFunction,
    ConcatenateFunction,
    GetItemFunction,
    ReshapeFunction,
    StackFunction,
    TakeAlongAxisFunction,
    TransposeFunction,
    moveaxis_permutation,
)
from .tensor import Tensor


def reshape(x: ArrayLike | Tensor, shape: int | tuple[int, ...]) -> Any:
    """Give ``x`` a new shape with the same elements (C order), like ``np.reshape``.

    Parameters
    ----------
    x : array_like or Tensor
        The values.
    shape : int or tuple of ints
        The new shape; one entry may be -1 (inferred).

    Returns
    -------
    numpy.ndarray or Tensor
        A view of ``x`` when possible.

    Raises
    ------
    ValueError
        If the sizes differ (the message names both shapes).

    Notes
    -----
    VJP: ``dx = reshape(g, x.shape)``.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.reshape(np.arange(6.0), (2, -1))
    array([[0., 1., 2.],
           [3., 4., 5.]])
    """
    return dispatch(ReshapeFunction, x, shape=shape)


def transpose(x: ArrayLike | Tensor, axes: Sequence[int] | None = None) -> Any:
    """Permute the axes of ``x``, like ``np.transpose``.

    Parameters
    ----------
    x : array_like or Tensor
        The values.
    axes : sequence of ints, optional
        A permutation of ``range(x.ndim)`` (negative axes allowed); reverses the axes if None.

    Returns
    -------
    numpy.ndarray or Tensor
        A view of ``x`` with permuted axes.

    Raises
    ------
    ValueError
        If ``axes`` is not a permutation.

    Notes
    -----
    VJP: ``dx = transpose(g, argsort(axes))``, the inverse permutation.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.transpose(np.zeros((2, 3, 4)), (1, 2, 0)).shape
    (3, 4, 2)
    """
    return dispatch(TransposeFunction, x, axes=axes)


def moveaxis(
    x: ArrayLike | Tensor, source: int | Sequence[int], destination: int | Sequence[int]
) -> Any:
    """Move axes of ``x`` to new positions, like ``np.moveaxis`` (a :func:`transpose`).

    Parameters
    ----------
    x : array_like or Tensor
        The values.
    source, destination : int or sequence of ints
        Where the axes are and where they go; the same number of each, no repeats.

    Returns
    -------
    numpy.ndarray or Tensor
        A view of ``x`` with the axes moved.

    Notes
    -----
    VJP: that of the equivalent :func:`transpose`.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.moveaxis(np.zeros((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """
    perm = moveaxis_permutation(np.ndim(x), source, destination)
    return dispatch(TransposeFunction, x, axes=perm)


def broadcast_to(x: ArrayLike | Tensor, shape: int | tuple[int, ...]) -> Any:
    """Broadcast ``x`` to ``shape``, like ``np.broadcast_to`` (a read-only view).

    Parameters
    ----------
    x : array_like or Tensor
        The values.
    shape : int or tuple of ints
        A shape that ``x.shape`` broadcasts to.

    Returns
    -------
    numpy.ndarray or Tensor
        A read-only view of shape ``shape``.

    Raises
    ------
    ValueError
        If ``x.shape`` does not broadcast to ``shape`` (the message names both).

    Notes
    -----
    VJP: ``dx = g`` summed over the broadcast axes.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> b = nps.tensor([1.0, 2.0], requires_grad=True)
    >>> nps.broadcast_to(b, (3, 2)).sum().backward()
    >>> b.grad
    array([3., 3.])
    """
    return dispatch(BroadcastToFunction, x, shape=shape)


def getitem(x: ArrayLike | Tensor, index: Any) -> Any:
    """Index ``x`` as NumPy does (``x[index]``): basic, advanced and boolean indexing.

    Parameters
    ----------
    x : array_like or Tensor
        The values.
    index : int, slice, None, Ellipsis, array_like, Tensor or tuple of these
        Any NumPy index; integer or boolean Tensors in it are used as constants.

    Returns
    -------
    numpy.ndarray or Tensor
        ``x[index]``.

    Raises
    ------
    IndexError
        If the index is out of bounds or malformed (the message names ``x``'s shape).

    Notes
    -----
    VJP: ``dx = zeros(x.shape)`` with ``g`` scatter-added at ``index`` (``np.add.at``), so an
    element picked twice receives both gradients.

    Examples
    --------
    ``Tensor.__getitem__`` calls it, so ``x[[0, 0, 2]]`` is the same as this:

    >>> import npsoftmax as nps
    >>> from npsoftmax.autograd.ops import getitem
    >>> x = nps.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> getitem(x, [0, 0, 2]).sum().backward()
    >>> x.grad
    array([2., 0., 1.])
    """
    return dispatch(GetItemFunction, x, index=index)


def take_along_axis(x: ArrayLike | Tensor, indices: ArrayLike, axis: int | None = -1) -> Any:
    """Pick values from ``x`` at ``indices`` along ``axis``, like ``np.take_along_axis``.

    Parameters
    ----------
    x : array_like or Tensor
        The values.
    indices : array_like of int
        Indices with as many dimensions as ``x`` (broadcasting against it on the other axes);
        a constant.
    axis : int or None, default -1
        The axis to pick along; None works on the flattened ``x`` (``indices`` 1-D).

    Returns
    -------
    numpy.ndarray or Tensor
        The picked values, shaped like ``indices`` broadcast against ``x``.

    Raises
    ------
    TypeError
        If ``indices`` is not an integer array.
    ValueError
        If ``indices`` and ``x`` differ in number of dimensions.
    IndexError
        If an index is out of bounds.

    Notes
    -----
    VJP: ``dx = zeros(x.shape)`` with ``g`` scatter-added at the picked positions.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> logits = nps.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> nps.take_along_axis(logits, np.array([[1], [0]]), axis=1).sum().backward()
    >>> logits.grad
    array([[0., 1.],
           [1., 0.]])
    """
    return dispatch(TakeAlongAxisFunction, x, indices=indices, axis=axis)


def concatenate(seq: Sequence[ArrayLike | Tensor], axis: int | None = 0) -> Any:
    """Join a sequence of arrays along an existing axis, like ``np.concatenate``.

    Parameters
    ----------
    seq : sequence of array_like or Tensor
        At least one input; all agree on every axis but ``axis``.
    axis : int or None, default 0
        The axis to join along; None joins the flattened inputs.

    Returns
    -------
    numpy.ndarray or Tensor
        The joined values.

    Raises
    ------
    ValueError
        If ``seq`` is empty or the shapes cannot be joined (the message names them).

    Notes
    -----
    VJP: ``dx_i`` is the part of ``g`` that ``x_i`` filled.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> a = nps.tensor([1.0, 2.0], requires_grad=True)
    >>> (nps.concatenate([a, np.array([3.0])]) * np.array([1.0, 2.0, 3.0])).sum().backward()
    >>> a.grad
    array([1., 2.])
    """
    return dispatch(ConcatenateFunction, *seq, axis=axis)


def stack(seq: Sequence[ArrayLike | Tensor], axis: int = 0) -> Any:
    """Join a sequence of same-shaped arrays along a new axis, like ``np.stack``.

    Parameters
    ----------
    seq : sequence of array_like or Tensor
        At least one input; all of the same shape.
    axis : int, default 0
        The position of the new axis in the result.

    Returns
    -------
    numpy.ndarray or Tensor
        The stacked values, with one more dimension than the inputs.

    Raises
    ------
    ValueError
        If ``seq`` is empty or the shapes differ (the message names them).

    Notes
    -----
    VJP: ``dx_i`` is ``g`` at position ``i`` along the new axis.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> a = nps.tensor([1.0, 2.0], requires_grad=True)
    >>> nps.stack([a, a * 2], axis=1)
    tensor([[1., 2.],
            [2., 4.]], grad_fn=<StackFunction>)
    """
    return dispatch(StackFunction, *seq, axis=axis)
