"""``Tensor``: a NumPy array that remembers how it was made, and the engine that differentiates it.

Legend: ``g`` is a gradient flowing backwards; a *node* is the :class:`Function` instance that
produced a Tensor (``t._ctx``); a *leaf* is a Tensor made by the user (no node).

``backward`` hands the graph to :func:`~npsoftmax.autograd.engine.backpropagate`, which walks it
in reverse topological order and accumulates (``+=``) into the ``.grad`` of leaves.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .engine import backpropagate
from .protocols import GRAD_ARRAY_CALLS, PythonProtocols


def _check_numeric(data: np.ndarray, what: str = "Tensor data") -> None:
    if data.dtype.kind not in "biuf":
        raise TypeError(
            f"{what} must be numeric (bool, integer or floating point), got an array of "
            f"dtype {data.dtype}."
        )


class Tensor(PythonProtocols):
    """An n-dimensional array with an optional gradient, wired into a reverse-mode graph.

    Parameters
    ----------
    data : array_like
        The values; a NumPy array is used as it is (no copy), anything else goes through
        :func:`numpy.asarray`.  Must be numeric.
    requires_grad : bool, default False
        Whether gradients with respect to this Tensor are wanted; needs a floating dtype.
    dtype : numpy dtype, optional
        Convert the data to this dtype.

    Raises
    ------
    TypeError
        If ``data`` is not numeric (strings, objects), or ``requires_grad`` is set on
        non-floating data.

    Notes
    -----
    An optimizer step changes ``data`` in place and counts the change in ``_version``; a graph
    recorded before the step whose backward needs the old values then raises ``RuntimeError``
    instead of differentiating at the new ones (PyTorch's check).  Writing into ``data``
    yourself is not counted, as PyTorch's ``.data`` is not.

    ``==`` is identity; ``<``, ``<=``, ``>``, ``>=`` give boolean arrays.  Truth, ``len``,
    iteration (differentiable rows), ``in`` (by value), ``float``, ``int`` and ``index`` come
    from :class:`~npsoftmax.autograd.protocols.PythonProtocols`.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> x = nps.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([[2., 4.],
           [6., 8.]])
    """

    # NumPy defers binary operators to us (``array + tensor`` calls ``Tensor.__radd__``) and
    # refuses to apply ufuncs to a Tensor silently; ``np.asarray(t)`` still works.
    __array_ufunc__ = None

    def __init__(
        self, data: Any, requires_grad: bool = False, dtype: Any = None, _ctx: Any = None
    ) -> None:
        if isinstance(data, Tensor):
            data = data.data
        arr = np.asarray(data, dtype=dtype)
        _check_numeric(arr)
        if requires_grad and arr.dtype.kind != "f":
            raise TypeError(
                f"Only floating-point Tensors can require gradients, got dtype {arr.dtype}."
            )
        self.data: np.ndarray = arr
        self.grad: np.ndarray | None = None
        self.requires_grad: bool = bool(requires_grad)
        self._ctx = _ctx
        self._retain_grad = False
        # In-place changes of ``data`` counted by whoever makes them (optimizer steps), so that
        # a graph whose backward reads the old values refuses to run (engine.check_unmodified).
        # One counter in a list, so that a view (Function.apply) shares its base's.
        self._versions = [0]

    @property
    def _version(self) -> int:
        """How many times ``data`` (or an array it is a view of) was changed in place."""
        return self._versions[0]

    @_version.setter
    def _version(self, value: int) -> None:
        self._versions[0] = value

    # -- array-like attributes ---------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data``."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions of ``data``."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The dtype of ``data``."""
        return self.data.dtype

    @property
    def size(self) -> int:
        """The number of elements of ``data``."""
        return self.data.size

    @property
    def T(self) -> Tensor:
        """The Tensor with its axes reversed (differentiable), like ``ndarray.T``."""
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        """Whether this Tensor was made by the user rather than by an op."""
        return self._ctx is None

    def item(self) -> float | int | bool:
        """Return the single element as a Python scalar."""
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a Tensor with exactly one element, got shape {self.shape}."
            )
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """Return the underlying array (shared, not copied), like ``torch.Tensor.numpy``."""
        return self.data

    def detach(self) -> Tensor:
        """Return a Tensor sharing ``data`` (and its version counter, as in PyTorch) but cut from
        the graph (no gradient flows)."""
        out = Tensor(self.data)
        out._versions = self._versions
        return out

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` for this non-leaf Tensor too during ``backward``; returns ``self``."""
        self._retain_grad = True
        return self

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype not in (np.float64, np.int64, np.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{type(self._ctx).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # -- the engine ------------------------------------------------------------------------
    def backward(self, grad: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires it.

        Parameters
        ----------
        grad : array_like, optional
            The upstream gradient, of this Tensor's shape.  May be omitted only when the
            Tensor has exactly one element (then it is 1).

        Raises
        ------
        RuntimeError
            If this Tensor does not require a gradient, or ``grad`` is omitted for a Tensor
            with more than one element.
        ValueError
            If ``grad`` has the wrong shape, or an op's backward returns a gradient whose
            shape does not match its input (the message names the op).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a Tensor that does not require grad: no input of the "
                "computation had requires_grad=True (or it ran under no_grad())."
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient is only defined for a Tensor with one "
                    f"element; this one has shape {self.shape}. Pass grad= with that shape "
                    f"(e.g. t.backward(np.ones(t.shape))) or reduce it first (t.sum())."
                )
            grad = np.ones(self.shape, dtype=self.dtype)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward(): grad has shape {grad.shape} but the Tensor has shape "
                    f"{self.shape}."
                )
            grad = grad.astype(self.dtype, copy=False)

        with np.errstate(all="ignore"):  # inf/NaN gradients propagate silently, as in PyTorch
            backpropagate(self, grad)

    def _accumulate(self, g: np.ndarray, owned: bool = False) -> None:
        """Add ``g`` to ``.grad``; ``owned``: no one else refers to ``g``, keep it uncopied."""
        if self.grad is None:
            keep = owned and g.dtype == self.dtype and g.flags.writeable
            self.grad = g if keep else np.array(g, dtype=self.dtype, copy=True)
        else:
            self.grad += g

    # -- operators: each is the NumPy-named function of ops.py ----------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.subtract(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.subtract(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.multiply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.multiply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.divide(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.divide(other, self)

    def __pow__(self, exponent: Any) -> Tensor:
        return _ops.power(self, exponent)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.negative(self)

    def __pos__(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    # -- methods that mirror ndarray's ---------------------------------------------------------
    # ``np.sum(t)``, ``np.mean(t)`` and ``np.max(t)`` call these methods with ``dtype=None`` and
    # ``out=None``, so the methods take those keywords (and only their defaults).
    def sum(
        self, axis: Any = None, keepdims: bool = False, *, dtype: Any = None, out: Any = None
    ) -> Tensor:
        """Sum over ``axis`` (all axes by default); see :func:`npsoftmax.sum`."""
        _refuse_numpy_extras("sum", dtype=dtype, out=out)
        return _ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(
        self, axis: Any = None, keepdims: bool = False, *, dtype: Any = None, out: Any = None
    ) -> Tensor:
        """Mean over ``axis`` (all axes by default); see :func:`npsoftmax.mean`."""
        _refuse_numpy_extras("mean", dtype=dtype, out=out)
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False, *, out: Any = None) -> Tensor:
        """Maximum over ``axis`` (all axes by default); see :func:`npsoftmax.max`."""
        _refuse_numpy_extras("max", out=out)
        return _ops.max(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        """Return the Tensor with a new shape (``t.reshape(2, 3)`` or ``t.reshape((2, 3))``)."""
        if len(shape) == 1 and not isinstance(shape[0], numbers.Integral):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute the axes (reverse them by default), like ``ndarray.transpose``."""
        if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], numbers.Integral)):
            axes = axes[0]
        return _ops.transpose(self, axes if axes != () else None)


def _refuse_numpy_extras(op: str, **extras: Any) -> None:
    """Raise ``TypeError`` for a NumPy-only keyword (``dtype=``, ``out=``) that is not None."""
    for name, value in extras.items():
        if value is not None:
            raise TypeError(
                f"Tensor.{op}() does not support {name}= (got {value!r}): a Tensor result keeps "
                f"its input's dtype and owns its memory. Call nps.{op}(t) without it for a "
                f"differentiable result, or np.{op}(t.data, {name}=...) for a NumPy array."
            )


def as_tensor(x: Any) -> Tensor:
    """Return ``x`` if it is a Tensor, else a constant Tensor (no gradient) holding it."""
    if isinstance(x, Tensor):
        return x
    return Tensor(asarray_attached(x, "An op's input"))


def is_python_scalar(x: Any) -> bool:
    """Whether ``x`` is a Python ``bool``, ``int`` or ``float`` (not a NumPy scalar)."""
    return isinstance(x, (bool, int, float)) and not isinstance(x, np.generic)


def weak_scalar(value: bool | int | float, like: Any) -> np.ndarray:
    """The Python scalar ``value`` as a 0-d array of the dtype NumPy gives it beside ``like``
    (dtypes or arrays; NEP 50: a Python scalar is "weak", so ``float32 * 2.0`` stays float32).

    Unless that dtype cannot hold it: a float the dtype would make ``inf``, ``0`` or subnormal
    (``1e5`` or ``1e-5`` beside float16), or an int out of an integer dtype's range, keeps its
    own dtype (float64, int64), which promotes the result, where NumPy would compute with
    ``inf`` (and warn) or raise: the answer is right, in a wider dtype.
    """
    dtype = np.result_type(*like, value)
    finite = isinstance(value, int) or math.isfinite(value)
    if dtype.kind == "f" and not isinstance(value, bool) and value != 0 and finite:
        info = np.finfo(dtype)
        if not float(info.smallest_normal) <= abs(value) <= float(info.max):
            return np.asarray(value)
    elif dtype.kind in "iu" and not isinstance(value, bool):
        info = np.iinfo(dtype)
        if not info.min <= value <= info.max:
            return np.asarray(value)
    return np.asarray(value, dtype=dtype)


def asarray_attached(value: Any, what: str) -> np.ndarray:
    """``np.asarray(value)``, refusing (``TypeError``) a list or tuple that holds a Tensor that
    requires grad: as an array it would silently lose that Tensor's gradient.

    NumPy converts such a Tensor through its ``__array__``, which counts the conversions of
    Tensors that require grad (``protocols.GRAD_ARRAY_CALLS``): no walk over the list.
    """
    if not isinstance(value, (list, tuple)):
        return np.asarray(value)
    before = getattr(GRAD_ARRAY_CALLS, "count", 0)
    arr = np.asarray(value)
    if getattr(GRAD_ARRAY_CALLS, "count", 0) != before:
        raise TypeError(
            f"{what} is a {type(value).__name__} holding a Tensor that requires grad; as an "
            f"array it would lose its gradient. Combine Tensors with nps.stack or "
            f"nps.concatenate, which keep them in the graph."
        )
    return arr


def as_operand(value: Any, like: Tensor) -> Tensor:
    """Turn the other operand of an op with a Tensor input into a Tensor.

    A Python scalar is weak (NEP 50): it takes the dtype NumPy gives it next to ``like``, so
    that ``float32_tensor * 2.0`` stays float32 (see :func:`weak_scalar`).  So is a NumPy
    scalar next to a float Tensor, as in PyTorch: ``float32_tensor / np.sqrt(2)`` stays
    float32, where NumPy would promote to float64.  Next to an integer or bool Tensor a NumPy
    scalar keeps NumPy's rule (``int8_tensor * np.float32(0.5)`` is float32); arrays keep
    their own dtype.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.generic) and like.dtype.kind == "f" and value.dtype.kind in "biuf":
        value = value.item()
    if is_python_scalar(value):
        return Tensor(weak_scalar(value, (like.data,)))
    arr = asarray_attached(value, "The other operand")
    _check_numeric(arr, "The other operand")
    return Tensor(arr)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Make a leaf :class:`Tensor` from array-like ``data`` (copied, like ``torch.tensor``).

    Parameters
    ----------
    data : array_like
        Numeric values.
    requires_grad : bool, default False
        Track gradients with respect to this Tensor.
    dtype : numpy dtype, optional
        The dtype; NumPy's default inference otherwise.

    Returns
    -------
    Tensor

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.tensor([1, 2, 3], dtype=np.float32)
    tensor([1., 2., 3.], dtype=float32)
    """
    if isinstance(data, Tensor):
        data = data.data
    return Tensor(np.array(data, dtype=dtype, copy=True), requires_grad=requires_grad)


from . import ops as _ops  # noqa: E402  (ops need Tensor defined first)
