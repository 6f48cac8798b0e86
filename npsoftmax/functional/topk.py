"""Top-k sparse softmax: softmax over the k largest logits of each row, zero elsewhere.

A fused op: the forward selects the top ``k`` of each row, masks the rest with ``-inf`` and runs
the softmax row kernel; the backward is the softmax VJP, zero where the output is zero, with
``g`` zeroed there first so that a non-finite ``g`` on a dropped entry does not leak in.
Selection is a stable sort on ``(-x, index)``, computed once per call on the ``(rows, n)`` view
that :func:`~npsoftmax.functional._rows.map_rows` builds for any axis.

Legend: ``x`` logits, ``k`` entries kept per row, ``keep`` the top-k indicator, ``y`` output,
``g`` upstream gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import kernels
from ..autograd.dispatch import as_array, dispatch
from ..autograd.function import Function
from ..autograd.shapes import as_integer, normalize_axes
from ._rows import map_rows, map_rows_vjp


def top_k_mask(x2: np.ndarray, k: int) -> np.ndarray:
    """The indicator of the ``k`` largest entries of each row of a 2-D array.

    Ranking: NaN first (as in ``torch.topk``), then by decreasing value (``+inf`` before finite
    values before ``-inf``); among equal values the lower index wins, i.e. a stable sort on
    ``(-x, index)``.
    """
    is_nan = np.isnan(x2)
    # np.lexsort sorts by its last key first and is stable, so equal keys keep index order.
    order = np.lexsort((np.where(is_nan, 0.0, -x2), ~is_nan), axis=-1)
    keep = np.zeros(x2.shape, dtype=bool)
    np.put_along_axis(keep, order[:, :k], True, axis=-1)
    return keep


class SparseSoftmaxFunction(Function):
    """Fused op: ``y = softmax(where(keep, x, -inf))``, ``keep`` the top ``k`` of each row."""

    op = "sparse_softmax"  # the name its errors give it

    def forward(
        self, x: np.ndarray, k: int = 3, axis: Any = -1, out: np.ndarray | None = None
    ) -> np.ndarray:
        def kernel(x2: np.ndarray, y2: np.ndarray) -> np.ndarray:
            keep = top_k_mask(x2, k)
            kernels.softmax_rows(np.where(keep, x2, -np.inf), y2)
            # A row without a finite maximum among its kept entries (NaN, +inf, all -inf) comes
            # back all NaN from softmax; the policy puts NaN in the kept entries only.
            y2[~keep] = 0.0
            return y2

        y, self.rows, y2 = map_rows(kernel, x, axis, self.op, out)
        # Save the output: the softmax VJP needs only y, and y = 0 off the top k.
        self.save_for_backward(y2)
        return y

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # top-k softmax VJP: dx = y * (g - <g, y>), which is 0 outside the top k (y = 0 there)
        (y2,) = self.saved_arrays

        def kernel(y: np.ndarray, g2: np.ndarray, dx: np.ndarray) -> np.ndarray:
            # The output ignores g where y = 0, so the VJP must not read it there: an inf or
            # NaN of g on a dropped entry would otherwise reach <g, y> as 0 * inf = NaN and
            # poison the whole row.
            return kernels.softmax_rows_vjp(y, np.where(y == 0, g2.dtype.type(0), g2), dx)

        return (map_rows_vjp(kernel, y2, g, self.rows),)


def sparse_softmax(x: Any, k: int = 3, axis: Any = -1, out: np.ndarray | None = None) -> Any:
    r"""Top-k softmax along ``axis``: the softmax of the ``k`` largest logits, zero elsewhere.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.  Integers and bools are promoted to float64; float16 is computed in float32.
    k : int, default 3
        How many entries each row keeps, ``1 <= k <= n`` (``n`` the size of the class axis, or
        the product of the sizes for a tuple of axes); any ``k >= 1`` for an empty axis.
    axis : int, tuple of int or None, default -1
        The class axis (axes).
    out : numpy.ndarray, optional
        Where to write the result (NumPy input only); may be ``x`` itself.

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``.

    Raises
    ------
    TypeError
        If ``k`` is not an integer, or ``x`` is not numeric.
    ValueError
        If ``k`` is outside ``1..n`` (below 1 for an empty axis).

    Notes
    -----
    **Fused op.**  With :math:`K` the indices of the :math:`k` largest entries and
    :math:`m = \max_{j \in K} x_j`:

    .. math:: y_i = \frac{e^{x_i - m}}{\sum_{j \in K} e^{x_j - m}} \; (i \in K), \qquad
              y_i = 0 \; (i \notin K)

    VJP (the softmax VJP restricted to :math:`K`; zero outside it, where :math:`y = 0`):

    .. math:: \bar{x} = y \odot (g - \langle g, y \rangle)

    Tie rule: among equal values at the ``k``-th place the lower index wins (a stable sort on
    ``(-x, index)``); ``torch.topk`` may pick others.  NaN ranks highest, as in ``torch.topk``,
    so a row holding NaN keeps it and puts NaN in its kept entries; a row whose kept entries
    include ``+inf``, or are all ``-inf``, also has NaN in its kept entries (the softmax
    policy); entries outside the top ``k`` are always 0; an empty class axis gives an empty
    result, as :func:`softmax` does.  ``k = n`` is :func:`softmax`, and
    ``k = 1`` the one-hot of the (first) argmax.  Unlike zeta's ``sparse_softmax`` the maximum
    is subtracted, so ``[100, 90, 1]`` with ``k = 2`` is ``[0.99995, 4.5e-5, 0]``, not NaN.

    References
    ----------
    A folklore construction (the top-k gate of mixture-of-experts routers); see also
    N. Shazeer et al., "Outrageously Large Neural Networks: The Sparsely-Gated
    Mixture-of-Experts Layer", ICLR 2017, arXiv:1701.06538.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.sparse_softmax(np.array([1.0, 3.0, 2.0, 0.0]), k=2).round(4)
    array([0.    , 0.7311, 0.2689, 0.    ])
    >>> nps.sparse_softmax(np.array([1.0, 3.0, 3.0, 3.0]), k=2)  # ties: lower index wins
    array([0. , 0.5, 0.5, 0. ])
    """
    k = as_integer(k, "k", "sparse_softmax")
    # The shape only (a dask array's, too, without computing it); dtypes are checked later.
    shape = x.shape if hasattr(x, "shape") else as_array(x, "sparse_softmax's input").shape
    axes = normalize_axes(axis, len(shape), "sparse_softmax")
    n = int(np.prod([shape[a] for a in axes], dtype=np.int64)) if shape else 1
    if k < 1:
        raise ValueError(f"sparse_softmax: k must be at least 1, got k = {k}.")
    if k > n > 0:  # an empty axis (n = 0) gives an empty result for any k >= 1
        raise ValueError(
            f"sparse_softmax: k must be between 1 and n = {n} (the number of classes along "
            f"axis {axis!r}), got k = {k}."
        )
    return dispatch(SparseSoftmaxFunction, x, out=out, k=k, axis=axis)
