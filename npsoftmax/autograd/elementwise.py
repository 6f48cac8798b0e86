"""Elementwise primitives: ``Function`` subclasses with hand-written VJPs.

Legend: ``x`` is the input, ``out`` the forward result, ``g`` the gradient flowing back (shaped
like ``out``).  Zeros are routed with ``np.where(mask, g, 0)``, never ``g * mask``: an inf or
NaN in ``g`` where the mask is off must give exactly 0, not ``inf * 0 = NaN``.

The NumPy-named functions (exp, log, tanh) follow NumPy's dtype rules; sigmoid and selu, which
NumPy lacks, compute integer and boolean input in float64 (as SciPy's ``expit`` does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .function import Function
from .tensor import Tensor

# SELU's constants (Klambauer et al., "Self-Normalizing Neural Networks", arXiv 1706.02515).
SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def _as_float(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) if x.dtype.kind in "biu" else x


class ExpFunction(Function):
    """``exp(x)`` (**primitive**)."""

    op = "exp"  # the name its errors give it

    @np.errstate(all="ignore")
    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.exp(x)
        # exp is its own derivative: saving the output costs nothing and spares a second exp.
        self.save_for_backward(out)
        return out

    @np.errstate(all="ignore")
    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # exp VJP: dx = g * exp(x) = g * out
        (out,) = self.saved_arrays
        return (g * out,)


class LogFunction(Function):
    """Natural logarithm ``log(x)`` (**primitive**)."""

    op = "log"  # the name its errors give it

    @np.errstate(all="ignore")
    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.log(x)

    @np.errstate(all="ignore")
    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # log VJP: dx = g / x
        (x,) = self.saved_arrays
        return (g / x,)


class TanhFunction(Function):
    """Hyperbolic tangent ``tanh(x)`` (**primitive**)."""

    op = "tanh"  # the name its errors give it

    @np.errstate(all="ignore")
    def forward(self, x: np.ndarray) -> np.ndarray:
        out = np.tanh(x)
        # tanh' = 1 - tanh^2 is a function of the output: save it, not x.
        self.save_for_backward(out)
        return out

    @np.errstate(all="ignore")
    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # tanh VJP: dx = g * (1 - out^2)
        (out,) = self.saved_arrays
        return (g * (1 - out * out),)


class SigmoidFunction(Function):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, stable for any ``x`` (**primitive**)."""

    op = "sigmoid"  # the name its errors give it

    @np.errstate(all="ignore")
    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _as_float(x)
        # e = exp(-|x|) lies in [0, 1], so nothing overflows: for x >= 0 the sigmoid is
        # 1 / (1 + e); for x < 0 it is e / (1 + e), the same function rewritten.
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        # sigmoid' = out * (1 - out) is a function of the output: save it, not x.
        self.save_for_backward(out)
        return out

    @np.errstate(all="ignore")
    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # sigmoid VJP: dx = g * out * (1 - out)
        (out,) = self.saved_arrays
        return (g * (out * (1 - out)),)


class ReluFunction(Function):
    """Rectified linear unit ``max(x, 0)`` (**primitive**).

    The gradient is 0 where ``x <= 0`` (so 0 at ``x = 0``) and ``g`` elsewhere, NaN included:
    PyTorch's ``threshold_backward`` tests ``x <= 0``, and a NaN input passes its gradient on.
    """

    op = "relu"  # the name its errors give it

    def forward(self, x: np.ndarray) -> np.ndarray:
        # A boolean mask is all the backward needs, and is 4-8 times smaller than x.  It is
        # x <= 0, not ~(x > 0): the two differ exactly at NaN, where PyTorch passes g.
        if self.needs_input_grad[0]:
            self.save_for_backward(x <= 0)
        return np.maximum(x, 0)

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # relu VJP: dx = 0 where x <= 0, else g (also at NaN)
        (blocked,) = self.saved_arrays
        return (np.where(blocked, 0, g),)


class SeluFunction(Function):
    """Scaled exponential linear unit (**primitive**).

    ``selu(x) = lambda * x`` for ``x > 0`` and ``lambda * alpha * (exp(x) - 1)`` otherwise.
    The backward tests ``x <= 0``, as PyTorch's ``elu_backward`` does, so NaN gets the slope
    ``lambda`` (not ``exp(NaN) = NaN``).
    """

    op = "selu"  # the name its errors give it

    @np.errstate(all="ignore")
    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _as_float(x)
        # Save x, not out: recovering exp(x) as out / lambda + alpha cancels catastrophically
        # for very negative x, where the true derivative is tiny.
        self.save_for_backward(x)
        # expm1 of min(x, 0): exact for small |x|, and the unused branch never sees a large
        # positive x, so exp cannot overflow.
        negative_part = SELU_ALPHA * np.expm1(np.minimum(x, 0))
        return SELU_LAMBDA * np.where(x > 0, x, negative_part)

    @np.errstate(all="ignore")
    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # selu VJP: dx = g * lambda * alpha * exp(x) (x <= 0), g * lambda otherwise (NaN too)
        (x,) = self.saved_arrays
        slope = np.where(x <= 0, (SELU_LAMBDA * SELU_ALPHA) * np.exp(np.minimum(x, 0)), SELU_LAMBDA)
        return (g * slope,)


