"""dask.array input for the functional API: the same NumPy-path forwards, mapped over blocks.

:func:`npsoftmax.autograd.dispatch.dispatch` hands a call over to :func:`dispatch_dask` when an
input is a ``dask.array.Array`` (it checks the type's module name, so dask is never imported by
npsoftmax itself).  The result is a lazy ``dask.array.Array``; nothing is computed until the
caller asks (``.compute()``, ``.store(...)``, ``dask.compute``).

What is supported:

* **Row-wise ops** of :mod:`npsoftmax.functional` (softmax, log_softmax and every other fused op
  whose ``Function.forward`` takes ``(x, axis=..., out=None)``): the class axis (or axes) is put
  in a single chunk (rechunked when it is not; the other axes are then chunked automatically to
  keep blocks near dask's ``array.chunk-size``), and each block goes through the op's NumPy-path
  forward, the very code that a NumPy array would run.  Rows never span two blocks, so each block
  is exact.  A per-row reduction of such an op (a forward that also takes ``keepdims``) is mapped
  the same way, one value per row.
* **Composites** that are an elementwise map followed by a row-wise normaliser, with scalar
  parameters only (softmin, temp_softmax, logit_scaled_softmax, norm_exp_softmax, selu_softmax,
  local_softmax): the public function calls :func:`map_composite`, which puts rows in whole
  blocks in the same way and runs the composite's NumPy path on each block.
* **logsumexp** along any axes, chunked or not, is a tree reduction that never gathers an axis
  into one block: each block gives its partial ``lse_b`` and partials are merged by a logsumexp
  over them.  This is the online-softmax merge written in log space: with a block's running
  maximum ``m_b`` and denominator ``d_b = sum exp(x - m_b)``, ``lse_b = m_b + log(d_b)`` and

      (m1, d1) + (m2, d2) = (M, d1 e^(m1 - M) + d2 e^(m2 - M)),   M = max(m1, m2),

  whose log is exactly ``logsumexp([lse_1, lse_2])``.  The edge policy carries over: an all
  ``-inf`` partial adds nothing, a ``+inf`` partial gives ``+inf`` and a NaN gives NaN.

What is refused, with a ``TypeError`` raised before anything is computed: mixing a dask array
with a :class:`~npsoftmax.Tensor` (Tensors are not dask-aware: the graph would need the whole
array; a Tensor temperature or scale included), ``out=`` (a dask result is lazy; use
``dask.array.store`` or ``.compute(out=...)`` patterns instead), an array-valued parameter,
which no block could be given its share of (masked_softmax's mask), and every other op:
primitives such as ``exp`` or ``add`` (dask's own functions do those, e.g. ``dask.array.exp``);
the random ones (gumbel_softmax, gumbelmax: one ``rng`` stream cannot be shared by blocks);
mm_softmax (form ``x * y`` with dask and call logit_scaled_softmax); the losses
(cross_entropy, nll_loss, sparsemax_loss, entmax15_loss) and unified_max_softmax, which reduce
over the whole array.  Each refusal names the function and what to do instead.

The dtype policy is the NumPy path's (ints to float64, float16 computed in float32).  The kernel
backend active when the dask graph is built is the one the blocks run with, in threads or in
``dask.distributed`` worker processes alike.

Legend: ``x`` the input, ``lse`` a (partial) logsumexp, ``axes`` the class axes.

Examples
--------
Skipped by the doctest run, which must pass without the optional dask extra:

>>> import dask.array as da  # doctest: +SKIP
>>> import npsoftmax as nps  # doctest: +SKIP
>>> x = da.random.default_rng(0).random((10**5, 1000), chunks=(10**4, 250))  # doctest: +SKIP
>>> nps.softmax(x).chunks[1]  # doctest: +SKIP
(1000,)
>>> nps.logsumexp(x).compute().shape  # doctest: +SKIP
(100000,)

The class axis was rechunked into one chunk for softmax; logsumexp merged the four chunks of
each row without gathering them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from ._backend import get_backend, use_backend
from .autograd.shapes import normalize_axes
from .autograd.tensor import Tensor
from .functional._rows import compute_dtype

_OUT_REFUSED = (
    "{op}: out= is not supported for dask input, whose result is lazy; store the returned dask "
    "array instead (e.g. dask.array.store(result, out))."
)


def is_dask_array(x: Any) -> bool:
    """Whether ``x`` is a ``dask.array.Array``, decided without importing dask."""
    return type(x).__module__.startswith("dask.")


def refuse_dask(op: str, advice: str, *values: Any) -> None:
    """Raise ``TypeError`` naming ``op`` if any of ``values`` is a dask array.

    For functions that cannot run block by block; called first, before anything computes a
    dask input (``np.asarray`` on one would, silently).  ``advice`` says why and what to do.
    """
    if any(is_dask_array(v) for v in values):
        raise TypeError(f"{op} does not accept dask arrays: {advice}")


def map_composite(
    fn: Callable[[np.ndarray], np.ndarray], x: Any, axis: Any, op: str, out: Any = None
) -> Any:
    """Map a composite's NumPy path ``fn`` over the blocks of ``x``, rows whole in each block.

    For a public function that is an elementwise map followed by a row-wise normaliser along
    ``axis``, with every parameter a scalar already bound into ``fn`` (a picklable
    :func:`functools.partial` of a module-level function, so that distributed workers can run
    it).  The result dtype is the row-wise policy's, decided before anything is computed.

    Parameters
    ----------
    fn : callable
        ``fn(block) -> array`` of the block's shape: the composite's NumPy path.
    x : dask.array.Array
        The input.
    axis : int, tuple of int or None
        The class axes, put in a single chunk each.
    op : str
        The public function's name, for messages.
    out : None
        Must be ``None``: a lazy result has no memory to write into.

    Returns
    -------
    dask.array.Array
        The lazy result, ``x``'s shape.

    Raises
    ------
    TypeError
        If ``out`` is given, or the dtype is not real numeric.
    """
    if out is not None:
        raise TypeError(_OUT_REFUSED.format(op=op))
    _, dtype = compute_dtype(x.dtype, op)  # raised now rather than in a worker
    x = _whole_rows(x, normalize_axes(axis, x.ndim, op))
    meta = np.empty((0,) * x.ndim, dtype=dtype)
    return x.map_blocks(_in_backend, fn, get_backend(), dtype=dtype, meta=meta)


def dispatch_dask(fn_cls: type, *inputs: Any, out: Any = None, **params: Any) -> Any:
    """Run the op ``fn_cls`` lazily over the blocks of a dask array; return a dask array.

    Parameters
    ----------
    fn_cls : type
        A :class:`~npsoftmax.autograd.function.Function` subclass.
    *inputs
        The op's inputs; at least one is a ``dask.array.Array``.
    out : None
        Must be ``None``: a lazy result has no memory to write into.
    **params
        The op's parameters (``axis``, ``keepdims``, ...), passed to every block's forward.

    Returns
    -------
    dask.array.Array
        The lazy result, with the shape and dtype the NumPy path would give.

    Raises
    ------
    TypeError
        If a Tensor is mixed in, if ``out`` is given, or if ``fn_cls`` is not a row-wise op of
        :mod:`npsoftmax.functional` applied to a single array.
    """
    op = _op_name(fn_cls)
    if any(isinstance(x, Tensor) for x in inputs):
        raise TypeError(
            f"{op} got a Tensor and a dask array together; Tensors are not dask-aware (the graph "
            "holds whole arrays). Pass plain dask arrays, or compute the dask array first."
        )
    if out is not None:
        raise TypeError(_OUT_REFUSED.format(op=op))
    from .functional.softmax import LogSumExpFunction  # late: functional imports dispatch

    (x,) = _single_row_input(fn_cls, inputs, params, op)
    compute_dtype(x.dtype, op)  # the NumPy path's dtype check, raised now rather than in a worker
    axes = normalize_axes(params["axis"], x.ndim, op)
    if fn_cls is LogSumExpFunction and x.ndim:
        return _logsumexp(x, axes, params.get("keepdims", False))
    return _map_row_op(fn_cls, x, axes, params)


def _op_name(fn_cls: type) -> str:
    """``SoftmaxFunction`` -> ``'softmax'`` for messages (the public name, by convention)."""
    name = fn_cls.__name__.removesuffix("Function")
    snake = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return snake.replace("log_sum_exp", "logsumexp")


def _single_row_input(fn_cls: type, inputs: tuple, params: dict, op: str) -> tuple[Any]:
    """Check that this is a row-wise functional op on one dask array, else raise TypeError."""
    rowwise = fn_cls.__module__.startswith("npsoftmax.functional") and "axis" in params
    if not rowwise or len(inputs) != 1 or not is_dask_array(inputs[0]):
        raise TypeError(
            f"{op} does not accept dask arrays: npsoftmax maps only its row-wise functional ops "
            "(softmax, log_softmax, logsumexp, ... on one array with axis=) over dask blocks. "
            "Use dask.array's own functions for elementwise work, or compute the array first."
        )
    # Every block gets the same parameters, so an array-valued one (a mask, say) would be
    # applied to the wrong rows: refuse it rather than guess how to split it.  A tuple (a
    # loss's Target of arrays) counts as one: np.ndim of a ragged tuple would raise.
    per_element = [
        k
        for k, v in params.items()
        if k != "axis" and (isinstance(v, (tuple, list)) or np.ndim(v) > 0)
    ]
    if per_element:
        raise TypeError(
            f"{op} got dask input with array-valued parameter(s) {per_element}, which cannot "
            "be split over the blocks; compute the dask array first."
        )
    return (inputs[0],)


def _in_backend(block: np.ndarray, fn: Callable, backend: str, *args: Any) -> np.ndarray:
    """``fn(block, *args)`` on the backend the graph was built with."""
    if get_backend() == backend:
        return fn(block, *args)
    # A worker process whose default differs, or a scheduler thread (which sees the process-wide
    # setting, not the use_backend block the graph was built in): the choice is per thread.
    with use_backend(backend):
        return fn(block, *args)


def _forward_block(block: np.ndarray, fn_cls: type, params: dict, backend: str) -> np.ndarray:
    """One block through the op's NumPy-path forward, on the backend the graph was built with."""
    return _in_backend(block, _forward, backend, fn_cls, params)


