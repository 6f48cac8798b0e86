"""softmax, log_softmax and logsumexp: fused ops with hand-derived VJPs on the row kernels.

Legend: ``x`` logits, ``m`` the row maximum, ``y`` the softmax output, ``l`` the log-softmax
output, ``g`` the upstream gradient, ``<a, b>`` a sum along the class axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import kernels
from ..autograd.dispatch import dispatch
from ..autograd.function import Function
from ._rows import map_rows, map_rows_vjp, run_kernel


class SoftmaxFunction(Function):
    r"""The graph node of :func:`softmax`: one fused forward on the row kernels, one fused VJP.

    :func:`softmax` dispatches to it (NumPy input runs ``forward`` directly); use it yourself
    to build on the op, for example in a subclass whose ``backward`` also records what it saw.

    Parameters
    ----------
    x : Tensor or array_like
        Logits, passed to :meth:`apply`.
    axis : int, tuple of int or None, default -1
        The class axis (axes), by keyword.
    out : numpy.ndarray, optional
        Where ``forward`` writes (NumPy input only).

    Notes
    -----
    Forward: :math:`y = e^{x - m} / \sum_j e^{x_j - m}`, :math:`m = \max_j x_j`; it saves
    ``y`` (not ``x``), all the VJP needs.  Backward:
    :math:`\bar{x} = y \odot (g - \langle g, y \rangle)`.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> from npsoftmax.functional import SoftmaxFunction
    >>> x = nps.tensor([[0.0, 0.0]], requires_grad=True)
    >>> y = SoftmaxFunction.apply(x, axis=-1)
    >>> y.data
    array([[0.5, 0.5]])
    >>> y.backward(np.array([[1.0, 0.0]]))  # y * (g - <g, y>)
    >>> x.grad
    array([[ 0.25, -0.25]])
    """

    op = "softmax"  # the name its errors give it

    def forward(self, x: np.ndarray, axis: Any = -1, out: np.ndarray | None = None) -> np.ndarray:
        y, self.rows, y2 = map_rows(kernels.softmax_rows, x, axis, self.op, out)
        # Save the output, not the input: the VJP needs only y, and it costs no extra pass.
        self.save_for_backward(y2)
        return y

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # softmax VJP: dx = y * (g - <g, y>)   (Jacobian diag(y) - y y^T)
        (y2,) = self.saved_arrays
        return (map_rows_vjp(kernels.softmax_rows_vjp, y2, g, self.rows),)


class LogSoftmaxFunction(Function):
    r"""The graph node of :func:`log_softmax`: one fused forward on the row kernels, one fused VJP.

    Parameters
    ----------
    x : Tensor or array_like
        Logits, passed to :meth:`apply`.
    axis : int, tuple of int or None, default -1
        The class axis (axes), by keyword.
    out : numpy.ndarray, optional
        Where ``forward`` writes (NumPy input only).

    Notes
    -----
    Forward: :math:`l = (x - m) - \log \sum_j e^{x_j - m}`; it saves ``l``, since
    :math:`e^{l}` is the softmax the VJP needs.  Backward:
    :math:`\bar{x} = g - e^{l} \sum_j g_j`.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> from npsoftmax.functional import LogSoftmaxFunction
    >>> x = nps.tensor([0.0, 0.0], requires_grad=True)
    >>> l = LogSoftmaxFunction.apply(x, axis=-1)
    >>> l.data  # log(1/2)
    array([-0.69314718, -0.69314718])
    >>> l.backward(np.array([1.0, 0.0]))  # g - exp(l) * sum(g)
    >>> x.grad
    array([ 0.5, -0.5])
    """

    op = "log_softmax"  # the name its errors give it

    def forward(self, x: np.ndarray, axis: Any = -1, out: np.ndarray | None = None) -> np.ndarray:
        l, self.rows, l2 = map_rows(kernels.log_softmax_rows, x, axis, self.op, out)
        # Save the output: softmax(x) = exp(l) is all the VJP needs.
        self.save_for_backward(l2)
        return l

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # log_softmax VJP: dx = g - exp(l) * <g, 1>
        (l2,) = self.saved_arrays
        return (map_rows_vjp(kernels.log_softmax_rows_vjp, l2, g, self.rows),)


class LogSumExpFunction(Function):
    r"""The graph node of :func:`logsumexp`: a fused reduction on the row kernels, a fused VJP.

    Parameters
    ----------
    x : Tensor or array_like
        Values, passed to :meth:`apply`.
    axis : int, tuple of int or None, default -1
        The axis (axes) to reduce, by keyword.
    keepdims : bool, default False
        Keep the reduced axes with size one, by keyword.
    out : numpy.ndarray, optional
        Where ``forward`` writes (NumPy input only).

    Notes
    -----
    Forward: :math:`\mathrm{lse} = m + \log \sum_j e^{x_j - m}`; it saves nothing beyond the
    input rows.  Backward: :math:`\bar{x} = g \cdot \mathrm{softmax}(x)`, the softmax
    recomputed from ``x`` in one pass (no result of the size of ``x`` held in between).

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> from npsoftmax.functional import LogSumExpFunction
    >>> x = nps.tensor([[0.0, 0.0], [1.0, 1.0]], requires_grad=True)
    >>> lse = LogSumExpFunction.apply(x, axis=-1)
    >>> lse.data  # log 2 and 1 + log 2
    array([0.69314718, 1.69314718])
    >>> lse.backward(np.array([1.0, 2.0]))  # g * softmax(x)
    >>> x.grad
    array([[0.5, 0.5],
           [1. , 1. ]])
    """

    op = "logsumexp"  # the name its errors give it

    def forward(
        self,
        x: np.ndarray,
        axis: Any = -1,
        *,
        keepdims: bool = False,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        keepdims = _check_keepdims(keepdims)
        lse, self.rows, _ = map_rows(
            kernels.logsumexp_rows,
            x,
            axis,
            self.op,
            out,
            reduce=True,
            keepdims=keepdims,
            keep_input=True,
        )
        # Save nothing new: the VJP recomputes softmax(x) from the input rows (one pass,
        # no extra memory held between forward and backward).
        return lse

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # logsumexp VJP: dx = g * softmax(x)   (g broadcast along the reduced axis)
        x2 = self.rows.x2
        dx2 = run_kernel(kernels.softmax_rows, x2, np.empty_like(x2))
        dx2 *= g.astype(x2.dtype, copy=False).reshape(-1, 1)
        return (self.rows.restore(dx2),)


def softmax(x: Any, axis: Any = -1, out: np.ndarray | None = None) -> Any:
    r"""Softmax along ``axis``: non-negative values that sum to one.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.  Integers and bools are promoted to float64; float16 is computed in float32.
    axis : int, tuple of int or None, default -1
        The class axis (axes).  ``None`` normalises over the whole array.  Note that
        ``scipy.special.softmax`` defaults to ``axis=None``; npsoftmax defaults to the last axis,
        like PyTorch's usual ``dim=-1``.
    out : numpy.ndarray, optional
        Where to write the result (NumPy input only); may be ``x`` itself.

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``; a Tensor (in the graph) when ``x`` is a Tensor.

    Raises
    ------
    TypeError
        For non-numeric input.
    numpy.exceptions.AxisError
        If ``axis`` is out of range (an ``IndexError`` and ``ValueError``).

    Notes
    -----
    Forward, stable form (the maximum ``m`` subtracted so that no ``exp`` overflows):

    .. math:: y_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \qquad m = \max_j x_j

    VJP (the Jacobian is :math:`\operatorname{diag}(y) - y y^\top`):

    .. math:: \bar{x} = y \odot (g - \langle g, y \rangle)

    Edge policy: ``-inf`` entries get probability 0; a row that is all ``-inf``, or holds
    ``+inf`` or NaN, gives a row of NaN (as SciPy and PyTorch do); an empty axis gives an empty
    result.  No RuntimeWarning is raised.

    References
    ----------
    J. S. Bridle, "Probabilistic interpretation of feedforward classification network
    outputs", 1990.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.softmax(np.array([-2.0, 0.0, 0.5])).round(4)
    array([0.0486, 0.3592, 0.5922])
    >>> nps.softmax(np.array([[1.0, -np.inf], [1000.0, 0.0]]))
    array([[1., 0.],
           [1., 0.]])
    """
    return dispatch(SoftmaxFunction, x, out=out, axis=axis)


def log_softmax(x: Any, axis: Any = -1, out: np.ndarray | None = None) -> Any:
    r"""Log of the softmax along ``axis``, computed in log space.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.
    axis : int, tuple of int or None, default -1
        The class axis (axes); ``None`` for the whole array.
    out : numpy.ndarray, optional
        Where to write the result (NumPy input only); may be ``x`` itself.

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``.

    Notes
    -----
    Forward, computed as :math:`(x - m) - \log\sum_j e^{x_j - m}` (never as
    ``x - logsumexp(x)``, which loses everything when ``x`` is near the float's maximum, nor as
    ``log(softmax(x))``, which underflows to ``-inf``):

    .. math:: l_i = x_i - \log \sum_j e^{x_j}

    VJP, with :math:`e^{l} = \mathrm{softmax}(x)`:

    .. math:: \bar{x} = g - e^{l} \sum_j g_j

    Edge policy: as :func:`softmax` (``-inf`` entries give ``-inf``; an all ``-inf`` row, or one
    with ``+inf`` or NaN, gives NaN).

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.log_softmax(np.array([1000.0, 1.0]))
    array([   0., -999.])
    >>> nps.log_softmax(np.array([1e308, 1e308]))
    array([-0.69314718, -0.69314718])
    """
    return dispatch(LogSoftmaxFunction, x, out=out, axis=axis)


def _check_keepdims(keepdims: Any) -> bool:
    """``keepdims`` must be a bool: a number or an array there is SciPy's ``b`` (weights)."""
    if isinstance(keepdims, (bool, np.bool_)):
        return bool(keepdims)
    raise TypeError(
        f"logsumexp: keepdims must be True or False, got {keepdims!r}. If this is SciPy's "
        "third argument b (scipy.special.logsumexp(a, axis, b)), note that npsoftmax has no "
        "b= weights: for positive weights use nps.logsumexp(a + np.log(b), axis)."
    )


