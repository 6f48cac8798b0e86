"""Running a row kernel on an array of any shape: dtypes, axes and ``out=``, decided once.

Every fused row-wise op (softmax, log_softmax, logsumexp, and later sparsemax, entmax, ...)
calls :func:`map_rows` in its forward and :func:`map_rows_vjp` in its backward.  This module
owns the numerical policy's dtype rules:

* float32 and float64 are computed in their own precision;
* bools and integers are promoted to float64, as SciPy does;
* float16 is computed in float32 and the result returned as float16 (half precision would
  lose the normaliser's accuracy; PyTorch's ``dtype=`` argument does the same);
* longdouble is computed in longdouble by the NumPy reference kernels;
* a non-native byte order (``>f8`` on a little-endian machine) is computed, and returned, in
  the native one, as NumPy's ufuncs and SciPy return it;
* anything else (complex, strings, objects) is refused with a ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .._backend import use_backend
from ..autograd.shapes import from_rows, normalize_axes, reduced_shape, to_rows

_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def compute_dtype(dtype: np.dtype, op: str) -> tuple[np.dtype, np.dtype]:
    """Return ``(compute dtype, result dtype)`` for input ``dtype`` under the dtype policy.

    Both are in the native byte order: a big-endian ``>f8`` input is computed (on the fast
    kernels, which take native float32 and float64 only) and returned as native float64.
    """
    if dtype.kind in "biu":
        return np.dtype(np.float64), np.dtype(np.float64)
    if dtype.kind == "f":
        native = dtype.newbyteorder("=")
        if native == np.float16:
            return np.dtype(np.float32), native
        return native, native
    raise TypeError(
        f"{op} needs real numeric input (bool, integer or floating point), got dtype {dtype}."
    )


class Rows(NamedTuple):
    """An array viewed as ``(rows, classes)`` in its compute dtype, and how to undo the view."""

    x2: np.ndarray | None  # (rows, classes), compute dtype, C-contiguous; None in a layout
    moved_shape: tuple[int, ...]  # the input's shape with the class axes moved last
    axes: tuple[int, ...]  # the normalised class axes
    shape: tuple[int, ...]  # the input's shape
    dtype: np.dtype  # the result dtype

    def layout(self) -> Rows:
        """The same view without the input's values (``x2 = None``): what a backward that only
        needs :meth:`restore` and :meth:`reduced` keeps, so that its node holds nothing of the
        input (an optimizer step on it then leaves the node valid: engine.check_unmodified)."""
        return self._replace(x2=None)

    def restore(self, y2: np.ndarray) -> np.ndarray:
        """Put a ``(rows, classes)`` result back into the input's layout (a view if possible)."""
        return from_rows(y2, self.moved_shape, self.axes, len(self.shape))

    def reduced(self, keepdims: bool) -> tuple[int, ...]:
        """The shape of a per-row reduction (one value per row)."""
        return reduced_shape(self.shape, self.axes, keepdims)


def as_rows(x: np.ndarray, axis: Any, op: str) -> Rows:
    """View ``x`` as C-contiguous ``(rows, classes)`` rows along ``axis`` (int, tuple or None)."""
    work, result = compute_dtype(x.dtype, op)
    axes = normalize_axes(axis, x.ndim, op)
    x = x.astype(work, copy=False)
    if x.ndim and axes == (x.ndim - 1,) and x.flags.c_contiguous:
        # The common case, kept cheap: class axis last and contiguous, so a plain reshape.
        rows = x.size // x.shape[-1] if x.shape[-1] else int(np.prod(x.shape[:-1]))
        return Rows(x.reshape(rows, x.shape[-1]), x.shape, axes, x.shape, result)
    x2, moved_shape = to_rows(x, axes)
    return Rows(x2, moved_shape, axes, x.shape, result)