class WhereFunction(Function):
    """``x`` where ``cond`` holds, else ``y`` (**primitive**; ``cond`` is a constant)."""

    op = "where"  # the name its errors give it

    def forward(self, x: np.ndarray, y: np.ndarray, *, cond: Any) -> np.ndarray:
        self.cond = np.asarray(cond, dtype=bool)
        try:
            return np.where(self.cond, x, y)
        except ValueError:
            raise ValueError(
                f"where: shapes {self.cond.shape} (cond), {x.shape} (x) and {y.shape} (y) do "
                f"not broadcast."
            ) from None

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # where VJP: dx = where(cond, g, 0), dy = where(cond, 0, g).  Routing zeros (rather
        # than g * cond) keeps the untaken branch's gradient exactly 0 even where g is inf/NaN.
        dx_needed, dy_needed = self.needs_input_grad
        return (
            np.where(self.cond, g, 0) if dx_needed else None,
            np.where(self.cond, 0, g) if dy_needed else None,
        )


def clip_bound(value: Any) -> Any:
    """Return a bound of ``clip`` ready for dispatch, or raise ``TypeError`` if it is no number.

    A Tensor stays a Tensor (a differentiable input).  A constant 0-d bound becomes a Python
    scalar: a NumPy ``float64`` scalar would promote float32 ``x`` to float64 (NEP 50), a
    Python scalar is weak and takes ``x``'s dtype.
    """
    if value is None or isinstance(value, Tensor):
        return value
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"clip: bounds must be numbers, arrays, Tensors or None, got {value!r}.")
    return arr.item() if arr.ndim == 0 else arr


class ClipFunction(Function):
    """``x`` limited to ``[lo, hi]`` (**primitive**; the bounds are inputs too).

    The inputs are ``x`` and then the bounds that were given, named in order by ``sides``
    (``("lo", "hi")``, ``("lo",)``, ``("hi",)`` or ``()``); a missing bound leaves its side
    open.  The gradients follow PyTorch's ``clamp`` (``clamp_backward_min_max``): ``x`` gets
    ``g`` where ``lo <= x <= hi``, boundaries included; ``lo`` gets it where ``x < lo`` and
    ``hi`` where ``x > hi``.  When ``lo > hi`` the result is ``hi`` everywhere (as in
    ``np.clip``), so ``hi`` gets all of ``g``.  Every comparison with NaN is False, so a NaN in
    ``x`` or in a bound (which makes the result NaN) sends no gradient anywhere.
    """

    op = "clip"  # the name its errors give it

    def forward(self, x: np.ndarray, *bounds: np.ndarray, sides: tuple[str, ...] = ()) -> Any:
        named = dict(zip(sides, bounds))
        lo, hi = named.get("lo"), named.get("hi")
        try:
            out = x.copy() if lo is None and hi is None else np.clip(x, lo, hi)
        except ValueError:
            given = zip(("x", *sides), (x, *bounds))
            shapes = ", ".join(f"{np.shape(a)} ({name})" for name, a in given)
            raise ValueError(f"clip: shapes {shapes} do not broadcast.") from None
        # Boolean masks are all the backward needs (4-8 times smaller than the values).
        needed = dict(zip(("x", *sides), self.needs_input_grad))
        masks = {}
        if needed["x"]:
            inside = np.ones(x.shape, dtype=bool) if lo is None else x >= lo
            masks["x"] = inside if hi is None else inside & (x <= hi)
        if needed.get("lo"):
            masks["lo"] = (x < lo) if hi is None else (x < lo) & (lo < hi)
        if needed.get("hi"):
            masks["hi"] = (x > hi) if lo is None else (x > hi) | (hi < lo)
        self.save_for_backward(*(masks.get(name) for name in ("x", *sides)))
        return out

    def backward(self, g: np.ndarray) -> tuple[Any, ...]:
        # clip VJP: dx = g where lo <= x <= hi; dlo = g where x < lo < hi; dhi = g where
        # x > hi or hi < lo; 0 elsewhere.  Zeros are routed, so an inf/NaN g stays put.
        return tuple(None if m is None else np.where(m, g, 0) for m in self.saved_arrays)
