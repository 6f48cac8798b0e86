"""The seed library's (zeta's) remaining names, with npsoftmax's conventions and its bugs fixed.

``docs/compat.md`` lists every zeta name, where ours lives and where it deliberately differs.

Legend: ``x`` (and ``y``) inputs, ``p`` the output, ``g`` the upstream gradient, ``<a, b>`` a
sum along the class axis, ``v = p * (g - <g, p>)`` the softmax VJP, ``f`` the positive map a
normalised map divides by its sum, ``S = sum(f)``, ``n`` the Taylor order.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from ..autograd import ops
from ..autograd.dispatch import dispatch
from ..autograd.function import Function
from ._rows import map_rows, map_rows_vjp
from .scaled import _as_logits, _scalar, logit_scaled_softmax
from .softmax import softmax


def standard_softmax(x: Any, axis: Any = -1) -> Any:
    r"""zeta's name for :func:`softmax`, along the last axis (zeta normalises axis 0).

    Fused op (it is :func:`softmax`).

    Parameters
    ----------
    x : array_like or Tensor
        Logits.
    axis : int, tuple of int or None, default -1
        The class axis (axes).

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``.

    Raises
    ------
    TypeError
        For non-numeric input.

    Notes
    -----
    :math:`p_i = e^{x_i - m} / \sum_j e^{x_j - m}`, :math:`m = \max_j x_j`; VJP
    :math:`\bar{x} = p \odot (g - \langle g, p \rangle)`.  zeta's ``standard_softmax(t)`` is
    ``F.softmax(t, dim=0)``: on ``[[1, 2, 3], [1, 1, 1]]`` its rows sum to 2.11 and 0.89.

    References
    ----------
    J. S. Bridle, "Probabilistic interpretation of feedforward classification network
    outputs", 1990.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.standard_softmax(np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])).sum(axis=-1)
    array([1., 1.])
    """
    return softmax(x, axis=axis)


def fast_softmax(x: Any, axis: Any = -1) -> Any:
    r"""zeta's "fast" softmax: here the ordinary stable softmax along ``axis``.

    Fused op (it is :func:`softmax`).  zeta's ``fast_softmax(t)`` takes one maximum and one sum
    over *all* elements, so the rows of a batch do not sum to one; ours normalises each row.
    Pass ``axis=None`` for zeta's whole-array normalisation.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.
    axis : int, tuple of int or None, default -1
        The class axis (axes); ``None`` normalises over the whole array, as zeta does.

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``.

    Raises
    ------
    TypeError
        For non-numeric input.

    Notes
    -----
    :math:`p_i = e^{x_i - m} / \sum_j e^{x_j - m}` (the max shift zeta's docstring calls the
    "LogSumExp trick"); VJP :math:`\bar{x} = p \odot (g - \langle g, p \rangle)`.

    References
    ----------
    M. Milakov, N. Gimelshein, "Online normalizer calculation for softmax", arXiv:1805.02867
    (the safe softmax, section 2).

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> x = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> nps.fast_softmax(x).round(4)
    array([[0.2689, 0.7311],
           [0.2689, 0.7311]])
    >>> float(nps.fast_softmax(x, axis=None).sum())
    1.0
    """
    return softmax(x, axis=axis)


def selu_softmax(x: Any, axis: Any = -1) -> Any:
    r"""Softmax of the SELU of ``x``: ``softmax(selu(x))``; the input is left untouched.

    Composite (:func:`npsoftmax.selu`, then :func:`softmax`).

    Parameters
    ----------
    x : array_like or Tensor
        Logits; never modified.
    axis : int, tuple of int or None, default -1
        The class axis (axes).

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``.

    Raises
    ------
    TypeError
        For non-numeric input.

    Notes
    -----
    With :math:`\lambda \approx 1.0507`, :math:`\alpha \approx 1.6733`,
    :math:`\mathrm{selu}(x) = \lambda x` for :math:`x > 0`, :math:`\lambda\alpha(e^x - 1)`
    otherwise, and :math:`p = \mathrm{softmax}(\mathrm{selu}(x))`:

    .. math:: \bar{x} = \mathrm{selu}'(x) \odot p \odot (g - \langle g, p \rangle)

    Negative logits saturate at :math:`-\lambda\alpha \approx -1.758`, so very negative
    entries share a floor probability; order preserving, not shift invariant.  zeta's version
    passes ``alpha`` into ``F.selu``'s ``inplace`` slot (so it overwrites the caller's tensor),
    applies :math:`\lambda` twice and normalises axis 0.

    References
    ----------
    G. Klambauer, T. Unterthiner, A. Mayr, S. Hochreiter, "Self-Normalizing Neural Networks",
    NeurIPS 2017, arXiv:1706.02515; zeta (kyegomez/zeta), ``zeta/ops/softmax.py``.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> x = np.array([-1.0, 0.0, 2.0])
    >>> nps.selu_softmax(x).round(4)
    array([0.0346, 0.1052, 0.8602])
    >>> x
    array([-1.,  0.,  2.])
    """
    return softmax(ops.selu(x), axis=axis)


def mm_softmax(
    x: Any, y: Any, weight: Any = 1.0, weight2: Any = 1.0, temp: Any = 1.0, axis: Any = -1
) -> Any:
    r"""Multimodal product softmax: ``softmax(weight * weight2 * x * y / temp)``.

    Composite (a product, then :func:`logit_scaled_softmax`, which subtracts the row maximum
    before scaling).

    Parameters
    ----------
    x, y : array_like or Tensor
        The two modalities' scores; their shapes broadcast.  Both get gradients.
    weight, weight2 : float or Tensor, default 1.0
        Finite scale factors (only their product matters); one-element Tensors get gradients.
    temp : float or Tensor, default 1.0
        A finite, non-zero temperature.
    axis : int, tuple of int or None, default -1
        The class axis (axes).

    Returns
    -------
    numpy.ndarray or Tensor
        The broadcast shape of ``x`` and ``y``.

    Raises
    ------
    ValueError
        If a weight is not finite or has several elements, or ``temp`` is zero or not finite.
    TypeError
        If a weight or ``temp`` is not a real number or Tensor.

    Notes
    -----
    With :math:`s = w_1 w_2 / T` and :math:`p = \mathrm{softmax}(s\, x \odot y)`,
    :math:`v = p \odot (g - \langle g, p \rangle)`:

    .. math:: \bar{x} = s\, y \odot v, \qquad \bar{y} = s\, x \odot v, \qquad
              \bar{s} = \langle x \odot y, v \rangle

    References
    ----------
    zeta (kyegomez/zeta), ``zeta/ops/mm_softmax.py``; temperature scaling as in G. Hinton,
    O. Vinyals, J. Dean, arXiv:1503.02531.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.mm_softmax(np.array([1.0, 2.0]), np.array([1.0, 1.0]), temp=0.5).round(4)
    array([0.1192, 0.8808])
    """
    _scalar(weight, "weight", "mm_softmax", nonzero=False)
    _scalar(weight2, "weight2", "mm_softmax", nonzero=False)
    _scalar(temp, "temp", "mm_softmax", nonzero=True)
    # A Python product stays a float; with a Tensor weight it is a one-element Tensor in the
    # graph, so the weights and the temperature get gradients through the scale.
    scale = weight * weight2 / temp
    # Integers are promoted before the product (uint8 16 * 16 would wrap around to 0).
    return logit_scaled_softmax(ops.multiply(_as_logits(x), _as_logits(y)), scale=scale, axis=axis)


def _taylor_terms(x2: np.ndarray, order: int, top: int) -> tuple[np.ndarray, np.ndarray]:
    """``sum_{k<=top} x^k / k!`` per entry, divided by ``c^order``, ``c = max(1, max|x|)``.

    Dividing every entry of a row by the same ``c^order`` changes no ratio, and bounds every
    term ``(x/c)^k c^(k - order) / k!`` by ``1 / k!``: no overflow for any finite row (the plain
    ``x^2 / 2`` overflows float64 beyond 1.9e154).  Returns the scaled sums and ``c``.
    """
    work = np.promote_types(x2.dtype, np.float64)
    xw = x2.astype(work)
    with np.errstate(invalid="ignore"):
        c = np.maximum(np.abs(xw).max(axis=1, initial=0.0, keepdims=True), 1.0)
        u, w = xw / c, 1.0 / c
        with np.errstate(under="ignore"):
            # 1 / k! by Python's correctly rounded int division: subnormal from k = 171 and
            # 0.0 from k = 178, where the float of k! would overflow (an OverflowError).
            total = sum(
                (u**k) * (w ** (order - k)) * (1 / math.factorial(k)) for k in range(top + 1)
            )
    return total, c


def _taylor_rows(x2: np.ndarray, y2: np.ndarray, order: int) -> np.ndarray:
    """Row kernel: ``y = f(x) / sum(f(x))``, ``f`` the Taylor polynomial of exp of ``order``."""
    f, c = _taylor_terms(x2, order, order)
    ok = np.isfinite(c[:, 0])  # a row with a NaN or an infinity: NaN (inf / inf)
    y2[ok] = f[ok] / f[ok].sum(axis=1, keepdims=True)  # f >= 0 and sum > 0: even order
    y2[~ok] = np.nan
    return y2


class TaylorSoftmaxFunction(Function):
    """Fused op: ``y = f(x) / sum(f(x))``, ``f(x) = sum_{k<=n} x^k / k!``."""

    def forward(
        self, x: np.ndarray, axis: Any = -1, order: int = 2, out: np.ndarray | None = None
    ) -> np.ndarray:
        self.order = order

        def kernel(x2: np.ndarray, y2: np.ndarray) -> np.ndarray:
            return _taylor_rows(x2, y2, order)

        y, self.rows, y2 = map_rows(kernel, x, axis, "taylor_softmax", out)
        self.save_for_backward(y2)
        return y

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # Formula (A): dx = f'(x) / S * (g - <g, y>), f' = sum_{k<n} x^k / k!, S = sum f.
        (y2,) = self.saved_arrays
        f, _ = _taylor_terms(self.rows.x2, self.order, self.order)
        df, _ = _taylor_terms(self.rows.x2, self.order, self.order - 1)  # same scale c^n

        def vjp(y2: np.ndarray, g2: np.ndarray, dx2: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore"):  # NaN rows stay NaN, quietly
                gw = g2.astype(f.dtype)
                dot = np.sum(gw * y2, axis=1, keepdims=True)
                dx2[...] = df / f.sum(axis=1, keepdims=True) * (gw - dot)
            return dx2

        return (map_rows_vjp(vjp, y2, g, self.rows),)


def taylor_softmax(x: Any, order: int = 2, axis: Any = -1) -> Any:
    r"""Taylor softmax: the exponential replaced by its Taylor polynomial of even ``order``.

    Fused op.  ``order=2`` normalises :math:`1 + x + x^2/2`.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.
    order : int, default 2
        A positive even integer.  Even-order Taylor polynomials of :math:`e^x` are positive
        for every real :math:`x`; odd orders reach zero or below (order 1: :math:`1 + x \le 0`
        for :math:`x \le -1`), which would give negative or infinite "probabilities".
    axis : int, tuple of int or None, default -1
        The class axis (axes).

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``; each row is positive and sums to one.

    Raises
    ------
    ValueError
        If ``order`` is not a positive even integer.
    TypeError
        If ``order`` is not an integer, or ``x`` is not numeric.

    Notes
    -----
    .. math:: f(x) = \sum_{k=0}^{n} \frac{x^k}{k!}, \qquad y_i = \frac{f(x_i)}{\sum_j f(x_j)}

    No maximum is subtracted: the map is not shift invariant (``[0, 1]`` gives
    ``[0.286, 0.714]``, ``[10, 11]`` gives ``[0.457, 0.543]``), and not order preserving below
    :math:`x = -1` (``[-3, -1]`` gives ``[0.833, 0.167]``).  To avoid overflow each row is
    computed as :math:`f(x) / c^n`, :math:`c = \max(1, \max_j |x_j|)`, which leaves the ratios
    unchanged.  VJP, formula (A) of variants.md with :math:`f'(x) = \sum_{k<n} x^k / k!`:

    .. math:: \bar{x} = \frac{f'(x)}{\sum_j f(x_j)} \odot (g - \langle g, y \rangle)

    Edge policy: a row holding ``+inf``, ``-inf`` or NaN gives NaN (``-inf`` is no mask here:
    :math:`f(-\infty) = +\infty`); an empty axis gives an empty result.

    References
    ----------
    A. de Brébisson, P. Vincent, "An Exploration of Softmax Alternatives Belonging to the
    Spherical Loss Family", ICLR 2016, arXiv:1511.05042.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.taylor_softmax(np.array([0.0, 1.0])).round(3)
    array([0.286, 0.714])
    >>> nps.taylor_softmax(np.array([-3.0, -1.0])).round(3)
    array([0.833, 0.167])
    """
    if isinstance(order, (bool, np.bool_)):
        raise TypeError(f"taylor_softmax: order must be an integer, got {order!r}.")
    try:
        n = operator.index(order)
    except TypeError:
        raise TypeError(
            f"taylor_softmax: order must be an integer, got {order!r} of type "
            f"{type(order).__name__}."
        ) from None
    if n < 2 or n % 2:
        raise ValueError(
            f"taylor_softmax: order must be a positive even integer (2, 4, ...), got {n}; odd "
            "orders give polynomials that reach zero or below (order 1: 1 + x <= 0 for x <= -1)."
        )
    return dispatch(TaylorSoftmaxFunction, x, axis=axis, order=n)
