"""Public elementwise differentiable functions: exp, log, tanh, sigmoid, relu, selu, where, clip.

Each is one call of :func:`~npsoftmax.autograd.dispatch.dispatch` (array in, array out; Tensor
in, Tensor out) and is re-exported by :mod:`.ops`.  Legend: ``g`` is the gradient flowing back to
the result, ``dx`` the gradient of ``x``.
"""

from __future__ import annotations

from typing import Any

from numpy.typing import ArrayLike

from .dispatch import dispatch
from .elementwise import (
    ClipFunction,
    ExpFunction,
    LogFunction,
    ReluFunction,
    SeluFunction,
    SigmoidFunction,
    TanhFunction,
    WhereFunction,
    clip_bound,
)
from .tensor import Tensor


def exp(x: ArrayLike | Tensor) -> Any:
    """Exponential ``e**x``, elementwise.

    Parameters
    ----------
    x : array_like or Tensor
        The exponents.

    Returns
    -------
    numpy.ndarray or Tensor
        ``np.exp(x)``.

    Notes
    -----
    VJP: ``dx = g * exp(x)``; the forward result is saved and reused.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> x = nps.tensor([0.0, 1.0], requires_grad=True)
    >>> nps.exp(x).sum().backward()
    >>> x.grad
    array([1.        , 2.71828183])
    """
    return dispatch(ExpFunction, x)


def log(x: ArrayLike | Tensor) -> Any:
    """Natural logarithm, elementwise.

    Parameters
    ----------
    x : array_like or Tensor
        The values; 0 gives ``-inf`` and negative values NaN, as in NumPy.

    Returns
    -------
    numpy.ndarray or Tensor
        ``np.log(x)``.

    Notes
    -----
    VJP: ``dx = g / x``.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> x = nps.tensor([1.0, 4.0], requires_grad=True)
    >>> nps.log(x).sum().backward()
    >>> x.grad
    array([1.  , 0.25])
    """
    return dispatch(LogFunction, x)


def tanh(x: ArrayLike | Tensor) -> Any:
    """Hyperbolic tangent, elementwise.

    Parameters
    ----------
    x : array_like or Tensor
        The values.

    Returns
    -------
    numpy.ndarray or Tensor
        ``np.tanh(x)``.

    Notes
    -----
    VJP: ``dx = g * (1 - tanh(x)**2)``; the forward result is saved and reused.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> x = nps.tensor([0.0], requires_grad=True)
    >>> nps.tanh(x).sum().backward()
    >>> x.grad
    array([1.])
    """
    return dispatch(TanhFunction, x)


def sigmoid(x: ArrayLike | Tensor) -> Any:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, elementwise, without overflow for any ``x``.

    Parameters
    ----------
    x : array_like or Tensor
        The values; integer and boolean input is computed in float64.

    Returns
    -------
    numpy.ndarray or Tensor
        Values in ``[0, 1]``; NaN stays NaN.

    Notes
    -----
    Computed from ``e = exp(-|x|)``, which cannot overflow, as ``1 / (1 + e)`` for ``x >= 0``
    and ``e / (1 + e)`` otherwise.  VJP: ``dx = g * s * (1 - s)`` with ``s = sigmoid(x)`` saved
    from the forward.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    return dispatch(SigmoidFunction, x)


def relu(x: ArrayLike | Tensor) -> Any:
    """Rectified linear unit ``max(x, 0)``, elementwise.

    Parameters
    ----------
    x : array_like or Tensor
        The values.

    Returns
    -------
    numpy.ndarray or Tensor
        ``np.maximum(x, 0)``; NaN stays NaN.

    Notes
    -----
    VJP: ``dx = 0`` where ``x <= 0`` (so 0 at ``x = 0``), else ``g``; at NaN that is ``g``,
    as in PyTorch (its ``threshold_backward`` tests ``x <= 0``).

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> x = nps.tensor([-1.0, 0.0, 2.0, np.nan], requires_grad=True)
    >>> nps.relu(x).sum().backward()
    >>> x.grad
    array([0., 0., 1., 1.])
    """
    return dispatch(ReluFunction, x)