def _direct_out(out: np.ndarray | None, shape: tuple[int, ...], r: Rows, op: str) -> bool:
    """Check ``out`` and say whether the kernel may write straight into it."""
    if out is None:
        return False
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{op}: out must be a NumPy array, got {type(out).__name__}.")
    if not out.flags.writeable:
        # Checked here, as NumPy's ufuncs do ("output array is read-only"): a compiled kernel
        # would otherwise fail to compile for it, with a Numba TypingError.
        raise ValueError(f"{op}: out is read-only; pass a writeable array.")
    if out.shape != shape:
        raise ValueError(f"{op}: out has shape {out.shape}, expected {shape}.")
    if not np.can_cast(r.dtype, out.dtype, casting="same_kind"):
        raise TypeError(f"{op}: cannot write a {r.dtype} result into out of dtype {out.dtype}.")
    trailing = r.axes == tuple(range(len(r.shape) - len(r.axes), len(r.shape)))
    if not (trailing and out.flags.c_contiguous and out.dtype == r.x2.dtype == r.dtype):
        return False
    # In place (out is the input) is fine: the kernels allow out to alias x.  A partial overlap
    # is not, so it goes through a temporary.
    return not np.may_share_memory(out, r.x2) or (
        out.__array_interface__["data"][0] == r.x2.__array_interface__["data"][0]
        and out.size == r.x2.size
    )


def map_rows(
    kernel: Callable[[np.ndarray, np.ndarray], np.ndarray],
    x: np.ndarray,
    axis: Any,
    op: str,
    out: np.ndarray | None = None,
    reduce: bool = False,
    keepdims: bool = False,
    keep_input: bool = False,
) -> tuple[np.ndarray, Rows, np.ndarray]:
    """Run a row kernel ``kernel(x2, y2)`` on ``x`` along ``axis``.

    Returns the result (in ``out`` if given), the :class:`Rows` of the input (its
    :meth:`~Rows.layout` only, unless ``keep_input``: a backward that reads the input's values
    asks for them), and the kernel's raw ``(rows, classes)`` (or ``(rows,)`` when ``reduce``)
    output in the compute dtype, which a backward may save.
    """
    r = as_rows(x, axis, op)
    n_rows = r.x2.shape[0]
    shape = r.reduced(keepdims) if reduce else r.shape
    direct = _direct_out(out, shape, r, op)
    if direct:
        y2 = out.reshape(n_rows) if reduce else out.reshape(r.x2.shape)
    else:
        y2 = np.empty(n_rows if reduce else r.x2.shape, dtype=r.x2.dtype)
    run_kernel(kernel, r.x2, y2)
    kept = r if keep_input else r.layout()
    if direct:
        return out, kept, y2
    y = y2.reshape(shape) if reduce else r.restore(y2)
    # A down-cast (float32 to float16, or into a narrower out) may overflow to inf: that is
    # the rounded value, as reference._store says, and no RuntimeWarning escapes (design.md).
    with np.errstate(over="ignore"):
        y = y.astype(r.dtype, copy=False)
        if out is None:
            return y, kept, y2
        np.copyto(out, y, casting="same_kind")
    return out, kept, y2


def map_rows_vjp(
    kernel: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    saved2: np.ndarray,
    g: np.ndarray,
    r: Rows,
) -> np.ndarray:
    """Run a row VJP kernel ``kernel(saved2, g2, dx2)``; ``g`` has the forward output's shape."""
    # In the saved (compute) dtype: a float16 g meets a float32 kernel, for a 0-d g too
    # (to_rows views it as one row of one class).
    g2, _ = to_rows(np.asarray(g).astype(saved2.dtype, copy=False), r.axes)
    dx2 = np.empty_like(saved2)
    run_kernel(kernel, saved2, g2, dx2)
    return r.restore(dx2)


def run_kernel(kernel: Callable[..., np.ndarray], *arrays: np.ndarray) -> np.ndarray:
    """``kernel(*arrays)`` on the active backend, or on NumPy's for extended precision."""
    if arrays[0].dtype in _FAST_DTYPES:
        return kernel(*arrays)
    with use_backend("numpy"):  # extended precision: only the NumPy twins are generic
        return kernel(*arrays)
