"""The attention-era normalisers: online softmax and FlashDecoding++'s unified-max softmax.

Both compute exactly the softmax (so their VJP is softmax's); what differs is *how* the
normaliser is found, which is what a GPU kernel author cares about and what these functions let
one study and test against:

* :func:`online_softmax` reads each row once to get the maximum and the normaliser together,
  rescaling the running sum whenever the maximum grows (Milakov & Gimelshein);
* :func:`unified_max_softmax` does not look for the maximum at all: it exponentiates against a
  fixed, calibrated ``phi`` and recomputes the rows where that guess is unsafe (Hong et al.).

Legend: ``x`` logits, ``m`` a row maximum, ``d`` a normaliser ``sum(exp(x - m))``, ``phi`` the
unified (fixed) maximum, ``(a, b)`` the range ``x - phi`` must stay in, ``y`` the softmax output,
``g`` the upstream gradient, ``<a, b>`` a sum along the class axis.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import kernels
from ..autograd.dispatch import dispatch
from ..autograd.function import Function
from ._rows import map_rows, map_rows_vjp

# exp(a) must stay a normal float64 and exp(b) finite: the checks of unified_max_softmax.
_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))  # about -708.40
_LOG_MAX = float(np.log(np.finfo(np.float64).max))  # about 709.78


class OnlineSoftmaxFunction(Function):
    """Fused op: softmax along ``axis`` with a one-pass (running max and sum) normaliser."""

    op = "online_softmax"  # the name its errors give it

    def forward(self, x: np.ndarray, axis: Any = -1, out: np.ndarray | None = None) -> np.ndarray:
        y, self.rows, y2 = map_rows(kernels.online_softmax_rows, x, axis, "online_softmax", out)
        self.save_for_backward(y2)  # the softmax VJP needs only the output
        return y

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # softmax VJP (it is the same function): dx = y * (g - <g, y>)
        (y2,) = self.saved_arrays
        return (map_rows_vjp(kernels.softmax_rows_vjp, y2, g, self.rows),)


def online_softmax(x: Any, axis: Any = -1) -> Any:
    r"""Softmax computed with the online (single-pass) normaliser of Milakov & Gimelshein.

    Fused op.  The result is the softmax (to a few ulps); the algorithm is the one that
    FlashAttention-style kernels use, so this is the reference to test such a kernel against.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.  Integers and bools are promoted to float64; float16 is computed in float32.
    axis : int, tuple of int or None, default -1
        The class axis (axes); ``None`` normalises over the whole array.

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
    One pass keeps a running maximum and normaliser, starting from :math:`(m_0, d_0) =
    (-\infty, 0)`:

    .. math:: m_j = \max(m_{j-1}, x_j), \qquad
              d_j = d_{j-1}\, e^{m_{j-1} - m_j} + e^{x_j - m_j},

    and a second pass writes :math:`y_i = e^{x_i - m_n} / d_n`.  Partial results of two blocks
    merge with the associative, commutative rule :math:`(m_1, d_1) \oplus (m_2, d_2) =
    (M, d_1 e^{m_1 - M} + d_2 e^{m_2 - M})`, :math:`M = \max(m_1, m_2)`, so a row can be
    split among threads in any way.  The invariant :math:`1 \le d_j \le j` means the normaliser
    cannot overflow for any realistic row length.

    VJP (the softmax's): :math:`\bar{x} = y \odot (g - \langle g, y \rangle)`.

    Edge policy: softmax's (``-inf`` entries get 0; a row that is all ``-inf`` or holds
    ``+inf`` or NaN gives NaN; an empty axis gives an empty result).  Leading ``-inf`` entries
    are skipped rather than computing :math:`-\infty - (-\infty)`.

    References
    ----------
    M. Milakov, N. Gimelshein, "Online normalizer calculation for softmax", arXiv:1805.02867,
    2018.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.online_softmax(np.array([-2.0, 0.0, 0.5])).round(4)
    array([0.0486, 0.3592, 0.5922])
    >>> nps.online_softmax(np.array([-np.inf, 1000.0, 1000.0]))
    array([0. , 0.5, 0.5])
    """
    return dispatch(OnlineSoftmaxFunction, x, axis=axis)


def _unified_max_rows(
    x2: np.ndarray, y2: np.ndarray, phi: float, a: float, b: float, report: dict
) -> np.ndarray:
    """Row kernel: ``y = exp(x - phi) / sum(exp(x - phi))``, recomputing the unsafe rows."""
    work = np.promote_types(x2.dtype, np.float64)  # float32 rows in float64, as the kernels do
    xw = x2.astype(work)
    with np.errstate(invalid="ignore", over="ignore"):
        d = xw - phi
        # The paper's rule, per entry: a < x - phi < b.  -inf entries are masks: exp(-inf) = 0
        # exactly whatever phi is, so they need no range check (NaN fails both comparisons).
        masked = np.isneginf(xw)
        in_range = (d > a) & (d < b)
        safe = np.all(in_range | masked, axis=1) & np.any(in_range, axis=1)
        # Asynchronised path: no maximum.  Every term lies in (e^a, e^b), so none overflows
        # nor underflows, and the sum is at least e^a > 0.
        e = np.exp(np.where(safe[:, None], d, -np.inf))
        s = e.sum(axis=1, keepdims=True)
        # Only an extreme user range (b near the float64 limit, many columns) can overflow s.
        safe &= np.isfinite(s[:, 0])
        y2[safe] = e[safe] / s[safe]
    fallback = ~safe
    if x2.shape[1] == 0:
        fallback[:] = False  # an empty row has nothing to exponentiate, so nothing to redo
    if fallback.any():
        # Synchronised recomputation of the unsafe rows, with the online (running-max) softmax.
        y2[fallback] = kernels.online_softmax_rows(x2[fallback], np.empty_like(x2[fallback]))
    report["n_fallback"] = int(fallback.sum())
    return y2


class UnifiedMaxSoftmaxFunction(Function):
    """Fused op: softmax against a fixed maximum ``phi``, with exact recomputation on overflow."""

    op = "unified_max_softmax"  # the name its errors give it

    def forward(
        self,
        x: np.ndarray,
        axis: Any = -1,
        phi: float = 0.0,
        a: float = -3.0,
        b: float = 3.0,
        report: dict | None = None,
    ) -> np.ndarray:
        # forward returns one array by contract; the fallback count goes back through `report`.
        report = {} if report is None else report

        def kernel(x2: np.ndarray, y2: np.ndarray) -> np.ndarray:
            return _unified_max_rows(x2, y2, phi, a, b, report)

        y, self.rows, y2 = map_rows(kernel, x, axis, "unified_max_softmax")
        self.save_for_backward(y2)
        return y

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # softmax VJP (the same function, whichever path computed it): dx = y * (g - <g, y>)
        (y2,) = self.saved_arrays
        return (map_rows_vjp(kernels.softmax_rows_vjp, y2, g, self.rows),)


def _finite_real(value: Any, name: str) -> float:
    """``value`` as a finite float, or a TypeError/ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"unified_max_softmax: {name} must be a real number, got {value!r} "
            f"of type {type(value).__name__}."
        )
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"unified_max_softmax: {name} must be a finite number, got {v}.")
    return v


