"""alpha-entmax by bisection, with the gradient with respect to ``x`` and to ``alpha``.

A fused op on the row kernels ``entmax_bisect_rows`` / ``entmax_bisect_rows_vjp``.  ``alpha``
is a plain parameter when it is a number, and a second, differentiable input when it is a
Tensor (a learned ``alpha``); :func:`entmax_bisect` decides which, so that the common case
keeps the one-input shape every row-wise op has (and so also works on dask arrays).

Legend: ``x`` logits, ``a1 = alpha - 1``, ``tau`` the threshold, ``y`` the output, ``g`` the
upstream gradient, ``h = y ** (2 - alpha)`` on the support, ``yt = h / sum(h)``,
``S = y * log(y)`` (0 off the support), ``ent = sum(S)``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import kernels
from ..autograd.dispatch import dispatch
from ..autograd.function import Function
from ..autograd.shapes import as_integer, to_rows
from ..autograd.tensor import Tensor
from ._rows import map_rows, map_rows_vjp

# The most halvings when n_iter is None: the bracket starts below width 1 and |tau| is at least
# (1/n) ** (alpha - 1), a normal float64 for any sane alpha and n, so the bisection converges
# (tau_lo + width == tau_lo) long before 1100 halvings, the number that takes 1 below the
# smallest subnormal.  It takes about 53 plus log2(1 / |tau|): 53 to 90 for rows of up to
# 10**5 entries at alpha <= 3.
MAX_HALVINGS = 1100


class EntmaxBisectFunction(Function):
    """Fused op: ``y = max((alpha - 1) x - tau, 0) ** (1 / (alpha - 1))``, ``sum(y) = 1``.

    Inputs: ``x``, and optionally a one-element ``alpha`` array (then ``backward`` also returns
    the gradient with respect to ``alpha``); otherwise ``alpha`` is the keyword parameter.
    """

    def forward(
        self,
        x: np.ndarray,
        *alpha_input: np.ndarray,
        axis: Any = -1,
        alpha: float = 1.5,
        n_iter: int = MAX_HALVINGS,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        if alpha_input:
            alpha = float(np.asarray(alpha_input[0]).reshape(()))
        self.alpha = alpha

        def kernel(x2: np.ndarray, y2: np.ndarray) -> np.ndarray:
            return kernels.entmax_bisect_rows(x2, alpha, n_iter, y2)

        y, self.rows, y2 = map_rows(kernel, x, axis, "entmax_bisect", out)
        # Save the output: both VJPs are functions of y (and alpha) alone.
        self.save_for_backward(y2)
        return y

    def backward(self, g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        # x VJP, formula (B): h = y^(2 - alpha) on the support, u = h * g,
        #   dx = u - (sum(u) / sum(h)) * h
        (y2,) = self.saved_arrays
        alpha = self.alpha

        def kernel(y: np.ndarray, g2: np.ndarray, dx: np.ndarray) -> np.ndarray:
            return kernels.entmax_bisect_rows_vjp(y, g2, alpha, dx)

        dx = map_rows_vjp(kernel, y2, g, self.rows) if self.needs_input_grad[0] else None
        if len(self.needs_input_grad) == 1:
            return (dx,)
        d_alpha = None
        if self.needs_input_grad[1]:
            g2 = to_rows(g.astype(y2.dtype, copy=False), self.rows.axes)[0] if g.ndim else g
            d_alpha = np.asarray(_alpha_vjp(y2, np.reshape(g2, y2.shape), alpha))
            d_alpha = d_alpha.reshape(self.inputs[1].shape)
        return (dx, d_alpha)


def _alpha_vjp(y: np.ndarray, g: np.ndarray, alpha: float) -> float:
    """``sum_i g_i [(y_i - yt_i) / a1^2 - (S_i - yt_i * ent) / a1]`` over all rows.

    Correia, Niculae & Martins 2019 (the entmax package's formula): differentiate the
    fixed-point condition ``sum(y) = 1`` with respect to alpha.  ``yt = h / sum(h)`` is computed
    from ``log h`` relative to its row maximum, as in the kernel, so that it cannot overflow.
    """
    a1 = alpha - 1.0
    yw = y.astype(np.promote_types(y.dtype, np.float64))
    gw = g.astype(yw.dtype)
    s = yw > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        log_y = np.where(s, np.log(np.where(s, yw, 1.0)), 0.0)
        S = np.where(s, yw * log_y, 0.0)
        log_h = np.where(s, (2.0 - alpha) * log_y, -np.inf)
        h = np.exp(log_h - np.max(log_h, axis=1, keepdims=True, initial=-np.inf))
        yt = h / h.sum(axis=1, keepdims=True)
        ent = S.sum(axis=1, keepdims=True)
        terms = np.where(s, gw * ((yw - yt) / a1**2 - (S - yt * ent) / a1), 0.0)
        # A NaN row (the all-NaN output policy) gives a NaN gradient, as the maths has no answer.
        return float(np.sum(np.where(np.isnan(yw).any(axis=1, keepdims=True), np.nan, terms)))


def _check_alpha(alpha: Any) -> float:
    """Validate alpha (a real number > 1, or a one-element Tensor holding one); return it."""
    data = alpha.data if isinstance(alpha, Tensor) else alpha
    if isinstance(data, bool) or not isinstance(data, (numbers.Real, np.ndarray, np.generic)):
        raise TypeError(f"entmax_bisect: alpha must be a real number or Tensor, got {alpha!r}.")
    arr = np.asarray(data)
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        what = f"shape {arr.shape}" if arr.size != 1 else f"dtype {arr.dtype}"
        raise ValueError(
            f"entmax_bisect: alpha must be a single real number (a float or a one-element "
            f"Tensor), got {what}."
        )
    a = float(arr.reshape(()))
    if not (np.isfinite(a) and a > 1.0):
        raise ValueError(
            f"entmax_bisect: alpha must be a finite number greater than 1, got alpha = {a} "
            "(alpha = 1 is softmax: use npsoftmax.softmax)."
        )
    return a


def _check_n_iter(n_iter: Any) -> int:
    if n_iter is None:
        return MAX_HALVINGS
    n = as_integer(n_iter, "n_iter", "entmax_bisect")
    if n < 1:
        raise ValueError(f"entmax_bisect: n_iter must be at least 1, got n_iter = {n}.")
    return n


def entmax_bisect(
    x: Any,
    alpha: Any = 1.5,
    axis: Any = -1,
    n_iter: int | None = None,
    out: np.ndarray | None = None,
) -> Any:
    r"""alpha-entmax along ``axis`` by bisection on the threshold, for any ``alpha > 1``.

    ``alpha = 2`` is sparsemax, ``alpha = 1.5`` is :func:`entmax15`, and ``alpha -> 1`` tends
    to softmax; larger ``alpha`` gives sparser outputs.

    Parameters
    ----------
    x : array_like or Tensor
        Logits.  Integers and bools are promoted to float64; float16 is computed in float32.
    alpha : float or Tensor, default 1.5
        A finite number greater than 1.  A one-element Tensor that requires grad (a learned
        alpha, shared by every row) gets its gradient; per-row alphas are not supported.
    axis : int, tuple of int or None, default -1
        The class axis (axes); ``None`` for the whole array.
    n_iter : int, optional
        The most bisection steps.  The threshold's bracket has width below 1 and halves each
        step; the default ``None`` halves it until it cannot shrink in float64 (55 to 90 steps),
        which gives float64 results within a few ulps of the exact map away from the support's
        boundary.  The ``entmax`` package's fixed 50 (pass ``n_iter=50`` for its results) leaves
        ``2**-51`` in the threshold: errors of 16, 100 and 1600 units at alpha 1.5, 2 and 3 on
        small rows, and 24 steps would do for float32 (computed in float64 either way).
    out : numpy.ndarray, optional
        Where to write the result (NumPy input only); may be ``x`` itself.

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``; a Tensor when ``x`` or ``alpha`` is a Tensor.

    Raises
    ------
    ValueError
        If ``alpha`` is not a finite number greater than 1, or has more than one element, or
        ``n_iter < 1``.
    TypeError
        If ``alpha`` is not a real number or Tensor, ``n_iter`` is not an integer, or ``x`` is
        not numeric.

    Notes
    -----
    **Fused op.**  With :math:`a = \alpha - 1` and :math:`z = a (x - \max x) \le 0`:

    .. math:: y_i = [z_i - \tau]_+^{1/a}, \qquad \sum_i y_i = 1

    The root :math:`\tau` lies in :math:`[-1, -(1/n)^{a}]` (at :math:`-1` the maximum alone
    has mass 1; at the upper end every :math:`y_i \le 1/n`); each step keeps the half whose
    lower end still has mass at least 1, and :math:`y` is taken at the final midpoint and
    divided by its sum (the entmax package's ``ensure_sum_one=True``), so rows sum to one to
    rounding.  Subtracting the maximum first makes the result shift invariant: the entmax
    package bisects on the raw logits, which loses accuracy at large offsets and returns NaN
    at an offset of ``1e8`` in float32.

    VJPs, formula (B) with :math:`h = y^{2-\alpha}` on the support, :math:`u = h \odot g`,
    :math:`\tilde y = h / \sum h`, :math:`S_i = y_i \log y_i` (0 off the support) and
    :math:`H = \sum_i S_i` (Correia et al. 2019):

    .. math:: \bar{x} = u - \frac{\sum_i u_i}{\sum_i h_i}\, h, \qquad
              \bar{\alpha} = \sum_i g_i \Big[\frac{y_i - \tilde y_i}{(\alpha - 1)^2}
              - \frac{S_i - \tilde y_i H}{\alpha - 1}\Big]

    (summed over all rows for a shared ``alpha``).  For ``alpha > 2`` the Jacobian grows
    without bound near the support's boundary (the map is not Lipschitz there).  Edge policy
    as :func:`sparsemax`; a NaN row gives a NaN ``alpha`` gradient.

    References
    ----------
    B. Peters, V. Niculae, A. F. T. Martins, "Sparse Sequence-to-Sequence Models", ACL 2019,
    arXiv:1905.05702.  G. M. Correia, V. Niculae, A. F. T. Martins, "Adaptively Sparse
    Transformers", EMNLP 2019, arXiv:1909.00015.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> x = np.array([-2.0, 0.0, 0.5])
    >>> nps.entmax_bisect(x, alpha=2.0)  # sparsemax
    array([0.  , 0.25, 0.75])
    >>> nps.entmax_bisect(x + 1e8, alpha=1.5).round(8)  # shift invariant
    array([0.        , 0.32600736, 0.67399264])
    >>> a = nps.tensor(1.5, requires_grad=True)
    >>> y = nps.entmax_bisect(nps.tensor(x), alpha=a)
    >>> y[2].backward()
    >>> round(float(a.grad), 6)  # d y_2 / d alpha: larger alpha, sparser, y_2 grows
    0.123886
    """
    a = _check_alpha(alpha)
    n = _check_n_iter(n_iter)
    if isinstance(alpha, Tensor):
        return dispatch(EntmaxBisectFunction, x, alpha, out=out, axis=axis, n_iter=n)
    return dispatch(EntmaxBisectFunction, x, out=out, axis=axis, alpha=a, n_iter=n)
