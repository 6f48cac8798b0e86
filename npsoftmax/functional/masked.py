"""masked_softmax, softmax1 (quiet softmax) and local (chunked) softmax.

Legend: ``x`` logits, ``mask`` a boolean array (True = keep), ``z = where(mask, x, -inf)`` the
masked logits, ``m`` a row maximum, ``y`` the output, ``g`` the upstream gradient, ``<a, b>`` a
sum along the class axis.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import Any

import numpy as np

from .. import kernels
from .._dask import is_dask_array, map_composite
from ..autograd import ops
from ..autograd.dispatch import as_array, dispatch
from ..autograd.function import Function
from ..autograd.shapes import as_integer, normalize_axis
from ..autograd.tensor import Tensor
from ._rows import map_rows, map_rows_vjp, run_kernel
from .softmax import softmax


def _masked_rows(z2: np.ndarray, y2: np.ndarray) -> np.ndarray:
    """Row kernel: softmax of the masked rows, and zeros for rows with nothing kept."""
    kernels.softmax_rows(z2, y2)
    # A row with no kept entry is all -inf, where softmax gives NaN; the policy is zeros.
    y2[np.all(z2 == -np.inf, axis=1)] = 0.0
    return y2


class MaskedSoftmaxFunction(Function):
    """Fused op: ``y = softmax(where(mask, x, -inf))``, zeros for a fully masked row."""

    op = "masked_softmax"  # the name its errors give it

    def forward(self, x: np.ndarray, *, mask: np.ndarray, axis: Any = -1) -> np.ndarray:
        # Route with where, never multiply: x * mask would turn a masked inf or NaN into NaN.
        z = np.where(mask, x, -np.inf)
        y, rows, y2 = map_rows(_masked_rows, z, axis, "masked_softmax", keep_input=True)
        # -inf entries (masked or given) have y = 0 and must get gradient 0.
        self.save_for_backward(y2, rows.x2 != -np.inf)
        self.rows = rows.layout()
        return y

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # masked softmax VJP: dx = y * (g - <g, y>) on kept lanes, 0 on masked lanes and rows.
        y2, keep2 = self.saved_arrays

        def vjp(y2: np.ndarray, g2: np.ndarray, dx2: np.ndarray) -> np.ndarray:
            # Zero g on masked lanes first: y = 0 there, but 0 * inf (say g = d log(y)) is NaN
            # and would poison <g, y> for the whole row.
            return kernels.softmax_rows_vjp(y2, np.where(keep2, g2, 0.0), dx2)

        return (map_rows_vjp(vjp, y2, g, self.rows),)


def _check_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``mask`` as a boolean array broadcast to ``shape``, or a clear TypeError/ValueError."""
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if m.dtype != np.bool_:
        raise TypeError(
            f"masked_softmax: mask must be a boolean array (True = keep), got dtype {m.dtype}; "
            "convert it with mask.astype(bool) if 0/1 values are meant."
        )
    try:
        ok = np.broadcast_shapes(m.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"masked_softmax: mask of shape {m.shape} does not broadcast to x's shape {shape}."
        )
    return np.broadcast_to(m, shape)


def masked_softmax(x: Any, mask: Any, axis: Any = -1) -> Any:
    r"""Softmax over the kept entries only; a row with nothing kept gives zeros.

    Fused op.  The values at masked positions are never read into the arithmetic: they may be
    anything, including ``+inf``, ``-inf`` or NaN, without changing the output or giving a NaN
    gradient.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.
    mask : array_like of bool
        True where an entry takes part, False where it is masked out; broadcastable to the
        shape of ``x`` (a constant: it gets no gradient).
    axis : int, tuple of int or None, default -1
        The class axis (axes).

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``: exactly 0 at masked entries, the kept entries of each row summing
        to one (or all zeros for a fully masked row).

    Raises
    ------
    TypeError
        If ``mask`` is not boolean, ``x`` is not numeric, or ``x`` is a dask array.
    ValueError
        If ``mask`` does not broadcast to the shape of ``x`` (the message names both shapes).

    Notes
    -----
    Forward, with :math:`K` the kept entries of a row:

    .. math:: y_i = \frac{e^{x_i - m}}{\sum_{j \in K} e^{x_j - m}} \ (i \in K), \qquad
              y_i = 0 \ (i \notin K), \qquad m = \max_{j \in K} x_j

    VJP: :math:`\bar{x}_i = y_i (g_i - \sum_{j \in K} g_j y_j)` on :math:`K`, and 0 elsewhere
    (also where :math:`g` is infinite or NaN at masked lanes).

    Edge policy: a ``-inf`` among the kept entries is a mask too.  A row in which no entry is
    kept (all masked, or all kept entries ``-inf``) gives a row of zeros with zero gradient,
    where ``softmax`` gives NaN: the "safe softmax" of PyTorch's scaled-dot-product attention.
    A kept ``+inf`` or NaN gives a NaN row, as in :func:`softmax`.

    References
    ----------
    PyTorch ``_safe_softmax`` for fully masked rows (pytorch/pytorch PRs #131060, #133882);
    A. Vaswani et al., "Attention Is All You Need", arXiv:1706.03762, 2017 (masked attention).

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> x = np.array([[1.0, np.nan, 1.0], [2.0, 3.0, np.inf]])
    >>> mask = np.array([[True, False, True], [False, False, False]])
    >>> nps.masked_softmax(x, mask)
    array([[0.5, 0. , 0.5],
           [0. , 0. , 0. ]])
    """
    if type(x).__module__.startswith("dask."):
        raise TypeError(
            "masked_softmax does not accept dask arrays: its mask is a whole-array parameter. "
            "Compute the array first (x.compute())."
        )
    shape = np.shape(x.data if isinstance(x, Tensor) else x)
    mask = _check_mask(mask, shape)
    return dispatch(MaskedSoftmaxFunction, x, mask=mask, axis=axis)


