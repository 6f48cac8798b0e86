"""Public differentiable reductions: sum, mean and max over any axes.

Each is one call of :func:`~npsoftmax.autograd.dispatch.dispatch` (array in, array out; Tensor
in, Tensor out) and is re-exported by :mod:`.ops`.  ``sum`` and ``max`` shadow the builtins in
this module on purpose; nothing here uses the builtins.  Legend: ``g`` is the gradient flowing
back to the result, ``dx`` the gradient of ``x``.
"""

from __future__ import annotations

from typing import Any

from numpy.typing import ArrayLike

from .dispatch import dispatch
from .reductions import MaxFunction, MeanFunction, SumFunction
from .tensor import Tensor

Axis = int | tuple[int, ...] | None


def sum(x: ArrayLike | Tensor, axis: Axis = None, keepdims: bool = False) -> Any:
    """Sum of the elements over ``axis``.

    Parameters
    ----------
    x : array_like or Tensor
        The values.
    axis : None, int or tuple of ints, default None
        The axes to sum over; None sums over all of them.
    keepdims : bool, default False
        Keep the summed axes as length-1 axes.

    Returns
    -------
    numpy.ndarray or Tensor
        ``np.sum(x, axis, keepdims=keepdims)``.

    Raises
    ------
    numpy.exceptions.AxisError
        If an axis is out of range (the message names it and ``x.ndim``).

    Notes
    -----
    VJP: ``dx = g`` broadcast back along the summed axes.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> x = nps.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> nps.sum(x, axis=1)
    tensor([3., 7.], grad_fn=<SumFunction>)
    >>> nps.sum(x, axis=1).backward(np.array([1.0, 10.0]))
    >>> x.grad
    array([[ 1.,  1.],
           [10., 10.]])
    """
    return dispatch(SumFunction, x, axis=axis, keepdims=keepdims)


def mean(x: ArrayLike | Tensor, axis: Axis = None, keepdims: bool = False) -> Any:
    """Arithmetic mean of the elements over ``axis``.

    Parameters
    ----------
    x : array_like or Tensor
        The values.
    axis : None, int or tuple of ints, default None
        The axes to average over; None averages over all of them.
    keepdims : bool, default False
        Keep the averaged axes as length-1 axes.

    Returns
    -------
    numpy.ndarray or Tensor
        ``np.mean(x, axis, keepdims=keepdims)``.

    Notes
    -----
    VJP: ``dx = g / n`` broadcast back along the averaged axes, ``n`` the number of elements
    averaged.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> x = nps.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    >>> nps.mean(x).backward()
    >>> x.grad
    array([0.25, 0.25, 0.25, 0.25])
    """
    return dispatch(MeanFunction, x, axis=axis, keepdims=keepdims)


def max(x: ArrayLike | Tensor, axis: Axis = None, keepdims: bool = False) -> Any:
    """Maximum of the elements over ``axis``, like ``np.max`` and ``torch.amax``.

    Parameters
    ----------
    x : array_like or Tensor
        The values.
    axis : None, int or tuple of ints, default None
        The axes to reduce; None reduces all of them.
    keepdims : bool, default False
        Keep the reduced axes as length-1 axes.

    Returns
    -------
    numpy.ndarray or Tensor
        ``np.max(x, axis, keepdims=keepdims)``; NaN wherever a slice contains NaN.

    Raises
    ------
    ValueError
        If a reduced axis is empty.

    Notes
    -----
    VJP: ``dx = g / m`` on the ``m`` entries equal to their slice's maximum, 0 elsewhere: tied
    maxima share the gradient equally, as with ``torch.amax`` (``torch.max(x, dim)`` instead
    picks one).  A slice whose maximum is NaN sends its gradient to its NaN entries.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> x = nps.tensor([3.0, 1.0, 3.0], requires_grad=True)
    >>> nps.max(x).backward()
    >>> x.grad
    array([0.5, 0. , 0.5])
    """
    return dispatch(MaxFunction, x, axis=axis, keepdims=keepdims)
