"""Sparse maps: sparsemax and exact 1.5-entmax (fused ops with hand-derived VJPs).

Both are projections onto the probability simplex that can give exact zeros; both are fused ops
on the row kernels of :mod:`npsoftmax.kernels` (``sparsemax_rows``, ``entmax15_rows`` and their
VJPs), through :func:`~npsoftmax.functional._rows.map_rows` for dtypes, axes and ``out=``.
alpha-entmax by bisection lives in :mod:`.bisection` and top-k softmax in :mod:`.topk`; both are
re-exported here, so every sparse map is importable from ``npsoftmax.functional.sparse``.

Edge policy (all sparse maps): ``-inf`` entries (masks) get 0; a row that is all ``-inf`` or
holds ``+inf`` or NaN gives an all-NaN row (the entmax package raises an indexing error there);
an empty axis gives an empty result; no RuntimeWarning.

Legend: ``x`` logits, ``m`` the row maximum, ``tau`` the threshold, ``y`` the output, ``s`` the
support indicator ``y > 0``, ``g`` the upstream gradient, ``h`` the VJP weights of formula (B),
``u = h * g``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import kernels
from ..autograd.dispatch import dispatch
from ..autograd.function import Function
from ._rows import map_rows, map_rows_vjp
from .bisection import EntmaxBisectFunction, entmax_bisect
from .topk import SparseSoftmaxFunction, sparse_softmax

__all__ = [
    "Entmax15Function",
    "EntmaxBisectFunction",
    "SparseSoftmaxFunction",
    "SparsemaxFunction",
    "entmax15",
    "entmax_bisect",
    "sparse_softmax",
    "sparsemax",
]


class SparsemaxFunction(Function):
    """Fused op: ``y = max(x - tau, 0)``, the Euclidean projection of ``x`` onto the simplex."""

    op = "sparsemax"  # the name its errors give it

    def forward(self, x: np.ndarray, axis: Any = -1, out: np.ndarray | None = None) -> np.ndarray:
        y, self.rows, y2 = map_rows(kernels.sparsemax_rows, x, axis, self.op, out)
        # Save the output: its support s = (y > 0) is all the VJP needs.
        self.save_for_backward(y2)
        return y

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # sparsemax VJP: dx = s * (g - sum(s * g) / sum(s))   (Jacobian diag(s) - s s^T / |S|)
        (y2,) = self.saved_arrays
        return (map_rows_vjp(kernels.sparsemax_rows_vjp, y2, g, self.rows),)


class Entmax15Function(Function):
    """Fused op: ``y = max(x / 2 - tau, 0) ** 2`` summing to one (exact, sort-based)."""

    op = "entmax15"  # the name its errors give it

    def forward(self, x: np.ndarray, axis: Any = -1, out: np.ndarray | None = None) -> np.ndarray:
        y, self.rows, y2 = map_rows(kernels.entmax15_rows, x, axis, self.op, out)
        # Save the output: the VJP's weights are h = sqrt(y).
        self.save_for_backward(y2)
        return y

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # 1.5-entmax VJP: h = sqrt(y), u = h * g, dx = u - (sum(u) / sum(h)) * h
        (y2,) = self.saved_arrays
        return (map_rows_vjp(kernels.entmax15_rows_vjp, y2, g, self.rows),)


def sparsemax(x: Any, axis: Any = -1, out: np.ndarray | None = None) -> Any:
    r"""Sparsemax along ``axis``: the Euclidean projection onto the simplex (fused op).

    Like softmax it returns non-negative values that sum to one, but small logits get exactly
    zero probability.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.  Integers and bools are promoted to float64; float16 is computed in float32.
    axis : int, tuple of int or None, default -1
        The class axis (axes); ``None`` projects the whole array.
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
        If ``axis`` is out of range.

    Notes
    -----
    **Fused op.**  Forward (Martins & Astudillo, Algorithm 1), with :math:`z = x - \max x` and
    :math:`z_{(1)} \ge \dots \ge z_{(n)}` the sorted entries:

    .. math:: y = \operatorname{argmin}_{p \in \Delta} \lVert p - x \rVert^2
              = [z - \tau]_+, \qquad
              \tau = \frac{\sum_{j \le k} z_{(j)} - 1}{k}, \quad
              k = \max\{j : 1 + j z_{(j)} > \textstyle\sum_{i \le j} z_{(i)}\}

    VJP, with the support :math:`s = 1[y > 0]` (the Jacobian is
    :math:`\operatorname{diag}(s) - s s^\top / |S|`, symmetric):

    .. math:: \bar{x} = s \odot \Big(g - \frac{\sum_{j \in S} g_j}{|S|}\Big)

    The map is piecewise linear; its gradient jumps where an entry crosses the threshold.
    Equal logits always get equal probabilities (the threshold depends on values only), so no
    tie rule is needed.  Edge policy: ``-inf`` entries get 0; a row that is all ``-inf`` or
    holds ``+inf`` or NaN gives NaN; an empty axis gives an empty result.  The row maximum is
    subtracted first, so the result is shift invariant to rounding at any offset.

    References
    ----------
    A. F. T. Martins, R. F. Astudillo, "From Softmax to Sparsemax: A Sparse Model of Attention
    and Multi-Label Classification", ICML 2016, arXiv:1602.02068.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.sparsemax(np.array([-2.0, 0.0, 0.5]))
    array([0.  , 0.25, 0.75])
    >>> nps.sparsemax(np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [0.1, 0.2, -np.inf, 0.3, 0.0]]))
    array([[0. , 0. , 0. , 0. , 1. ],
           [0.2, 0.3, 0. , 0.4, 0.1]])
    """
    return dispatch(SparsemaxFunction, x, out=out, axis=axis)


def entmax15(x: Any, axis: Any = -1, out: np.ndarray | None = None) -> Any:
    r"""1.5-entmax along ``axis``, exact (sort-based): sparse, and smoother than sparsemax.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.  Integers and bools are promoted to float64; float16 is computed in float32.
    axis : int, tuple of int or None, default -1
        The class axis (axes); ``None`` for the whole array.
    out : numpy.ndarray, optional
        Where to write the result (NumPy input only); may be ``x`` itself.

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
    **Fused op.**  The maximiser of :math:`\langle p, x\rangle + H^T_{1.5}(p)` over the simplex
    (Tsallis entropy :math:`H^T_{1.5}(p) = (1 - \sum_i p_i^{1.5}) / 0.75`):

    .. math:: y_i = [x_i / 2 - \tau]_+^2, \qquad \sum_i y_i = 1

    The threshold is exact: with :math:`z = (x - \max x)/2` sorted decreasingly, each candidate
    support size :math:`j` gives :math:`\tau_j = \mu_j - \sqrt{(1 - \mathrm{ss}_j)/j}`
    (:math:`\mu_j`, :math:`\mathrm{ss}_j` the mean and sum of squared deviations of the top
    :math:`j`), and the support size is :math:`k = \#\{j : \tau_j \le z_{(j)}\}` (Peters et al.,
    Algorithm 2).  VJP, formula (B) with :math:`h = \sqrt{y}` and :math:`u = h \odot g`:

    .. math:: \bar{x} = u - \frac{\sum_i u_i}{\sum_i h_i}\, h

    Edge policy as :func:`sparsemax` (``-inf`` gets 0; all ``-inf``, ``+inf`` or NaN rows give
    NaN).  Note: the entmax package's ``Entmax15Function.apply`` defaults to ``dim=0`` while its
    ``entmax15`` defaults to ``dim=-1``; npsoftmax uses ``axis=-1`` everywhere.

    References
    ----------
    B. Peters, V. Niculae, A. F. T. Martins, "Sparse Sequence-to-Sequence Models", ACL 2019,
    arXiv:1905.05702.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.entmax15(np.array([-2.0, 0.0, 0.5]))
    array([0.        , 0.32600736, 0.67399264])
    >>> x = nps.tensor([[-2.0, 0.0, 0.5]], requires_grad=True)
    >>> nps.entmax15(x)[0, 2].backward()
    >>> x.grad.round(5)  # formula (B): h = sqrt(y), dx = h * g - (<h, g> / sum(h)) h
    array([[ 0.     , -0.33676,  0.33676]])
    """
    return dispatch(Entmax15Function, x, out=out, axis=axis)