def _forward(x: np.ndarray, fn_cls: type, params: dict) -> np.ndarray:
    """The NumPy path of :func:`~npsoftmax.autograd.dispatch.dispatch`: a forward, no graph."""
    fn = fn_cls()
    fn.needs_input_grad = (False,)
    return fn.forward(x, **params)


def _result_dtype(fn_cls: type, dtype: np.dtype, ndim: int, params: dict) -> np.dtype:
    """The op's result dtype, from a one-element probe (cheap, and right for any op)."""
    return _forward(np.zeros((1,) * ndim, dtype=dtype), fn_cls, params).dtype


def _whole_rows(x: Any, axes: tuple[int, ...]) -> Any:
    """``x`` with each of ``axes`` in a single chunk, so that no row spans two blocks."""
    if x.ndim and any(len(x.chunks[a]) > 1 for a in axes):
        # The other axes are re-chunked "auto" so that a block holding whole rows stays near
        # dask's array.chunk-size.
        x = x.rechunk({i: -1 if i in axes else "auto" for i in range(x.ndim)})
    return x


def _map_row_op(fn_cls: type, x: Any, axes: tuple[int, ...], params: dict) -> Any:
    """Map a row-wise op over blocks whose class axes are whole (rechunked if needed)."""
    x = _whole_rows(x, axes)
    dtype = _result_dtype(fn_cls, x.dtype, x.ndim, params)
    meta = np.empty((0,) * x.ndim, dtype=dtype)
    args = (fn_cls, params, get_backend())
    if "keepdims" not in params or not x.ndim:
        return x.map_blocks(_forward_block, *args, dtype=dtype, meta=meta)
    # A per-row reduction: one value per row of each block.
    if params["keepdims"]:
        chunks = tuple((1,) if i in axes else c for i, c in enumerate(x.chunks))
        return x.map_blocks(_forward_block, *args, chunks=chunks, dtype=dtype, meta=meta)
    meta = np.empty((0,) * (x.ndim - len(axes)), dtype=dtype)
    return x.map_blocks(_forward_block, *args, drop_axis=axes, dtype=dtype, meta=meta)