def unified_max_softmax(
    x: Any, phi: float, axis: Any = -1, a: float = -3.0, b: float = 3.0
) -> tuple[Any, int]:
    r"""Softmax with a unified (fixed) maximum ``phi``, as in FlashDecoding++, and its fallback.

    Fused op.  Each row is exponentiated against the constant ``phi`` instead of its own
    maximum, so that blocks of a row could be summed independently with no synchronisation.
    That is safe only while every score stays in the calibrated range; a row with a score
    outside it is recomputed exactly (with :func:`online_softmax`'s algorithm).  The result is
    the softmax on every row either way.

    Parameters
    ----------
    x : array_like or Tensor
        Logits (attention scores).
    phi : float
        The unified maximum, a finite real number (calibrated offline in the paper).
    axis : int, tuple of int or None, default -1
        The class axis (axes).
    a, b : float, default -3.0 and 3.0
        The range that every finite ``x - phi`` must lie in, strictly.  The defaults are the
        paper's worked example (``a = -3``, ``b = 3``, with ``phi = 6``); calibrated ranges
        are wider (the paper reports that over 99.99 % of Llama2-7B softmax inputs lie in
        ``[-16.8, 6.5]``).  Needs ``log(tiny) <= a < b <= log(max)`` of float64 (about -708.4
        and 709.8) so that no term underflows or overflows.

    Returns
    -------
    y : numpy.ndarray or Tensor
        The softmax, same shape as ``x``; a Tensor (in the graph) when ``x`` is a Tensor.
    n_fallback : int
        The number of rows (slices along ``axis``) that were recomputed.

    Raises
    ------
    ValueError
        If ``phi``, ``a`` or ``b`` is not finite, or ``a < b`` does not hold within the float64
        exponent range.
    TypeError
        If ``phi``, ``a`` or ``b`` is not a real number, if ``x`` is not numeric, or for
        dask input (the fallback count needs the whole array).

    Notes
    -----
    Softmax is shift invariant, so for any constant :math:`\varphi`

    .. math:: y_i = \frac{e^{x_i - \varphi}}{\sum_j e^{x_j - \varphi}} .

    If :math:`a < x_j - \varphi < b` for every finite :math:`x_j`, every term lies in
    :math:`(e^a, e^b)`: nothing overflows or underflows, and the row is accepted.  Otherwise
    (a score above ``phi + b``, which could overflow, or below ``phi + a``, which could
    underflow, or a NaN or ``+inf``) the row falls back to the synchronised computation.
    ``-inf`` entries are masks: they contribute exactly 0 and never force a fallback by
    themselves, but a row with no score in range (an all ``-inf`` row) falls back, and gets
    softmax's NaN.  Computed in float64 for float32 input.  Edge policy: softmax's.

    VJP (the softmax's): :math:`\bar{x} = y \odot (g - \langle g, y \rangle)`; ``phi`` is a
    constant.

    zeta's ``asynchronized_softmax`` is a different, wrong algorithm: it gives weight 0 to the
    scores outside the range instead of recomputing the row (see ``docs/compat.md``).

    References
    ----------
    K. Hong, G. Dai, J. Xu, et al., "FlashDecoding++: Faster Large Language Model Inference on
    GPUs", MLSys 2024, arXiv:2311.01282 (section 3, asynchronized softmax with unified maximum
    value).

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> x = np.array([[5.0, 6.5, 7.0], [1.0, -0.5, 13.0]])
    >>> y, n_fallback = nps.unified_max_softmax(x, phi=6.0)
    >>> n_fallback  # the second row leaves (phi - 3, phi + 3)
    1
    >>> np.allclose(y, nps.softmax(x))
    True
    """
    if type(x).__module__.startswith("dask."):
        raise TypeError(
            "unified_max_softmax does not accept dask arrays: the fallback count needs the whole "
            "array. Compute the array first, or use online_softmax, which maps over blocks."
        )
    phi = _finite_real(phi, "phi")
    a = _finite_real(a, "a")
    b = _finite_real(b, "b")
    if not _LOG_TINY <= a < b <= _LOG_MAX:
        raise ValueError(
            f"unified_max_softmax: the range must satisfy {_LOG_TINY:.2f} <= a < b <= "
            f"{_LOG_MAX:.2f} (float64 exp neither underflows nor overflows), got a={a}, b={b}."
        )
    report: dict = {}
    y = dispatch(UnifiedMaxSoftmaxFunction, x, axis=axis, phi=phi, a=a, b=b, report=report)
    return y, report["n_fallback"]
