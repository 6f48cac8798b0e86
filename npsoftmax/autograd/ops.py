"""The public NumPy-named differentiable functions, and the arithmetic ones themselves.

Each function is one call of :func:`~npsoftmax.autograd.dispatch.dispatch`: NumPy arrays in give
a NumPy array out (no graph), a :class:`~npsoftmax.autograd.tensor.Tensor` in gives a Tensor out,
wired into the graph.  The arithmetic functions are defined here, the elementwise ones (exp,
where, clip, ...) in :mod:`.ops_elementwise`, the reductions in :mod:`.ops_reductions` and the
shape and indexing ones in :mod:`.ops_shape`; all are re-exported here, the one module that
``Tensor``'s operators call.

Legend: ``g`` is the gradient flowing back to the result; ``dx`` the gradient of ``x``.
"""

from __future__ import annotations

from typing import Any

from numpy.typing import ArrayLike

from .dispatch import dispatch
from .ops_elementwise import clip, exp, log, relu, selu, sigmoid, tanh, where
from .ops_reductions import max, mean, sum
from .ops_shape import (
    broadcast_to,
    concatenate,
    getitem,
    moveaxis,
    reshape,
    stack,
    take_along_axis,
    transpose,
)
from .primitives import (
    AddFunction,
    DivFunction,
    MatMulFunction,
    MulFunction,
    NegFunction,
    PowFunction,
    SubFunction,
)
from .tensor import Tensor

__all__ = [
    "add",
    "broadcast_to",
    "clip",
    "concatenate",
    "divide",
    "exp",
    "getitem",
    "log",
    "matmul",
    "max",
    "mean",
    "moveaxis",
    "multiply",
    "negative",
    "power",
    "relu",
    "reshape",
    "selu",
    "sigmoid",
    "stack",
    "subtract",
    "sum",
    "take_along_axis",
    "tanh",
    "transpose",
    "where",
]


def add(x: ArrayLike | Tensor, y: ArrayLike | Tensor) -> Any:
    """Add ``x`` and ``y`` elementwise, with NumPy broadcasting.

    Parameters
    ----------
    x, y : array_like or Tensor
        Operands whose shapes broadcast; a Python scalar takes the other operand's dtype.

    Returns
    -------
    numpy.ndarray or Tensor
        ``x + y``: a Tensor when either operand is one.

    Raises
    ------
    ValueError
        If the shapes do not broadcast (the message names both).

    Notes
    -----
    VJP: ``dx = g``, ``dy = g``, each summed over the axes broadcasting stretched.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> x = nps.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> b = nps.tensor([10.0, 20.0], requires_grad=True)
    >>> nps.add(x, b).sum().backward()
    >>> b.grad
    array([2., 2.])
    """
    return dispatch(AddFunction, x, y)


def subtract(x: ArrayLike | Tensor, y: ArrayLike | Tensor) -> Any:
    """Subtract ``y`` from ``x`` elementwise, with NumPy broadcasting.

    Parameters
    ----------
    x, y : array_like or Tensor
        Operands whose shapes broadcast.

    Returns
    -------
    numpy.ndarray or Tensor
        ``x - y``: a Tensor when either operand is one.

    Notes
    -----
    VJP: ``dx = g``, ``dy = -g``, each summed over the axes broadcasting stretched.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.subtract(np.array([3.0, 5.0]), 1.0)
    array([2., 4.])
    """
    return dispatch(SubFunction, x, y)


def multiply(x: ArrayLike | Tensor, y: ArrayLike | Tensor) -> Any:
    """Multiply ``x`` and ``y`` elementwise, with NumPy broadcasting.

    Parameters
    ----------
    x, y : array_like or Tensor
        Operands whose shapes broadcast.

    Returns
    -------
    numpy.ndarray or Tensor
        ``x * y``: a Tensor when either operand is one.

    Notes
    -----
    VJP: ``dx = g * y``, ``dy = g * x``, each summed over the axes broadcasting stretched.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> x = nps.tensor([1.0, 2.0], requires_grad=True)
    >>> nps.multiply(x, 3.0).sum().backward()
    >>> x.grad
    array([3., 3.])
    """
    return dispatch(MulFunction, x, y)


