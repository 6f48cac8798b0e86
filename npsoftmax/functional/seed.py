"""The seed library's (zeta's) remaining names, with npsoftmax's conventions and its bugs fixed.

``docs/compat.md`` lists every zeta name, where ours lives and where it deliberately differs.

taylor_softmax lives in :mod:`.taylor` and is re-exported here.

Legend: ``x`` (and ``y``) inputs, ``p`` the output, ``g`` the upstream gradient, ``<a, b>`` a
sum along the class axis, ``v = p * (g - <g, p>)`` the softmax VJP.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from .._dask import is_dask_array, map_composite, refuse_dask
from ..autograd import ops
from ..autograd.dispatch import as_array
from ..autograd.shapes import normalize_axes
from ..autograd.tensor import Tensor
from ._rows import compute_dtype
from .scaled import _as_logits, _scalar, logit_scaled_softmax
from .softmax import softmax
from .taylor import TaylorSoftmaxFunction, taylor_softmax

__all__ = [
    "TaylorSoftmaxFunction",
    "fast_softmax",
    "mm_softmax",
    "selu_softmax",
    "standard_softmax",
    "taylor_softmax",
]


def _check_rows_input(x: Any, axis: Any, op: str) -> Any:
    """Refuse non-numeric input and a bad ``axis`` under ``op``, the public name (the softmax
    it delegates to would name itself); return ``x`` as an array (a Tensor or dask array as is)."""
    if isinstance(x, Tensor) or is_dask_array(x):
        compute_dtype(x.dtype, op)  # a dask array's dtype, checked without computing it
    else:
        x = as_array(x, f"{op}'s input")
    normalize_axes(axis, x.ndim, op)
    return x


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
    numpy.exceptions.AxisError
        If ``axis`` is out of range.

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
    return softmax(_check_rows_input(x, axis, "standard_softmax"), axis=axis)


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
    numpy.exceptions.AxisError
        If ``axis`` is out of range.

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
    return softmax(_check_rows_input(x, axis, "fast_softmax"), axis=axis)


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
    numpy.exceptions.AxisError
        If ``axis`` is out of range.

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

    Edge policy: ``-inf`` is a mask, probability 0 and gradient 0, as everywhere in npsoftmax,
    although :math:`\mathrm{selu}(-\infty) = -\lambda\alpha` would give it the floor
    probability; a row of masks only gives NaN, as :func:`softmax` does.  A dask array in gives
    a dask array out (mapped over blocks that hold whole rows).

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
    >>> nps.selu_softmax(np.array([0.0, -np.inf]))  # -inf is a mask
    array([1., 0.])
    """
    if is_dask_array(x):
        return map_composite(partial(selu_softmax, axis=axis), x, axis, "selu_softmax")
    data = x.data if isinstance(x, Tensor) else as_array(x, "selu_softmax's input")
    normalize_axes(axis, data.ndim, "selu_softmax")  # under this name, not softmax's
    masked = np.isneginf(data)
    if not masked.any():
        return softmax(ops.selu(x), axis=axis)
    # Route the masks around selu (where, not arithmetic: selu'(-inf) * 0 would be NaN).
    return softmax(ops.where(masked, -np.inf, ops.selu(ops.where(masked, 0.0, x))), axis=axis)


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
        If a weight or ``temp`` is not a real number or Tensor, an input is not numeric, or an
        input is a dask array (use ``logit_scaled_softmax(x * y, scale=weight * weight2 /
        temp)``, which maps over blocks).
    numpy.exceptions.AxisError
        If ``axis`` is out of range.

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
    refuse_dask(
        "mm_softmax",
        "form the product with dask and scale it with a function that maps over blocks, "
        "nps.logit_scaled_softmax(x * y, scale=weight * weight2 / temp), or compute the "
        "arrays first.",
        x,
        y,
        weight,
        weight2,
        temp,
    )
    _scalar(weight, "weight", "mm_softmax", nonzero=False)
    _scalar(weight2, "weight2", "mm_softmax", nonzero=False)
    _scalar(temp, "temp", "mm_softmax", nonzero=True)
    # A Python product stays a float; with a Tensor weight it is a one-element Tensor in the
    # graph, so the weights and the temperature get gradients through the scale.
    scale = weight * weight2 / temp
    # Integers are promoted before the product (uint8 16 * 16 would wrap around to 0).
    product = ops.multiply(_as_logits(x, "mm_softmax"), _as_logits(y, "mm_softmax"))
    normalize_axes(axis, product.ndim, "mm_softmax")  # under this name, not the composite's
    return logit_scaled_softmax(product, scale=scale, axis=axis)