def logsumexp(
    x: Any, axis: Any = -1, *, keepdims: bool = False, out: np.ndarray | None = None
) -> Any:
    r"""Log of the sum of exponentials along ``axis``, without overflow.

    Parameters
    ----------
    x : array_like or Tensor
        Values.
    axis : int, tuple of int or None, default -1
        The axis (axes) to reduce; ``None`` reduces the whole array.  (``scipy.special.logsumexp``
        defaults to ``axis=None``.)
    keepdims : bool, default False
        Keep the reduced axes with size one; keyword-only, as is ``out``.  (The third
        positional argument of ``scipy.special.logsumexp`` is ``b``, weights, which npsoftmax
        does not take: ``logsumexp(a + np.log(b), axis)`` is the same for positive ``b``.)
    out : numpy.ndarray, optional
        Where to write the result (NumPy input only).

    Returns
    -------
    numpy.ndarray or Tensor
        ``x``'s shape without ``axis`` (or with it of size one, with ``keepdims``).

    Raises
    ------
    TypeError
        For non-numeric input, or a ``keepdims`` that is not a bool.
    numpy.exceptions.AxisError
        If ``axis`` is out of range.

    Notes
    -----
    .. math:: \mathrm{lse}(x) = m + \log \sum_j e^{x_j - m}, \qquad m = \max_j x_j

    VJP: :math:`\bar{x} = g \cdot \mathrm{softmax}(x)`.

    Edge policy: an all ``-inf`` row and an empty axis give ``-inf``; a row with ``+inf`` gives
    ``+inf`` unless it also holds a NaN, which gives NaN.

    Accuracy: float32 (and float16) results are within about an ulp.  In float64 the error is
    bounded in absolute terms, about ``eps * max(1, log(n))`` for ``n`` terms, not relative to
    the result: where ``m + log(sum(exp(x - m)))`` cancels to near 0 (the logsumexp of
    log-probabilities, say), a small result may be off by many of its own ulps, as with
    ``scipy.special.logsumexp``.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> float(nps.logsumexp(np.array([0.0, 0.0])))  # log 2
    0.6931471805599453
    >>> nps.logsumexp(np.array([[1e308, 1e308], [-np.inf, -np.inf]]))
    array([1.e+308,    -inf])
    >>> nps.logsumexp(np.array([[0.0, 0.0]]), keepdims=True)
    array([[0.69314718]])
    """
    keepdims = _check_keepdims(keepdims)
    return dispatch(LogSumExpFunction, x, out=out, axis=axis, keepdims=keepdims)