def _softmax1_rows(x2: np.ndarray, y2: np.ndarray) -> np.ndarray:
    """Row kernel: softmax of each row with a logit 0 appended, the extra entry dropped.

    That is ``y = exp(x - m) / (exp(-m) + sum(exp(x - m)))`` with ``m = max(max(x), 0)``, on
    softmax's own kernel: it keeps the rounding error of ``x - m`` (TwoSum), so each entry is
    within about an ulp even where ``x - m`` is large, where a plain ``exp(x - m)`` is off by
    up to ``|x - m|`` ulps.  The extra logit is ``e^{0 - m}``, never a literal 1 after the
    shift (that is the AttentionIsOFFByOne #5 bug: ``e^{x_i} / (e^m + sum e^{x_j})``).
    """
    # float32 rows in float64, rounded once (as before: 0.5 ulp, where float32's kernel is 1.5).
    z = np.zeros((x2.shape[0], x2.shape[1] + 1), dtype=np.promote_types(x2.dtype, np.float64))
    z[:, :-1] = x2
    run_kernel(kernels.softmax_rows, z, z)  # softmax's edge policy: a NaN or +inf row is NaN
    y2[...] = z[:, :-1]
    return y2


class Softmax1Function(Function):
    """Fused op: softmax with an extra virtual zero logit, ``y = e^x / (1 + sum e^x)``."""

    op = "softmax1"  # the name its errors give it

    def forward(self, x: np.ndarray, axis: Any = -1, out: np.ndarray | None = None) -> np.ndarray:
        y, self.rows, y2 = map_rows(_softmax1_rows, x, axis, "softmax1", out)
        self.save_for_backward(y2)
        return y

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # softmax1 VJP, formula (A) with f = exp, S = 1 + sum(e^x): dx = y * (g - <g, y>),
        # the softmax VJP although the y sum to less than one.
        (y2,) = self.saved_arrays
        return (map_rows_vjp(kernels.softmax_rows_vjp, y2, g, self.rows),)


def softmax1(x: Any, axis: Any = -1) -> Any:
    r"""Softmax with one in the denominator ("quiet softmax", softmax-one): it may sum below one.

    Fused op.  Equal to the softmax of ``x`` with an extra logit 0 appended and then dropped,
    so an attention head whose scores are all very negative can attend to nothing.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.
    axis : int, tuple of int or None, default -1
        The class axis (axes).

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``; each row is non-negative and sums to less than one.

    Raises
    ------
    TypeError
        For non-numeric input.

    Notes
    -----
    .. math:: y_i = \frac{e^{x_i}}{1 + \sum_j e^{x_j}}
              = \frac{e^{x_i - m}}{e^{-m} + \sum_j e^{x_j - m}}, \qquad
              m = \max(\max_j x_j,\ 0)

    The second form is the one computed, as the softmax of the row with a logit 0 appended
    (on softmax's kernel, float32 rows in float64): the virtual logit takes part in the
    maximum, so no term exceeds one, and the rounding error of :math:`x - m` is kept, so each
    entry is within 2 ulps of the exact value in float64 and 0.5 ulp in float32 (measured on
    rows of scale 100 against a 50-digit oracle; a plain ``exp(x - m)`` gave up to 383 ulps).

    The row sum is :math:`\sigma(\mathrm{lse}(x)) < 1`, and it grows with every :math:`x_i`.
    Not shift invariant (the virtual logit does not move).

    VJP: as for any normalised positive map :math:`y = f(x) / S`, :math:`\bar{x} = f'(x) / S
    \odot (g - \langle g, y \rangle)`, here with :math:`f = \exp` and :math:`S = 1 + \sum_j
    e^{x_j}`, so that :math:`f'(x) / S = y`:

    .. math:: \bar{x} = y \odot (g - \langle g, y \rangle)

    Edge policy: an all ``-inf`` row gives zeros (the mass goes to the virtual logit); a row
    with ``+inf`` or NaN gives NaN, as in :func:`softmax`.

    References
    ----------
    E. Miller, "Attention Is Off By One", blog post, 24 July 2023
    (https://www.evanmiller.org/attention-is-off-by-one.html); the extra-logit softmax of
    flaxformer (``_softmax_with_extra_logit``).

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.softmax1(np.array([10.0, 10.0]))
    array([0.49998865, 0.49998865])
    >>> nps.softmax1(np.array([0.0, -np.inf]))
    array([0.5, 0. ])
    """
    return dispatch(Softmax1Function, x, axis=axis)


