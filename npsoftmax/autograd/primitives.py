"""Arithmetic primitives: ``Function`` subclasses with hand-written VJPs.

Legend: ``x``, ``y`` (``a``, ``b`` for matmul) are the inputs, ``out`` the forward result, ``g``
the gradient flowing back, shaped like ``out``.  A backward returns gradients at the *output's*
broadcast shape: the engine (``Tensor.backward``) sums them down to each input's shape and casts
them to each input's dtype, so no op here unbroadcasts or casts.  A backward returns ``None`` for
an input whose gradient is not needed (``needs_input_grad``), and a forward saves only what that
backward will read.

Overflow, division by zero and invalid operations give their IEEE results (inf, NaN) silently,
as in PyTorch: every method that does float arithmetic runs under ``np.errstate(all="ignore")``,
because the project's policy is that no RuntimeWarning escapes any function.

Elementwise functions (exp, log, ...) are in :mod:`.elementwise`, reductions in
:mod:`.reductions`, shape and indexing ops in :mod:`.structural`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .function import Function
from .tensor import Tensor


def _broadcasting(ufunc: np.ufunc, op: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Apply a binary ufunc; a broadcasting failure names the op and both shapes."""
    try:
        return ufunc(x, y)
    except ValueError:
        # For numeric arrays the only ValueError a binary arithmetic ufunc raises is this one.
        raise ValueError(
            f"{op}: shapes {np.shape(x)} and {np.shape(y)} do not broadcast."
        ) from None


class AddFunction(Function):
    """``x + y`` with NumPy broadcasting (**primitive**)."""

    op = "add"  # the name its errors give it

    @np.errstate(all="ignore")
    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return _broadcasting(np.add, "add", x, y)

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # add VJP: dx = g, dy = g  (the engine sums the axes that broadcasting stretched)
        return g, g


class SubFunction(Function):
    """``x - y`` with NumPy broadcasting (**primitive**)."""

    op = "subtract"  # the name its errors give it

    @np.errstate(all="ignore")
    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return _broadcasting(np.subtract, "subtract", x, y)

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # subtract VJP: dx = g, dy = -g
        return g, (-g if self.needs_input_grad[1] else None)


class MulFunction(Function):
    """``x * y`` with NumPy broadcasting (**primitive**)."""

    op = "multiply"  # the name its errors give it

    @np.errstate(all="ignore")
    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        # dx needs only y and dy only x: keep the one(s) a backward will read.
        dx_needed, dy_needed = self.needs_input_grad
        self.save_for_backward(y if dx_needed else None, x if dy_needed else None)
        return _broadcasting(np.multiply, "multiply", x, y)

    @np.errstate(all="ignore")
    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # multiply VJP: dx = g * y, dy = g * x
        y, x = self.saved_arrays
        return (None if y is None else g * y), (None if x is None else g * x)


class DivFunction(Function):
    """``x / y`` (true division) with NumPy broadcasting (**primitive**)."""

    op = "divide"  # the name its errors give it

    @np.errstate(all="ignore")
    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = _broadcasting(np.true_divide, "divide", x, y)
        # dy = -g x / y^2 = -g * (out / y): saving out instead of x avoids squaring y (which
        # can overflow where x / y does not).  PyTorch's order: where x = 0 it gives -0, not
        # the NaN of (g / y) * out when g / y overflows.
        self.save_for_backward(y, out if self.needs_input_grad[1] else None)
        return out

    @np.errstate(all="ignore")
    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # divide VJP: dx = g / y, dy = -g * x / y^2 = -g * (out / y)
        y, out = self.saved_arrays
        return g / y, (None if out is None else -g * (out / y))


def scalar_exponent(exponent: Any) -> int | float:
    """Return ``exponent`` as a Python scalar, or raise ``TypeError`` if it is not one.

    Any real number is accepted (``numbers.Real``: a Python or NumPy int or float, a
    ``Fraction``; also a numeric 0-d array), but not a bool (``x ** True`` is almost surely a
    mistake) and not a Tensor.  A Python scalar is "weak" in NumPy's promotion (NEP 50), so
    ``float32 ** 2.0`` stays float32; a NumPy ``float64`` scalar would promote the result to
    float64, so NumPy scalars become Python ones.  A Python int is kept exactly, however large
    (``2**70`` is an object array to ``np.asarray``, but ``np.power`` takes it).
    """
    if isinstance(exponent, Tensor):
        raise TypeError(
            "power: the exponent must be a scalar constant, got a Tensor; a differentiable "
            "exponent is not supported (for x > 0 write exp(y * log(x)))."
        )
    if isinstance(exponent, np.ndarray) and exponent.ndim == 0:
        exponent = exponent[()]  # a 0-d array is the NumPy scalar it holds
    if isinstance(exponent, (bool, np.bool_)) or not isinstance(exponent, numbers.Real):
        raise TypeError(
            f"power: the exponent must be a real scalar (int or float, not bool), got "
            f"{type(exponent).__name__} {exponent!r}."
        )
    if isinstance(exponent, np.generic):
        return exponent.item()
    return exponent if isinstance(exponent, (int, float)) else float(exponent)


