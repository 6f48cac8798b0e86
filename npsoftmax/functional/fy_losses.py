"""Fenchel-Young losses of the sparse maps: sparsemax_loss and entmax15_loss (fused ops).

For a map ``p* = argmax_{p in simplex} <p, z> + H(p)`` with a (Tsallis) entropy ``H``, the
Fenchel-Young loss of logits ``z`` and a class ``y`` is

    L(z, y) = H(p*) + <p* - e_y, z>,        dL/dz = p* - e_y,

non-negative, zero exactly when ``p*`` is the one-hot ``e_y``, and convex in ``z``; for softmax
and the Shannon entropy it is the cross-entropy.  Fusing gives the gradient for free: the
forward saves ``p*`` and the backward subtracts the one-hot, with no VJP through the map.

Legend: ``z`` logits, ``m`` the row maximum, ``p`` the map's output ``p*``, ``y`` the target
class, ``e_y`` its one-hot row, ``H`` the entropy, ``g`` the upstream gradient.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import kernels
from ..autograd.dispatch import as_array, dispatch
from ..autograd.function import Function
from ..autograd.shapes import normalize_axis
from ..autograd.tensor import Tensor
from ._rows import map_rows
from ._targets import refuse_dask_losses, require_classes

_REDUCTIONS = ("mean", "sum", "none")


def _tsallis2(p: np.ndarray) -> np.ndarray:
    """Tsallis 2-entropy (Gini) ``(1 - sum p^2) / 2`` of each row."""
    return (1.0 - np.sum(p * p, axis=1)) / 2.0


def _tsallis15(p: np.ndarray) -> np.ndarray:
    """Tsallis 1.5-entropy ``(1 - sum p^1.5) / 0.75`` of each row."""
    return (1.0 - np.sum(p * np.sqrt(p), axis=1)) / 0.75


class _FenchelYoungFunction(Function):
    """Fused op: the per-row losses ``H(p) + <p - e_y, z>``, reduced; shared by both losses."""

    op = ""
    kernel: Callable[[np.ndarray, np.ndarray], np.ndarray]
    entropy: Callable[[np.ndarray], np.ndarray]

    def forward(
        self, x: np.ndarray, target: np.ndarray, reduction: str = "mean", axis: int = -1
    ) -> np.ndarray:
        _, rows, p2 = map_rows(type(self).kernel, x, axis, self.op, keep_input=True)
        self.rows = rows.layout()
        self.target = target.reshape(-1)
        self.reduction = reduction
        work = np.promote_types(p2.dtype, np.float64)
        z, p = rows.x2.astype(work), p2.astype(work)
        bad = np.isnan(p).any(axis=1)  # NaN rows (NaN, +inf or all -inf logits): NaN loss
        rows = np.arange(len(p))
        with np.errstate(invalid="ignore", over="ignore"):
            # Shift by the row maximum: <p - e_y, z> is shift invariant in exact arithmetic
            # (both sum to one), and the shift keeps a 1e8 offset from eating the digits.
            z -= np.max(z, axis=1, keepdims=True, initial=-np.inf)
            # <p, z> over the support only: a -inf mask has p = 0 and must not give 0 * -inf.
            pz = np.sum(np.where(p > 0, p * z, 0.0), axis=1)
            z_y = z[rows, self.target] if len(p) else np.zeros(0, work)
            # A -inf target logit gives +inf (as cross-entropy does); rounding can not make
            # the loss negative: clamp at 0, its true lower bound.
            loss = np.maximum(type(self).entropy(p) + (pz - z_y), 0.0)
        loss[bad] = np.nan
        self.save_for_backward(p2)
        result = {"mean": np.mean, "sum": np.sum}.get(reduction)
        out = loss.reshape(self.rows.reduced(False)) if result is None else result(loss)
        with np.errstate(over="ignore"):  # a float64 loss beyond float32's range rounds to inf
            return np.asarray(out, dtype=self.rows.dtype)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # Fenchel-Young gradient: dz = g_row * (p - e_y)   (mean: g_row = g / rows)
        (p2,) = self.saved_arrays
        n_rows = p2.shape[0]
        if self.reduction == "none":
            g_row = g.astype(p2.dtype, copy=False).reshape(n_rows, 1)
        else:
            g_row = np.full((n_rows, 1), g, dtype=p2.dtype)
            if self.reduction == "mean":
                g_row /= n_rows
        dz = p2.copy()
        dz[np.arange(n_rows), self.target] -= 1.0
        return (self.rows.restore(dz * g_row),)


class SparsemaxLossFunction(_FenchelYoungFunction):
    """Fused op: sparsemax's Fenchel-Young loss, ``(1 - |p|^2) / 2 + <p - e_y, z>``."""

    op = "sparsemax_loss"
    kernel = staticmethod(kernels.sparsemax_rows)
    entropy = staticmethod(_tsallis2)


class Entmax15LossFunction(_FenchelYoungFunction):
    """Fused op: 1.5-entmax's Fenchel-Young loss, ``(1 - sum p^1.5) / 0.75 + <p - e_y, z>``."""

    op = "entmax15_loss"
    kernel = staticmethod(kernels.entmax15_rows)
    entropy = staticmethod(_tsallis15)