def local_softmax(x: Any, num_chunks: int = 2, axis: int = -1) -> Any:
    r"""Softmax within each of ``num_chunks`` consecutive chunks of ``axis``.

    Composite (slices, :func:`softmax` per chunk, concatenation).  The chunk sizes are those of
    :func:`numpy.array_split`: for a length ``n`` the first ``n % num_chunks`` chunks have
    ``n // num_chunks + 1`` entries and the others ``n // num_chunks``, so there are always
    exactly ``num_chunks`` non-empty chunks.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.
    num_chunks : int, default 2
        The number of chunks, ``1 <= num_chunks <= n``.
    axis : int, default -1
        The axis that is split and normalised chunk by chunk.

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``; each chunk of each row sums to one.

    Raises
    ------
    ValueError
        If ``num_chunks`` is below 1 or above the length of ``axis``.
    TypeError
        If ``num_chunks`` or ``axis`` is not an integer.
    numpy.exceptions.AxisError
        If ``axis`` is out of range.

    Notes
    -----
    With chunks :math:`C_1, \dots, C_k` of the axis, for :math:`i \in C_c`:

    .. math:: y_i = \frac{e^{x_i}}{\sum_{j \in C_c} e^{x_j}}

    VJP, chunk by chunk: :math:`\bar{x}_{C} = y_{C} \odot (g_{C} - \langle g_{C}, y_{C}
    \rangle)`.  Each chunk follows :func:`softmax`'s edge policy on its own (a NaN makes only
    its chunk NaN).  An empty axis gives an empty result.  A dask array in gives a dask array
    out, mapped over blocks that hold the whole axis.

    Differences from zeta's ``local_softmax(tensor, num_chunks)``: zeta chunks and normalises
    axis 0 (the batch axis), not the last one, and uses ``torch.chunk``, whose chunks have
    ``ceil(n / num_chunks)`` entries and may be fewer than asked (``n = 6`` into 4 gives 3
    chunks ``[2, 2, 2]``, where ``array_split`` gives ``[2, 2, 1, 1]``).

    References
    ----------
    zeta (kyegomez/zeta), ``zeta/ops/softmax.py::local_softmax``; blockwise normalisation
    as in M. Milakov, N. Gimelshein, arXiv:1805.02867.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.local_softmax(np.array([0.0, 0.0, 0.0, 1.0, 1.0]), num_chunks=2)
    array([0.33333333, 0.33333333, 0.33333333, 0.5       , 0.5       ])
    """
    dask_input = is_dask_array(x)
    if not (dask_input or isinstance(x, Tensor)):  # a Tensor's data is numeric already
        x = as_array(x, "local_softmax's input")
    ndim = len(x.shape)
    ax = normalize_axis(axis, ndim, "local_softmax")
    n = x.shape[ax] if ndim else 1
    k = as_integer(num_chunks, "num_chunks", "local_softmax")
    if not (1 <= k <= n or (n == 0 and k >= 1)):  # an empty axis gives an empty result
        raise ValueError(
            f"local_softmax: num_chunks must be between 1 and the length of axis {axis} "
            f"({n}), got {k}."
        )
    if dask_input:  # chunks never straddle blocks: the axis is whole in each block
        return map_composite(partial(local_softmax, num_chunks=k, axis=ax), x, ax, "local_softmax")
    if k == 1 or n == 0 or ndim == 0:
        return softmax(x, axis=ax)
    # Chunk c covers [starts[c], starts[c + 1]): the sizes numpy.array_split gives.
    size, extra = divmod(n, k)
    starts = [0]
    for c in range(k):
        starts.append(starts[-1] + size + (c < extra))
    lead = (slice(None),) * ax
    chunks = [
        softmax(ops.getitem(x, (*lead, slice(lo, hi))), axis=ax)
        for lo, hi in itertools.pairwise(starts)
    ]
    return ops.concatenate(chunks, axis=ax)