def _lse_partial(x: np.ndarray, axis: tuple[int, ...], keepdims: bool, backend: str) -> np.ndarray:
    """A block's partial logsumexp (the ``chunk`` and ``combine`` step), keeping the axes.

    Partials stay in the compute dtype: float16 partials would lose digits at every merge.
    """
    from .functional.softmax import LogSumExpFunction  # late: functional imports dispatch

    work, _ = compute_dtype(x.dtype, "logsumexp")
    params = {"axis": axis, "keepdims": True}
    return _forward_block(x.astype(work, copy=False), LogSumExpFunction, params, backend)


def _lse_final(
    x: np.ndarray, axis: tuple[int, ...], keepdims: bool, backend: str, dtype: np.dtype
) -> np.ndarray:
    """The last merge (the ``aggregate`` step), then the policy's result dtype."""
    lse = _lse_partial(x, axis, True, backend)
    return (lse if keepdims else lse.squeeze(axis)).astype(dtype, copy=False)


def _logsumexp(x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """logsumexp over ``axes`` as a dask tree reduction of per-block partials (exact merge)."""
    import dask.array as da

    _, dtype = compute_dtype(x.dtype, "logsumexp")
    backend = get_backend()
    out_ndim = x.ndim if keepdims else x.ndim - len(axes)
    return da.reduction(
        x,
        chunk=partial(_lse_partial, backend=backend),  # per block: lse_b = m_b + log d_b
        combine=partial(_lse_partial, backend=backend),  # merge: logsumexp of the lse_b
        aggregate=partial(_lse_final, backend=backend, dtype=dtype),
        axis=axes,
        keepdims=keepdims,
        dtype=dtype,
        meta=np.empty((0,) * out_ndim, dtype=dtype),
        concatenate=True,
        name="npsoftmax-logsumexp",
    )