def selu(x: ArrayLike | Tensor) -> Any:
    """Scaled exponential linear unit, elementwise.

    ``selu(x) = lambda * x`` for ``x > 0`` and ``lambda * alpha * (exp(x) - 1)`` otherwise, with
    ``lambda = 1.0507009873554804934193349852946`` and
    ``alpha = 1.6732632423543772848170429916717``.

    Parameters
    ----------
    x : array_like or Tensor
        The values; integer and boolean input is computed in float64.

    Returns
    -------
    numpy.ndarray or Tensor
        Values above ``-lambda * alpha`` (about -1.758); no overflow for large ``x``.

    Notes
    -----
    VJP: ``dx = g * lambda * alpha * exp(x)`` for ``x <= 0`` (from the saved input, which
    stays accurate for very negative ``x``) and ``g * lambda`` otherwise, NaN included, as in
    PyTorch (its ``elu_backward`` tests ``x <= 0``).

    References
    ----------
    Klambauer, Unterthiner, Mayr and Hochreiter, "Self-Normalizing Neural Networks",
    NeurIPS 2017, arXiv 1706.02515.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.selu(np.array([-np.inf, 0.0, 1.0]))
    array([-1.75809934,  0.        ,  1.05070099])
    """
    return dispatch(SeluFunction, x)


def where(cond: ArrayLike, x: ArrayLike | Tensor, y: ArrayLike | Tensor) -> Any:
    """Choose ``x`` where ``cond`` holds and ``y`` elsewhere, with broadcasting.

    Parameters
    ----------
    cond : array_like of bool
        The condition; a constant (it is not differentiated).
    x, y : array_like or Tensor
        The values to choose from.

    Returns
    -------
    numpy.ndarray or Tensor
        ``np.where(cond, x, y)``.

    Raises
    ------
    ValueError
        If ``cond``, ``x`` and ``y`` do not broadcast (the message names the three shapes).

    Notes
    -----
    VJP: ``dx = where(cond, g, 0)``, ``dy = where(cond, 0, g)``.  Zeros are routed, not
    multiplied in, so the untaken branch gets exactly 0 even where ``g`` is inf or NaN.  That
    cannot protect an op *inside* the untaken branch from its own inf or NaN gradient: for
    ``where(x > 0, log(x), 0)`` at ``x = 0``, log's VJP gives ``0 / 0``; give such an op a safe
    input instead (``log(where(x > 0, x, 1))``), as in JAX and PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> x = nps.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> nps.where(np.array([True, False, True]), x, np.inf).sum().backward()
    >>> x.grad
    array([1., 0., 1.])
    """
    return dispatch(WhereFunction, x, y, cond=cond)


def clip(x: ArrayLike | Tensor, lo: Any = None, hi: Any = None) -> Any:
    """Limit ``x`` to the interval ``[lo, hi]``, elementwise, like ``np.clip``.

    Parameters
    ----------
    x : array_like or Tensor
        The values.
    lo, hi : scalar, array_like, Tensor or None
        The bounds, broadcasting with ``x``; None leaves that side open.  A Tensor bound is
        differentiated like ``x``; a constant 0-d bound takes ``x``'s dtype (so a NumPy
        ``float64`` bound keeps float32 ``x`` float32).

    Returns
    -------
    numpy.ndarray or Tensor
        ``np.clip(x, lo, hi)``; NaN (in ``x`` or a bound) gives NaN.  Where ``lo > hi`` the
        result is ``hi``.

    Raises
    ------
    TypeError
        If a bound is not numeric.
    ValueError
        If ``x`` and the bounds do not broadcast (the message names their shapes).

    Notes
    -----
    VJP, with PyTorch's ``clamp`` conventions: ``dx = g`` where ``lo <= x <= hi``, boundaries
    included; ``dlo = g`` where ``x < lo < hi``; ``dhi = g`` where ``x > hi`` or ``hi < lo``;
    0 elsewhere, and everywhere a comparison meets NaN.  (So where ``lo == hi`` and
    ``x < lo``, no one gets ``g``, as in PyTorch.)  Bounds that broadcast get their gradient
    summed back to their own shape.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> x = nps.tensor([-2.0, 0.0, 1.0, 3.0], requires_grad=True)
    >>> nps.clip(x, 0.0, 1.0).sum().backward()
    >>> x.grad
    array([0., 1., 1., 0.])

    Tensor bounds are differentiated too:

    >>> lo = nps.tensor(0.0, requires_grad=True)
    >>> hi = nps.tensor([1.0, 2.0, 2.0, 2.0], requires_grad=True)
    >>> nps.clip(x, lo, hi).sum().backward()
    >>> lo.grad, hi.grad
    (array(1.), array([0., 0., 0., 1.]))
    """
    bounds = {side: clip_bound(b) for side, b in (("lo", lo), ("hi", hi)) if b is not None}
    return dispatch(ClipFunction, x, *bounds.values(), sides=tuple(bounds))
