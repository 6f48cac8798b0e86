"""softmin and the temperature / logit-scaled softmax: composites over the primitives.

Legend: ``x`` logits, ``s`` a scale (inverse temperature), ``T`` a temperature, ``m`` the row
maximum (or minimum, for a negative scale), ``v = y * (g - <g, y>)`` the softmax VJP.

They are written as plain code over :mod:`npsoftmax.autograd.ops`, so the same lines serve NumPy
arrays (no graph) and Tensors (a learnable temperature gets its gradient); a dask array is
mapped over blocks (:func:`npsoftmax._dask.map_composite`).  The scaled logits are
``z = (x - m) * s``; when the entries span more than the float range, so that ``x - m`` could
overflow (``1e308 - -1e308``), they are computed as ``z = 2 * ((x/2 - m/2) * s)`` instead:
halving is exact (above the subnormals), so ``x/2 - m/2`` is ``(x - m)/2`` to the last bit
but never overflows, and scaling the half and doubling overflows only where the exact ``z`` is
below the float range, whose probability underflows to 0 anyway.  So
``softmax(10 * [1e308, 0])`` is ``[1, 0]`` (not the NaN of an overflowed ``10 * 1e308``) and
``softmax([1e308, -1e308] / 1e308)`` is ``softmax([1, -1])``.  ``m`` is a constant of the
graph, which changes no gradient because softmax is shift invariant, and the scale's gradient
``<x - m, v>`` is computed from the shifted logits, accurate at any offset.

Accuracy: ``z`` rounded (twice: ``x - m``, then the factor) has an absolute error up to
``|z| eps``, which exp turns into up to ``|z|`` ulps of a probability (hundreds for
``|z| ~ 700``).  float16 and float32 logits are therefore computed in float64, where ``x - m``
is exact and any finite factor a normal number (a temperature of 1e-50, a scale of 1e5 for
float16), and rounded once; for float64 logits the exact rest ``lo`` of ``z`` (TwoSum for
``x - m``, Veltkamp and Dekker for the product) is carried into the final softmax, which
computes ``softmax(z + lo)`` as ``y (1 + lo) / (1 + <y, lo>)``.  A factor of exactly 1 is
:func:`~npsoftmax.softmax` itself.  Measured against a 50-digit oracle of ``softmax(s * x)``
(the float inputs and the float64 factor taken as exact) on rows of scale 100 and spreads up
to 700 (float64) and 87 (float32): at most 3 ulps in float64 and 0.5 ulp in float32 (1.4,
softmax's own kernel, for a factor of 1), where the rounded ``z`` gave up to 1149 and 142.

Cost: the composite's steps are NumPy passes, and its float64 intermediates (for float32
logits, each twice the input's size) are held by the graph of a Tensor input: a float32
Tensor's forward holds about 9 times the input's bytes (3 before the float64 work), and a
general factor takes 1.4 to 2.5 times the time of the rounded version.  A factor of exactly 1
costs what softmax costs.  A fused op with row-blocked kernels would remove both costs.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from functools import partial
from typing import Any

import numpy as np

from .. import kernels
from .._dask import is_dask_array, map_composite
from ..autograd import ops
from ..autograd.dispatch import as_array, dispatch
from ..autograd.function import Function
from ..autograd.shapes import normalize_axes
from ..autograd.tensor import Tensor
from ._rows import map_rows, map_rows_vjp
from .softmax import softmax


def _as_logits(x: Any, op: str = "") -> Any:
    """Arrays are checked; bools and integers, arrays or Tensors, are promoted to float64.

    A float Tensor passes through.  An integer Tensor cannot require a gradient, so its float64
    copy is a constant too; promoting it first keeps ``-x`` of unsigned integers from wrapping
    around and ``x * y`` from overflowing.
    """
    if isinstance(x, Tensor):
        return Tensor(x.data.astype(np.float64)) if x.data.dtype.kind in "biu" else x
    arr = as_array(x, f"{op}'s input" if op else "input")
    return arr.astype(np.float64) if arr.dtype.kind in "biu" else arr


def _scalar(value: Any, name: str, op: str, nonzero: bool) -> float:
    """Validate a scale or temperature (a real scalar or one-element Tensor); return it."""
    data = value.data if isinstance(value, Tensor) else value
    if not isinstance(data, (numbers.Real, np.ndarray)) or isinstance(data, bool):
        raise TypeError(f"{op}: {name} must be a real number or Tensor, got {value!r}.")
    arr = np.asarray(data)
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        raise ValueError(
            f"{op}: {name} must be a single real number (a float or a one-element Tensor), "
            f"got {'shape ' + str(arr.shape) if arr.size != 1 else 'dtype ' + str(arr.dtype)}."
        )
    s = float(arr.reshape(()))
    if not np.isfinite(s) or (nonzero and s == 0.0):
        expected = "a finite, non-zero number" if nonzero else "a finite number"
        raise ValueError(f"{op}: {name} must be {expected}, got {s}.")
    return s


class _CastFunction(Function):
    """Primitive: ``y = x.astype(dtype)``, for a one-element factor to take the logits' dtype."""

    def forward(self, x: np.ndarray, *, dtype: np.dtype) -> np.ndarray:
        return x.astype(dtype)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # d(cast x)/dx = 1: the engine casts g back to x's own dtype.
        return (g,)