class PowFunction(Function):
    """``x ** p`` for a constant scalar exponent ``p`` (**primitive**)."""

    op = "power"  # the name its errors give it

    @np.errstate(all="ignore")
    def forward(self, x: np.ndarray, *, exponent: Any) -> np.ndarray:
        self.exponent = scalar_exponent(exponent)
        self.save_for_backward(x)
        return np.power(x, self.exponent)

    @np.errstate(all="ignore")
    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # power VJP: dx = g * p * x^(p - 1)
        (x,) = self.saved_arrays
        p = self.exponent
        if p == 0:
            # x^0 = 1 is constant; p * x^(p-1) would give 0 * inf = NaN at x = 0 (PyTorch
            # returns 0 there too).
            return (np.zeros_like(g),)
        # At x = 0 with p < 1, x^(p - 1) = inf is the true (one-sided) derivative.  float16
        # works in float32 (the engine casts back): a large p is inf in float16, and
        # inf * 0.5^inf would give NaN where the true derivative underflows to 0.
        x = x.astype(np.promote_types(x.dtype, np.float32), copy=False)
        return (g * (p * np.power(x, p - 1)),)


class NegFunction(Function):
    """``-x`` (**primitive**)."""

    op = "negative"  # the name its errors give it

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.negative(x)

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # negative VJP: dx = -g
        return (-g,)


def _matmul_error(a: np.ndarray, b: np.ndarray) -> ValueError:
    """Explain why ``a @ b`` failed (called only after NumPy refused it)."""
    prefix = f"matmul: cannot multiply shapes {a.shape} and {b.shape}"
    if a.ndim == 0 or b.ndim == 0:
        return ValueError(f"{prefix}: both operands need at least one dimension (use multiply).")
    k_a, k_b = a.shape[-1], (b.shape[0] if b.ndim == 1 else b.shape[-2])
    if k_a != k_b:
        return ValueError(f"{prefix}: inner dimensions {k_a} and {k_b} differ.")
    return ValueError(
        f"{prefix}: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} do not broadcast."
    )


class MatMulFunction(Function):
    """``a @ b`` with NumPy's matmul rules (**primitive**).

    A 1-D ``a`` is treated as a row ``(1, k)`` and a 1-D ``b`` as a column ``(k, 1)``, and the
    added axis is dropped from the result; leading (batch) axes broadcast.
    """

    op = "matmul"  # the name its errors give it

    @np.errstate(all="ignore")
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        try:
            out = np.matmul(a, b)
        except ValueError:
            raise _matmul_error(a, b) from None
        # da needs b and db needs a; the ndims are kept to undo the 1-D promotion.
        da_needed, db_needed = self.needs_input_grad
        self.save_for_backward(a if db_needed else None, b if da_needed else None)
        self.ndims = (a.ndim, b.ndim)
        return out

    @np.errstate(all="ignore")
    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # matmul VJP: da = g @ b^T, db = a^T @ g, on the operands as the forward promoted them
        # (1-D a -> (1, k), 1-D b -> (k, 1)); the promoted axis is then dropped again, and the
        # batch axes that broadcasting added are summed by the engine.
        a, b = self.saved_arrays
        a_ndim, b_ndim = self.ndims
        # Put back the promoted axes, b's first: when both are 1-D, g is 0-d.
        if b_ndim == 1:
            g = np.expand_dims(g, -1)
        if a_ndim == 1:
            g = np.expand_dims(g, -2)
        da = db = None
        if b is not None:
            b2 = b[:, np.newaxis] if b_ndim == 1 else b
            da = np.matmul(g, np.swapaxes(b2, -1, -2))
            if a_ndim == 1:
                da = da[..., 0, :]
        if a is not None:
            a2 = a[np.newaxis, :] if a_ndim == 1 else a
            db = np.matmul(np.swapaxes(a2, -1, -2), g)
            if b_ndim == 1:
                db = db[..., :, 0]
        return da, db
