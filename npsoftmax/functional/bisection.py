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

import math
import numbers
from typing import Any

import numpy as np

from .. import kernels
from ..autograd.dispatch import dispatch
from ..autograd.function import Function
from ..autograd.shapes import as_integer, to_rows
from ..autograd.tensor import Tensor
from ._rows import map_rows, map_rows_vjp

# The most Newton steps for the threshold, the cap on n_iter and its value when None.  The
# method stops by itself once a step is below rounding: 3 to 9 steps were measured on rows of
# up to 200 entries with alpha from 1 + 1e-14 to 1e6 (see reference_sparse.entmax_bisect_rows),
# so the cap is never reached; a larger n_iter could change nothing and is clamped to it.
MAX_STEPS = 100


class EntmaxBisectFunction(Function):
    """Fused op: ``y = max((alpha - 1) x - tau, 0) ** (1 / (alpha - 1))``, ``sum(y) = 1``.

    Inputs: ``x``, and optionally a one-element ``alpha`` array (then ``backward`` also returns
    the gradient with respect to ``alpha``); otherwise ``alpha`` is the keyword parameter.
    """

    op = "entmax_bisect"  # the name its errors give it

    def forward(
        self,
        x: np.ndarray,
        *alpha_input: np.ndarray,
        axis: Any = -1,
        alpha: float = 1.5,
        n_iter: int = MAX_STEPS,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        if alpha_input:
            alpha = float(np.asarray(alpha_input[0]).reshape(()))
        self.alpha = alpha

        self.y_alpha = None

        def kernel(x2: np.ndarray, y2: np.ndarray) -> np.ndarray:
            if alpha_input and x2.dtype == np.float32:
                # The alpha VJP is a smooth function of y, but keep its float64 value (the
                # kernel computes float32 rows in float64 anyway): rounding y to float32
                # would cost the alpha gradient 1e-7 relative for nothing.
                y64 = np.empty(x2.shape)
                kernels.entmax_bisect_rows(x2.astype(np.float64), alpha, n_iter, y64)
                self.y_alpha = y64
                y2[...] = y64  # the same rounding as the kernel's own float32 store
                return y2
            return kernels.entmax_bisect_rows(x2, alpha, n_iter, y2)

        y, self.rows, y2 = map_rows(kernel, x, axis, self.op, out)
        # Save the output: both VJPs are functions of y (and alpha) alone.
        self.save_for_backward(y2)
        if self.y_alpha is None:
            self.y_alpha = y2
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
            y_alpha = self.y_alpha
            g2 = to_rows(g.astype(y_alpha.dtype, copy=False), self.rows.axes)[0] if g.ndim else g
            d_alpha = np.asarray(_alpha_vjp(y_alpha, np.reshape(g2, y_alpha.shape), alpha))
            d_alpha = d_alpha.astype(y2.dtype).reshape(self.inputs[1].shape)
        return (dx, d_alpha)


def _alpha_vjp(y: np.ndarray, g: np.ndarray, alpha: float) -> float:
    """``sum_i g_i [(y_i - yt_i) / a1^2 - (S_i - yt_i * ent) / a1]`` over all rows.

    Correia, Niculae & Martins 2019 (the entmax package's formula): differentiate the
    fixed-point condition ``sum(y) = 1`` with respect to alpha.  Written as it stands, the two
    terms are ``O(1 / a1)`` and cancel to ``O(1)``: near alpha = 1 that loses ``eps / a1``
    (``1e-4`` relative at ``alpha = 1 + 1e-6``, measured).  So for ``a1 <= 1/2`` it is
    rewritten without the cancellation (:func:`_alpha_vjp_near_one`); above, the cancellation
    costs at most a few ulps and ``yt = h / sum(h)`` is computed from ``log h`` relative to its
    row maximum, so that it cannot overflow (``h = y^(1 - a1)`` is huge for tiny ``y``).
    """
    a1 = alpha - 1.0
    yw = y.astype(np.promote_types(y.dtype, np.float64))
    gw = g.astype(yw.dtype)
    s = yw > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        if a1 <= 0.5:
            terms = _alpha_vjp_near_one(yw, gw, s, a1)
        else:
            log_y = np.where(s, np.log(np.where(s, yw, 1.0)), 0.0)
            S = np.where(s, yw * log_y, 0.0)
            log_h = np.where(s, (2.0 - alpha) * log_y, -np.inf)
            h = np.exp(log_h - np.max(log_h, axis=1, keepdims=True, initial=-np.inf))
            yt = h / h.sum(axis=1, keepdims=True)
            ent = S.sum(axis=1, keepdims=True)
            terms = np.where(s, gw * ((yw - yt) / a1**2 - (S - yt * ent) / a1), 0.0)
        # A NaN row (the all-NaN output policy) gives a NaN gradient, as the maths has no answer.
        return float(np.sum(np.where(np.isnan(yw).any(axis=1, keepdims=True), np.nan, terms)))


def _alpha_vjp_near_one(y: np.ndarray, g: np.ndarray, s: np.ndarray, a1: float) -> np.ndarray:
    """The per-entry terms of :func:`_alpha_vjp` without its ``O(1 / a1)`` cancellation.

    With ``p = y / sum(y)`` (the exact output sums to one), ``L = log p``, ``H = sum(p L)``,
    ``phi(t) = expm1(t) - t`` and ``phi_i = phi(-a1 L_i)``: ``h_i = p_i^(1 - a1)`` is
    proportional to ``p_i e_i``, ``e_i = exp(-a1 L_i) = 1 - a1 L_i + phi_i``, so
    ``yt_i = p_i e_i / (1 + A)`` with ``A = sum_j p_j expm1(-a1 L_j) = B - a1 H`` and
    ``B = sum_j p_j phi_j``.  Then ``1 - e_i / (1 + A) = (a1 (L_i - H) + B - phi_i) / (1 + A)``
    and the bracket of :func:`_alpha_vjp`, divided by ``p_i``, is exactly

        (B - phi_i - a1 (L_i - H) A) / ((1 + A) a1^2) - H ((L_i - H) + (B - phi_i) / a1) / (1 + A)

    where ``B`` and ``phi_i`` are ``O(a1^2)`` and ``A`` is ``O(a1)``: no term is large.
    ``a1 <= 1/2`` keeps ``-a1 L <= 373`` (``p`` is at least the smallest subnormal), so
    ``expm1`` cannot overflow.
    """
    p = np.where(s, y, 0.0) / np.sum(np.where(s, y, 0.0), axis=1, keepdims=True)
    L = np.where(s, np.log(np.where(s, p, 1.0)), 0.0)
    H = np.sum(p * L, axis=1, keepdims=True)
    phi = _expm1_minus_identity(-a1 * L)
    B = np.sum(p * phi, axis=1, keepdims=True)
    A = B - a1 * H
    D = L - H
    bracket = (B - phi - a1 * D * A) / ((1.0 + A) * a1**2) - H * (D + (B - phi) / a1) / (1.0 + A)
    return np.where(s, g * p * bracket, 0.0)


def _expm1_minus_identity(t: np.ndarray) -> np.ndarray:
    """``expm1(t) - t`` for ``t >= 0``, accurate also where the two nearly cancel (small t)."""
    # Below 1/2: t^2 (1/2! + t/3! + ... + t^17/19!), by Horner; the terms left out are below
    # 1e-17 of the sum.  From 1/2 on, expm1(t) - t loses at most a factor 4 to cancellation.
    small = np.minimum(t, 0.5)
    acc = np.full_like(t, 1.0 / math.factorial(19))
    for j in range(18, 1, -1):
        acc = acc * small + 1.0 / math.factorial(j)
    return np.where(t < 0.5, small * small * acc, np.expm1(t) - t)


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
    """Validate n_iter (an integer >= 1, or None); return it clamped to ``MAX_STEPS``.

    The clamp is exact (the method stops by itself long before the cap) and keeps any huge
    value, ``2**63`` and beyond, out of the compiled kernel's 64-bit loop counter.
    """
    if n_iter is None:
        return MAX_STEPS
    n = as_integer(n_iter, "n_iter", "entmax_bisect")
    if n < 1:
        raise ValueError(f"entmax_bisect: n_iter must be at least 1, got n_iter = {n}.")
    return min(n, MAX_STEPS)


def entmax_bisect(
    x: Any,
    alpha: Any = 1.5,
    axis: Any = -1,
    n_iter: int | None = None,
    out: np.ndarray | None = None,
) -> Any:
    r"""alpha-entmax along ``axis`` for any ``alpha > 1``: the entmax package's ``entmax_bisect``.

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
        The most Newton steps for the threshold.  The method converges from one side and stops
        by itself once a step is below rounding (3 to 9 steps measured), so the default
        ``None`` and any ``n_iter`` of about 10 or more give the converged result; values
        above 100 are treated as 100.  Fewer steps leave the threshold too high (the result
        is still normalised to sum to one).  Unlike the ``entmax`` package's ``n_iter``
        (bisection halvings, default 50), it does not set the accuracy.
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

    The threshold is never formed (``z - tau`` rounded to float64 could not hold outputs
    below about :math:`\epsilon^{1/a}`, e.g. ``1e-121`` for an output of ``0.0089`` at alpha
    60).  The support comes from the sorted logits (entry :math:`j` is in it iff the entries
    above it have mass below 1 at :math:`\tau = z_j`), and with its smallest entry :math:`k` as
    pivot, :math:`z_i - \tau = a (x_i - x_k) + y_k^{a}`: a safeguarded Newton method finds
    :math:`\log y_k`, and every output is then formed relative to the maximum (or, far below
    it, to the pivot) and divided by the sum, so rows sum to one to rounding.  Measured
    against 80-digit mpmath for alpha from :math:`1 + 10^{-8}` to 100: within an ulp of 1
    absolutely and :math:`8\epsilon(1 + |\log y_i|)` relatively.  Subtracting the maximum
    first makes the result shift invariant: the entmax package bisects on the raw logits,
    which loses accuracy at large offsets and returns NaN at an offset of ``1e8`` in float32;
    its absolute bisection also cannot represent small outputs at large alpha (``0.35`` for
    the ``0.0089`` above).

    VJPs, formula (B) with :math:`h = y^{2-\alpha}` on the support, :math:`u = h \odot g`,
    :math:`\tilde y = h / \sum h`, :math:`S_i = y_i \log y_i` (0 off the support) and
    :math:`H = \sum_i S_i` (Correia et al. 2019):

    .. math:: \bar{x} = u - \frac{\sum_i u_i}{\sum_i h_i}\, h, \qquad
              \bar{\alpha} = \sum_i g_i \Big[\frac{y_i - \tilde y_i}{(\alpha - 1)^2}
              - \frac{S_i - \tilde y_i H}{\alpha - 1}\Big]

    (summed over all rows for a shared ``alpha``; near :math:`\alpha = 1` evaluated without
    the cancellation of its two :math:`O(1/(\alpha - 1))` terms, from the float64 ``y`` even
    for float32 input).  For ``alpha > 2`` the Jacobian grows without bound near the
    support's boundary (the map is not Lipschitz there).  Edge policy as :func:`sparsemax`; a
    NaN row gives a NaN ``alpha`` gradient.

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