def divide(x: ArrayLike | Tensor, y: ArrayLike | Tensor) -> Any:
    """Divide ``x`` by ``y`` elementwise (true division), with NumPy broadcasting.

    Parameters
    ----------
    x, y : array_like or Tensor
        Numerator and denominator, whose shapes broadcast.

    Returns
    -------
    numpy.ndarray or Tensor
        ``x / y``: a Tensor when either operand is one.

    Notes
    -----
    VJP: ``dx = g / y``, ``dy = -g x / y**2``, computed as ``-(g / y) * (x / y)`` from the
    saved result so that ``y**2`` cannot overflow.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> y = nps.tensor([2.0, 4.0], requires_grad=True)
    >>> nps.divide(1.0, y).sum().backward()
    >>> y.grad
    array([-0.25  , -0.0625])
    """
    return dispatch(DivFunction, x, y)


def power(x: ArrayLike | Tensor, exponent: int | float) -> Any:
    """Raise ``x`` elementwise to a constant scalar power.

    Parameters
    ----------
    x : array_like or Tensor
        The base.
    exponent : int or float
        A real scalar constant: any ``numbers.Real`` (Python ints past int64, NumPy scalars,
        ``Fraction``) or a numeric 0-d array, but not a bool.  It is not differentiated.  As in
        NumPy, an int too large for a float64 (``2**1100``) raises ``OverflowError``.

    Returns
    -------
    numpy.ndarray or Tensor
        ``x ** exponent`` as ``np.power`` gives it, in ``x``'s dtype for floating ``x``.

    Raises
    ------
    TypeError
        If ``exponent`` is a Tensor, a bool or not a real scalar.

    Notes
    -----
    VJP: ``dx = g * p * x**(p - 1)``; for ``p = 0`` the gradient is 0 everywhere (also at 0).

    Examples
    --------
    >>> import npsoftmax as nps
    >>> x = nps.tensor([1.0, 3.0], requires_grad=True)
    >>> nps.power(x, 2).sum().backward()
    >>> x.grad
    array([2., 6.])
    >>> nps.power(nps.tensor([1.0, 0.5]), 2**70)  # an int too large for int64 is fine
    tensor([1., 0.])
    """
    return dispatch(PowFunction, x, exponent=exponent)


def negative(x: ArrayLike | Tensor) -> Any:
    """Negate ``x`` elementwise.

    Parameters
    ----------
    x : array_like or Tensor
        The values.

    Returns
    -------
    numpy.ndarray or Tensor
        ``-x``.

    Notes
    -----
    VJP: ``dx = -g``.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> nps.negative(nps.tensor([1.0, -2.0]))
    tensor([-1.,  2.])
    """
    return dispatch(NegFunction, x)


def matmul(a: ArrayLike | Tensor, b: ArrayLike | Tensor) -> Any:
    """Matrix product ``a @ b`` with NumPy's rules.

    A 1-D ``a`` acts as a row vector and a 1-D ``b`` as a column vector (the added axis is
    removed from the result); axes before the last two are batch axes and broadcast.

    Parameters
    ----------
    a, b : array_like or Tensor
        Operands with at least one dimension each.

    Returns
    -------
    numpy.ndarray or Tensor
        The product; 0-d when both operands are 1-D.

    Raises
    ------
    ValueError
        If an operand is 0-d, the inner dimensions differ or the batch axes do not broadcast;
        the message names both shapes.

    Notes
    -----
    VJP: ``da = g @ b^T``, ``db = a^T @ g``, on the operands as promoted to 2-D; the promotion
    is then undone and the batch axes that broadcasting added are summed.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> w = nps.tensor(np.eye(2), requires_grad=True)
    >>> (w @ np.array([1.0, 2.0])).sum().backward()
    >>> w.grad
    array([[1., 2.],
           [1., 2.]])
    """
    return dispatch(MatMulFunction, a, b)