_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's constant: splits a float64 into 26 + 27 bits
_BLOCK = 1 << 16  # entries per block of the low-part passes: their temporaries stay in cache


def _split(a: Any) -> tuple[Any, Any]:
    """Veltkamp's split ``a = hi + lo``, exact: ``hi`` has at most 26 significant bits."""
    t = a * _SPLIT
    hi = t - (t - a)
    return hi, a - hi


def _factor_parts(s: float, divide: bool) -> tuple[float, ...] | None:
    """``f = s`` (or ``1/T``) as ``(f_hi, f_lo, f1, f2)``: ``f_hi + f_lo = f`` to 2^-106 and
    ``f_hi = f1 + f2`` exactly (26 + 27 bits); None for 0 and where the split could overflow
    (``f_hi * _SPLIT``) or ``f2`` and ``f_lo`` lose bits to the subnormals: there ``z`` keeps
    its rounding error."""
    f_hi = 1.0 / s if divide else s
    if not 2.0**-1000 <= abs(f_hi) <= 2.0**996:
        return None
    f_lo = float(Fraction(1) / Fraction(s) - Fraction(f_hi)) if divide else 0.0
    return (f_hi, f_lo, *_split(f_hi))


def _low_part(
    x: np.ndarray, m: np.ndarray, d: np.ndarray, p: np.ndarray, f: tuple, halve: bool
) -> np.ndarray:
    """``lo`` with ``p + lo`` the exact ``(x - m) * f`` to about 2^-75 of it (float64).

    ``d`` is the rounded ``x - m`` (``x/2 - m/2`` if ``halve``) and ``p`` the rounded ``d * s``
    (or ``d / T``).  Computed in blocks of rows, so that the temporaries stay in cache.
    """
    f_hi, f_lo, f1, f2 = f
    exact = f_lo == 0.0 and abs(math.frexp(f_hi)[0]) == 0.5  # a power of two: d * f exact
    shape = np.shape(p)
    x, m, d, p = (np.atleast_1d(v) for v in (x, m, d, p))
    lo = np.empty_like(d)
    step = max(1, _BLOCK * len(d) // max(d.size, 1))
    with np.errstate(all="ignore"):
        for i in range(0, len(d), step):
            rows = slice(i, i + step)
            a, b, di = x[rows], -(m[rows] if len(m) == len(d) else m), d[rows]
            if halve:
                a, b = a * 0.5, b * 0.5
            # TwoSum (Knuth): a + b = d + err exactly.
            bp = di - a
            err = (a - (di - bp)) + (b - bp)
            if exact:
                lo[rows] = err * f_hi
                continue
            # (d + err) * (f_hi + f_lo) - p: with Veltkamp's d = dh + dl, dh*f1 and dh*f2 are
            # exact (at most 53 bits) and so is dh*f1 - p (Sterbenz: they agree to 2^-25);
            # what is left is below 2^-25 |p|, rounded at 2^-78 |p|.
            dh, dl = _split(di)
            rest = dh * f2 + (dl + err) * f_hi
            if f_lo:  # 1/T's own rounding error
                rest += di * f_lo
            lo[rows] = (dh * f1 - p[rows]) + rest
        lo[~np.isfinite(lo)] = 0.0  # a mask, a NaN row, a |d| near the float range: no fix
    return (lo * 2.0 if halve else lo).reshape(shape)


class _TwoPartSoftmaxFunction(Function):
    """Fused op: ``y = softmax(z + lo)``, logits given as ``z`` and a tiny constant ``lo``."""

    op = "softmax"  # the name its errors give it

    def forward(self, z: np.ndarray, *, lo: np.ndarray, axis: Any) -> np.ndarray:
        y, self.rows, y2 = map_rows(kernels.softmax_rows, z, axis, "softmax")
        # exp(z + lo) = exp(z) (1 + lo) to O(lo^2), and |lo| < 2^-40: so y (1 + lo), divided
        # by its sum 1 + <y, lo>.  y is a view of y2 (float64 in and out): it saves the result.
        with np.errstate(invalid="ignore"):
            w = y * lo
            y += w
            y /= 1.0 + np.sum(w, axis=self.rows.axes, keepdims=True)
        self.save_for_backward(y2)
        return y

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # softmax VJP with respect to z (lo is a constant): dz = y * (g - <g, y>)
        (y2,) = self.saved_arrays
        return (map_rows_vjp(kernels.softmax_rows_vjp, y2, g, self.rows),)


def _scaled_softmax(x: Any, factor: Any, s: float, divide: bool, axis: Any, op: str) -> Any:
    """softmax(x * factor) or softmax(x / factor): from ``x - m`` and its rounding errors."""
    if is_dask_array(x):
        if isinstance(factor, Tensor):
            name = "temperature" if divide else "scale"
            raise TypeError(
                f"{op} got a dask array and a Tensor {name}; Tensors are not dask-aware (the "
                f"graph holds whole arrays). Pass the {name} as a float, or compute the dask "
                "array first."
            )
        block_fn = partial(_scaled_softmax, factor=s, s=s, divide=divide, axis=axis, op=op)
        return map_composite(block_fn, x, axis, op)
    x = _as_logits(x, op)
    if s == 1.0 and not isinstance(factor, Tensor):
        normalize_axes(axis, np.ndim(x.data if isinstance(x, Tensor) else x), op)  # its errors
        return softmax(x, axis=axis)  # exactly softmax, on its kernels
    # The result's dtype, in native byte order (as every kernel's: _rows.compute_dtype).
    dtype = (x.data if isinstance(x, Tensor) else x).dtype.newbyteorder("=")
    # float16 and float32 logits are computed in float64 and rounded once at the end: there
    # x - m is exact, any finite factor is a normal number (a temperature of 1e-50, a scale
    # of 1e5 for float16), and s (x - m) is rounded far below their ulp.
    narrow = dtype.itemsize < 8
    if narrow:
        x = dispatch(_CastFunction, x, dtype=np.dtype(np.float64))
    data = x.data if isinstance(x, Tensor) else x
    if not isinstance(factor, Tensor):
        factor = s  # a Python float keeps x's dtype (NEP 50), as a NumPy float64 would not
    else:
        if factor.ndim:
            factor = ops.reshape(factor, ())  # a (1, 1) Tensor must not broadcast x to more axes
        if factor.dtype != data.dtype:
            # As in PyTorch, a one-element factor does not promote the logits (float32 logits
            # and a float64 temperature give float32); its gradient returns in its own dtype.
            factor = dispatch(_CastFunction, factor, dtype=data.dtype)
    axes = normalize_axes(axis, data.ndim, op)
    if data.ndim == 0:
        axes = None  # a 0-d input is one row of one class
    # Each row's largest and smallest unmasked entries (``initial`` spares an empty axis
    # NumPy's zero-size error).  m, the entry that becomes the largest after scaling, is the
    # max for s >= 0 and the min for s < 0; and only a row that spans more than the float
    # range can overflow in x - m: only then are the logits halved first (two more passes,
    # and a halved subnormal loses its last bit).  A NaN or +inf row says yes; it is NaN anyway.
    top = np.max(data, axis=axes, keepdims=True, initial=-np.inf)
    bottom = np.min(data, axis=axes, keepdims=True, initial=np.inf)
    any_masked = bool(np.any(bottom == -np.inf))  # a -inf entry in a row without NaN
    if any_masked:
        masked = np.isneginf(data)
        bottom = np.min(np.where(masked, np.inf, data), axis=axes, keepdims=True, initial=np.inf)
    m = top if s >= 0 else bottom
    with np.errstate(invalid="ignore", over="ignore"):
        halve = not np.all(top / 2 - bottom / 2 <= np.finfo(data.dtype).max / 2)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if halve:
            # Halves: x/2 - m/2 == (x - m)/2 exactly, without the overflow of x - m.
            d = ops.subtract(ops.multiply(x, 0.5), m * 0.5)
        else:
            d = ops.subtract(x, m)
        if any_masked:
            # -inf is a mask: keep it out of the arithmetic (so that a learned scale's gradient
            # <x - m, v> sees 0 * 0 there, not 0 * -inf = NaN) and put it back after scaling.
            d = ops.where(masked, 0.0, d)
        z = ops.divide(d, factor) if divide else ops.multiply(d, factor)
        # z is rounded twice (x - m, then the factor): its absolute error |z| eps moves each
        # exp(z) by up to |z| ulps.  lo, the exact rest, is put back by the final softmax.
        # (float64 only, either byte order: narrow logits are exact enough, longdouble is not
        # split by _SPLIT, and a 0-d input is 1.)
        float64 = dtype.itemsize == 8 and data.ndim > 0
        parts = _factor_parts(s, divide) if float64 else None
        if parts is not None:
            dd, zd = (v.data if isinstance(v, Tensor) else v for v in (d, z))
            lo = _low_part(data, m, dd, zd, parts, halve)
        if halve:
            # Doubling overflows only to -inf, where the exact z is too: probability 0 anyway.
            z = ops.multiply(z, 2.0)
        if any_masked:
            z = ops.where(masked, -np.inf, z)
        if parts is None:
            y = softmax(z, axis=axis)
        else:
            y = dispatch(_TwoPartSoftmaxFunction, z, lo=lo, axis=axis)
    return dispatch(_CastFunction, y, dtype=dtype) if narrow else y


def softmin(x: Any, axis: Any = -1, out: np.ndarray | None = None) -> Any:
    r"""Softmin along ``axis``: the softmax of ``-x`` (small values get large probabilities).

    Parameters
    ----------
    x : array_like or Tensor
        Values.
    axis : int, tuple of int or None, default -1
        The class axis (axes).
    out : numpy.ndarray, optional
        Where to write the result (NumPy input only).

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``.

    Notes
    -----
    Composite: :math:`q = \mathrm{softmax}(-x)`; VJP :math:`\bar{x} = -q \odot (g - \langle g,
    q\rangle)`.  A ``+inf`` entry gets probability 0 and a ``-inf`` entry makes the row NaN
    (it is the softmax of a row holding ``+inf``), as in PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.softmin(np.array([1.0, 2.0, np.inf])).round(4)
    array([0.7311, 0.2689, 0.    ])
    """
    if is_dask_array(x):
        return map_composite(partial(softmin, axis=axis), x, axis, "softmin", out=out)
    x = _as_logits(x, "softmin")
    normalize_axes(axis, np.ndim(x.data if isinstance(x, Tensor) else x), "softmin")
    return softmax(-x, axis=axis, out=out)


def logit_scaled_softmax(x: Any, scale: Any = 1.0, axis: Any = -1) -> Any:
    r"""Softmax of scaled logits, ``softmax(scale * x)``: sharper for ``scale > 1``.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.
    scale : float or Tensor, default 1.0
        A finite real scalar (inverse temperature).  ``0`` gives the uniform distribution;
        a negative scale reverses the order (``scale = -1`` is :func:`softmin` of a finite row;
        a ``-inf`` entry stays a mask here, where :func:`softmin` makes its row NaN).  A
        one-element Tensor that requires grad gets its gradient, and takes the logits' dtype.
    axis : int, tuple of int or None, default -1
        The class axis (axes).

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``.

    Raises
    ------
    ValueError
        If ``scale`` is not finite or has more than one element.
    TypeError
        If ``scale`` is not a real number or Tensor, or is a Tensor while ``x`` is a dask
        array (a dask array in gives a dask array out with a float ``scale``).

    Notes
    -----
    Computed as :math:`y = \mathrm{softmax}(s\,(x - m))` with :math:`m = \max x` for
    :math:`s \ge 0` (:math:`\min x` for :math:`s < 0`); where the entries span more than the
    float range, as :math:`\mathrm{softmax}(2 s\,(x/2 - m/2))`: :math:`x/2 - m/2` is exactly
    :math:`(x - m)/2` and cannot overflow, and the product overflows only to ``-inf``, where
    the exact probability underflows to 0 anyway, so every finite input gets the right answer
    (``scale=1e-308`` on ``[1e308, -1e308]`` gives ``softmax([1, -1])``).  float16 and
    float32 logits are computed in float64 and rounded once, so a scale that their dtype would
    hold as 0, a subnormal or inf (``1e39`` for float32 logits, ``1e5`` for float16) is no
    trouble, where PyTorch's ``softmax(x * 1e39)`` is NaN.  For float64 logits the rounding
    errors of :math:`x - m` and of the product are kept (TwoSum, Dekker) and put back by the
    final softmax: within 3 ulps of the exact :math:`\mathrm{softmax}(s x)` of the given
    floats (measured on rows of scale 100, where rounding :math:`s (x - m)` gave up to 1149
    ulps), 0.5 ulp for float32 logits; ``scale=1`` is :func:`~npsoftmax.softmax` itself.
    With :math:`v = y \odot (g - \langle g, y\rangle)`, the VJPs are

    .. math:: \bar{x} = s\, v, \qquad \bar{s} = \langle x, v \rangle .

    As the scale grows from 0 the largest probability never falls and the entropy never rises
    (:math:`dH/ds = -s\,\mathrm{Var}_y(x)`).  ``-inf`` entries are masks: probability 0 at any
    scale.

    References
    ----------
    G. Hinton, O. Vinyals, J. Dean, "Distilling the Knowledge in a Neural Network",
    arXiv:1503.02531, 2015.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.logit_scaled_softmax(np.array([1.0, 2.0]), scale=100.0)
    array([3.72007598e-44, 1.00000000e+00])
    >>> nps.logit_scaled_softmax(np.array([1.0, 2.0, 3.0]), scale=0.0)
    array([0.33333333, 0.33333333, 0.33333333])
    """
    s = _scalar(scale, "scale", "logit_scaled_softmax", nonzero=False)
    return _scaled_softmax(x, scale, s, False, axis, "logit_scaled_softmax")


def norm_exp_softmax(x: Any, scale: Any = 1.0, axis: Any = -1) -> Any:
    r"""The normalised exponential ``exp(scale * x) / sum(exp(scale * x))``, computed stably.

    The same function as :func:`logit_scaled_softmax` (zeta's two names for it); unlike zeta's
    version it cannot overflow: ``norm_exp_softmax([1000, 0])`` is ``[1, 0]``, not NaN.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.
    scale : float or Tensor, default 1.0
        A finite real scalar.
    axis : int, tuple of int or None, default -1
        The class axis (axes).

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``.

    Notes
    -----
    .. math:: y_i = \frac{e^{s x_i}}{\sum_j e^{s x_j}}
              = \frac{e^{s (x_i - m)}}{\sum_j e^{s (x_j - m)}}

    VJPs as :func:`logit_scaled_softmax`: :math:`\bar{x} = s\,v`,
    :math:`\bar{s} = \langle x, v\rangle`.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.norm_exp_softmax(np.array([1000.0, 0.0]))
    array([1., 0.])
    """
    s = _scalar(scale, "scale", "norm_exp_softmax", nonzero=False)
    return _scaled_softmax(x, scale, s, False, axis, "norm_exp_softmax")


def temp_softmax(x: Any, temperature: Any = 1.0, axis: Any = -1) -> Any:
    r"""Temperature softmax, ``softmax(x / temperature)``: smoother for ``temperature > 1``.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.
    temperature : float or Tensor, default 1.0
        A finite, non-zero real scalar.  A negative temperature reverses the order.  A
        one-element Tensor that requires grad (a learnable temperature) gets its gradient; as
        in PyTorch it does not promote the logits' dtype (float32 logits stay float32).
    axis : int, tuple of int or None, default -1
        The class axis (axes).

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``.

    Raises
    ------
    ValueError
        If ``temperature`` is zero, not finite, or has more than one element.
    TypeError
        If ``temperature`` is not a real number or Tensor, or is a Tensor while ``x`` is a dask
        array (a dask array in gives a dask array out with a float ``temperature``).

    Notes
    -----
    Computed as :math:`y = \mathrm{softmax}((x - m) / T)` (``m`` the row maximum, or minimum
    for :math:`T < 0`; halved first where ``x - m`` could overflow), right for every finite
    input (see
    :func:`logit_scaled_softmax`): ``[1e308, -1e308]`` at :math:`T = 10^{308}` gives
    ``softmax([1, -1])``.  Accurate to 3 ulps (float64; 0.5 ulp for float32) of the exact
    :math:`\mathrm{softmax}(x / T)` of the given floats, :math:`1/T` included, even where
    :math:`|x - m| / T` is in the hundreds; ``temperature=1`` is :func:`~npsoftmax.softmax`
    itself.  With :math:`v = y \odot (g - \langle g, y\rangle)`:

    .. math:: \bar{x} = v / T, \qquad \bar{T} = -\langle x, v \rangle / T^2 .

    As :math:`T \to 0^+` the output tends to the uniform distribution over the argmax set; as
    :math:`T \to \infty` to the uniform distribution.  In distillation the soft loss is
    multiplied by :math:`T^2` to keep gradient magnitudes comparable (Hinton et al.).

    References
    ----------
    G. Hinton, O. Vinyals, J. Dean, "Distilling the Knowledge in a Neural Network",
    arXiv:1503.02531, 2015.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.temp_softmax(np.array([1.0, 2.0]), temperature=0.5).round(4)
    array([0.1192, 0.8808])
    >>> t = nps.tensor(2.0, requires_grad=True)
    >>> y = nps.temp_softmax(nps.tensor([1.0, 2.0]), temperature=t)
    >>> y[1].backward()
    >>> round(float(t.grad), 4)
    -0.0588
    """
    s = _scalar(temperature, "temperature", "temp_softmax", nonzero=True)
    return _scaled_softmax(x, temperature, s, True, axis, "temp_softmax")