def _check(x: Any, target: Any, reduction: Any, axis: Any, op: str) -> tuple[np.ndarray, int]:
    """Validate the arguments; return the targets as an int64 array and the normalised axis."""
    refuse_dask_losses(op, x, target)
    # A string first: an array (class weights passed positionally, as to cross_entropy) would
    # make ``in`` compare elementwise and raise NumPy's "truth value ... is ambiguous".
    if not isinstance(reduction, str):
        raise ValueError(
            f"{op}: reduction must be 'mean', 'sum' or 'none', got {reprlib.repr(reduction)} of "
            f"type {type(reduction).__name__} (the third positional argument is reduction; "
            f"{op} takes no class weights)."
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")
    shape = x.shape if hasattr(x, "shape") else as_array(x, f"{op}'s input").shape
    if not shape:
        raise ValueError(
            f"{op}: the logits must have at least one axis (the classes), got a scalar."
        )
    ax = normalize_axis(axis, len(shape), op)
    require_classes(tuple(shape), ax, op)  # cross_entropy's error, not an empty index range
    n = shape[ax]
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {t.dtype}.")
    expected = shape[:ax] + shape[ax + 1 :]
    if t.shape != expected:
        raise ValueError(
            f"{op}: target has shape {t.shape}, expected {expected} (the logits' shape "
            f"{tuple(shape)} without axis {ax})."
        )
    bad = (t < 0) | (t >= n)
    if bad.any():
        raise IndexError(
            f"{op}: target value {int(t[bad].flat[0])} is out of range; class indices must be "
            f"in [0, {n - 1}] ({n} classes along axis {ax})."
        )
    if reduction == "mean" and t.size == 0:
        raise ValueError(
            f"{op}: the mean over an empty batch is undefined; use reduction='sum' or 'none'."
        )
    return t.astype(np.int64), ax


def sparsemax_loss(x: Any, target: Any, reduction: str = "mean", axis: int = -1) -> Any:
    r"""Sparsemax loss: the Fenchel-Young loss of :func:`sparsemax` (fused op).

    Parameters
    ----------
    x : array_like or Tensor
        Logits, classes along ``axis``.
    target : array_like of int or Tensor
        Class indices, of ``x``'s shape without ``axis`` (a scalar for 1-D ``x``).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        Average or sum the per-example losses, or return them all.
    axis : int, default -1
        The class axis.

    Returns
    -------
    numpy.ndarray or Tensor
        A scalar (``'mean'``, ``'sum'``) or the per-example losses (``'none'``), in ``x``'s
        float dtype (float64 for integer ``x``).

    Raises
    ------
    IndexError
        If a target is outside ``[0, n - 1]``; the message names it and the valid range.
    TypeError
        If ``target`` is not integer, ``x`` is not numeric, or an input is a dask array.
    ValueError
        For an unknown ``reduction``, a ``target`` of the wrong shape, a scalar ``x``, an empty
        class axis, or ``'mean'`` over an empty batch.

    Notes
    -----
    **Fused op.**  With :math:`p = \mathrm{sparsemax}(z)` and its threshold :math:`\tau`:

    .. math:: L(z, y) = \tfrac12 (1 - \lVert p \rVert^2) + \langle p - e_y, z \rangle
              = \tfrac12 \sum_{j \in S} (z_j^2 - \tau^2) - z_y + \tfrac12

    VJP: :math:`\bar{z} = g\,(p - e_y)` (``g`` divided by the batch size for ``'mean'``).
    :math:`L \ge 0`, with equality exactly when :math:`p = e_y`.  Rows of NaN (the sparsemax
    policy) give a NaN loss; a ``-inf`` target logit gives ``+inf``, as for cross-entropy.

    References
    ----------
    A. F. T. Martins, R. F. Astudillo, arXiv:1602.02068 (the sparsemax loss); M. Blondel,
    A. F. T. Martins, V. Niculae, "Learning with Fenchel-Young Losses", JMLR 2020,
    arXiv:1901.02324.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> z = np.array([[-2.0, 0.0, 0.5], [5.0, 0.0, 0.0]])
    >>> nps.sparsemax_loss(z, np.array([2, 0]), reduction="none")
    array([0.0625, 0.    ])
    """
    t, ax = _check(x, target, reduction, axis, "sparsemax_loss")
    return dispatch(SparsemaxLossFunction, x, target=t, reduction=reduction, axis=ax)


def entmax15_loss(x: Any, target: Any, reduction: str = "mean", axis: int = -1) -> Any:
    r"""1.5-entmax loss: the Fenchel-Young loss of :func:`entmax15` (fused op).

    Parameters
    ----------
    x : array_like or Tensor
        Logits, classes along ``axis``.
    target : array_like of int or Tensor
        Class indices, of ``x``'s shape without ``axis``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        Average or sum the per-example losses, or return them all.
    axis : int, default -1
        The class axis.

    Returns
    -------
    numpy.ndarray or Tensor
        A scalar (``'mean'``, ``'sum'``) or the per-example losses (``'none'``).

    Raises
    ------
    IndexError
        If a target is outside ``[0, n - 1]``.
    TypeError
        If ``target`` is not integer, ``x`` is not numeric, or an input is a dask array.
    ValueError
        For an unknown ``reduction``, a ``target`` of the wrong shape, a scalar ``x``, an empty
        class axis, or ``'mean'`` over an empty batch.

    Notes
    -----
    **Fused op.**  With :math:`p = \mathrm{entmax15}(z)` and the Tsallis 1.5-entropy:

    .. math:: L(z, y) = \frac{1 - \sum_j p_j^{3/2}}{0.75} + \langle p - e_y, z \rangle

    VJP: :math:`\bar{z} = g\,(p - e_y)`.  :math:`L \ge 0`, zero exactly when :math:`p = e_y`.

    References
    ----------
    B. Peters, V. Niculae, A. F. T. Martins, arXiv:1905.05702; M. Blondel, A. F. T. Martins,
    V. Niculae, arXiv:1901.02324.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> float(nps.entmax15_loss(np.array([10.0, 0.0, 0.0]), 0))
    0.0
    """
    t, ax = _check(x, target, reduction, axis, "entmax15_loss")
    return dispatch(Entmax15LossFunction, x, target=t, reduction=reduction, axis=ax)
