"""The one dispatch point: NumPy in gives NumPy out, a Tensor in gives a Tensor out.

Every public function (``npsoftmax.exp``, ``npsoftmax.softmax``, ...) is a one-line call of
:func:`dispatch` with its :class:`~npsoftmax.autograd.function.Function` class:

* if any input is a :class:`~npsoftmax.autograd.tensor.Tensor`, the op runs through
  ``Function.apply`` and its result joins the graph (other inputs become constants; a Python
  scalar takes the Tensor's dtype as NumPy would, so float32 stays float32);
* otherwise the op's ``forward`` runs directly on the arrays, with no graph and no Tensor, as
  ``scipy.special`` would; only this path takes ``out=``, as NumPy's ufuncs do;
* if an input is a ``dask.array.Array``, :mod:`npsoftmax._dask` maps the op lazily over its
  blocks and returns a dask array (dask is recognised by its type's module, never imported here).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Tensor, as_operand, asarray_attached, is_python_scalar, weak_scalar


def as_array(x: Any, name: str = "input") -> np.ndarray:
    """Return ``x`` as a numeric NumPy array, or raise ``TypeError`` naming what it got (or a
    list holding a Tensor that requires grad, whose gradient the array would lose)."""
    arr = asarray_attached(x, name)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be a numeric array or Tensor, got {type(x).__name__} (dtype {arr.dtype})."
        )
    return arr


def _op_name(fn_cls: type) -> str:
    """The name an error message gives the op: its class's ``op`` if it sets one, else the
    class's own name (``SoftmaxFunction``, the graph op that ``softmax`` runs)."""
    op = getattr(fn_cls, "op", None)
    return op if isinstance(op, str) and op else fn_cls.__name__


def _as_arrays(inputs: tuple[Any, ...], op: str) -> tuple[np.ndarray, ...]:
    """Arrays for the inputs; a Python scalar takes the dtype NumPy gives it beside the arrays
    (NEP 50: ``float32_array * 2.0`` stays float32), as it would in ``np.multiply``."""
    arrays = [None if is_python_scalar(x) else as_array(x, f"{op}'s input") for x in inputs]
    dtypes = [a.dtype for a in arrays if a is not None]
    return tuple(a if a is not None else weak_scalar(x, dtypes) for a, x in zip(arrays, inputs))


def dispatch(fn_cls: type, *inputs: Any, out: np.ndarray | None = None, **params: Any) -> Any:
    """Run ``fn_cls`` on ``inputs``: Tensor in gives Tensor out, array in gives array out.

    Parameters
    ----------
    fn_cls : type
        A :class:`~npsoftmax.autograd.function.Function` subclass.
    *inputs
        The differentiable inputs: Tensors, arrays or scalars.
    out : numpy.ndarray, optional
        Where to write the result; NumPy input only (the graph owns a Tensor's memory).
    **params
        Non-differentiable parameters passed to ``forward`` as keywords.
    """
    if any(type(x).__module__.startswith("dask.") for x in inputs):
        from .._dask import dispatch_dask  # only reached once the caller has imported dask

        return dispatch_dask(fn_cls, *inputs, out=out, **params)
    like = next((x for x in inputs if isinstance(x, Tensor)), None)
    if like is not None:
        if out is not None:
            raise TypeError(
                "out= is only supported for NumPy input; a Tensor result owns its memory "
                "(call the function on the arrays, e.g. x.data, to write into out)."
            )
        return fn_cls.apply(*(as_operand(x, like) for x in inputs), **params)
    arrays = _as_arrays(inputs, _op_name(fn_cls))
    fn = fn_cls()
    fn.needs_input_grad = (False,) * len(arrays)
    if out is not None:
        params["out"] = out
    return fn.forward(*arrays, **params)
