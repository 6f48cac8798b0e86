"""cross_entropy and nll_loss: the classification losses, as fused ops with PyTorch's semantics.

Legend: ``z`` logits, ``l = log_softmax(z)``, ``p = exp(l)`` the softmax, ``t`` a target class
index, ``q`` the target distribution (the one-hot of ``t``, or given probabilities) after label
smoothing ``eps``, ``C`` the number of classes, ``g`` the upstream gradient, ``w`` the weight that
``g`` gives each row (``g_n`` for ``"none"``, ``g`` for ``"sum"``, ``g / count`` for ``"mean"``),
``cw`` the optional class weights (PyTorch's ``weight``) and ``a = cw[t]`` a row's share of them.

Layout is PyTorch's: the class axis is 1 for input of two or more dimensions (``(N, C)``,
``(N, C, d1, ...)``) and 0 for one dimension (``(C,)``); ``axis=`` picks another.  Internally
every op works on ``(rows, C)`` rows (``functional/_rows.py``), the target flattened to ``(rows,)``
in the same order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import kernels
from ..autograd.dispatch import dispatch
from ..autograd.function import Function
from ..autograd.shapes import to_rows
from ..autograd.tensor import Tensor
from ._rows import as_rows, compute_dtype, map_rows, run_kernel
from ._targets import (
    Target,
    check_options,
    check_smoothing,
    class_targets,
    class_weights,
    counted,
    loss_input,
    mean_divisor,
    reduce_rows,
    refuse_dask_losses,
    row_weights,
    smoothed,
    target_weights,
    weighed,
)


class CrossEntropyFunction(Function):
    """Fused op: ``loss_n = -<cw * q_n, log_softmax(z_n)>`` with a hand-derived VJP.

    Inputs are the logits and, for probability targets, the target probabilities; class-index
    targets come as the non-differentiable ``target`` parameter (a :class:`Target`), the class
    weights ``cw`` as ``weight`` (``None`` for none).
    """

    op = "cross_entropy"  # the name its errors give it

    def forward(
        self,
        z: np.ndarray,
        probs: np.ndarray | None = None,
        *,
        target: Target | None,
        axis: int,
        reduction: str,
        smoothing: float,
        weight: np.ndarray | None = None,
    ) -> np.ndarray:
        eps, self.reduction, self.target, self.eps_ = smoothing, reduction, target, smoothing
        self.cw = weight
        # a = cw[t]: each row's class weight (None without weights); a "mean" divides by sum(a).
        self.a = target_weights(target, weight) if target is not None else None
        self.count = mean_divisor(target, self.a) if target is not None else None
        self.fused = probs is None and not eps
        if self.fused:
            # The common case, class indices without smoothing: the per-row losses come straight
            # from the logits, and nothing of their size is written or kept (see backward).
            self.rows = as_rows(z, axis, "cross_entropy")
            z2 = self.rows.x2
            nll = np.empty(z2.shape[0], dtype=z2.dtype)
            run_kernel(kernels.cross_entropy_rows, z2, target.index, nll)
            self.save_for_backward(z2)
            loss = reduce_rows(weighed(nll, target, self.a), self.count, reduction, target.shape)
            return np.asarray(loss).astype(self.rows.dtype)
        _, self.rows, l2 = map_rows(kernels.log_softmax_rows, z, axis, "cross_entropy")
        n_rows, n_classes = l2.shape
        with np.errstate(invalid="ignore", over="ignore"):  # -inf logits give inf losses
            if probs is None:
                nll = -l2[np.arange(n_rows), target.index]
                out = reduce_rows(weighed(nll, target, self.a), self.count, reduction, target.shape)
                if eps:
                    # PyTorch's form: (1 - eps) * a * nll + (eps / C) * (-sum_c cw_c l_c), each
                    # part reduced (a mean divided by the count) before they are combined, as
                    # PyTorch does: over targets whose weights sum to 0, the 0 / 0 of the nll
                    # part makes the mean NaN, where one division of the sum would give +-inf.
                    wl2 = l2 if weight is None else l2 * weight
                    smooth = np.where(target.keep, -wl2.sum(axis=1), 0)
                    smooth = reduce_rows(smooth, self.count, reduction, target.shape)
                    out = out * (1 - eps) + smooth * (eps / n_classes)
            else:
                q2 = smoothed(to_rows(probs.astype(l2.dtype, copy=False), self.rows.axes)[0], eps)
                if weight is not None:
                    q2 = q2 * weight  # a = cw * q: what the loss weighs each log-probability by
                self.count = n_rows
                # 0 * log 0 = 0 (the entropy convention): a class with q = 0 adds nothing,
                # even where its logit is -inf (PyTorch gives NaN there).
                loss = -np.where(q2 == 0, 0, q2 * l2).sum(axis=1)
                self.q2 = q2
                out = reduce_rows(loss, self.count, reduction, self.rows.reduced(False))
        self.save_for_backward(l2)
        return np.asarray(out).astype(self.rows.dtype)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        # cross-entropy VJP, with a = cw * q the weighted target:
        #   dz = w * (p * sum(a) - a);  dq = -w * (1 - eps) * cw * l
        # (without weights, q = (1 - eps) e_t + eps / C for index targets: dz = w * (p - q))
        if self.fused:
            # dz = w a_n (p - e_t): the softmax, weighted row by row, recomputed from the logits
            # into the one array of their size that the backward writes; then -w at each target.
            (z2,) = self.saved_arrays
            w = row_weights(g, self.target, self.count, self.reduction, self.a)[:, 0]
            if self.a is not None:
                w = w * self.a
            w = w.astype(np.promote_types(z2.dtype, np.float64))
            dz2 = run_kernel(kernels.weighted_softmax_rows, z2, w, np.empty_like(z2))
            dz2[np.arange(z2.shape[0]), self.target.index] -= w
            dz2[~counted(self.target, self.a)] = 0  # exactly 0, even where p is NaN
            return (self.rows.restore(dz2),)
        (l2,) = self.saved_arrays
        n_rows, n_classes = l2.shape
        if self.target is not None:
            w = row_weights(g, self.target, self.count, self.reduction, self.a)
            eps = self.eps_
            # dz = w (p sum(a) - a) is the log_softmax VJP (dx = g - p * sum(g)) of the
            # upstream gradient g = -w a: one compiled pass, in place.  Here
            # a = (1 - eps) cw_t e_t + (eps / C) cw (cw = 1 without weights).
            if eps:
                gq = np.empty_like(l2)
                spread = -eps / n_classes if self.cw is None else self.cw * (-eps / n_classes)
                np.multiply(w, spread, out=gq, casting="unsafe")
            else:
                # Zero pages from the allocator, not a pass of stores: the kernel then faults
                # them in from every thread (a NumPy fill is one thread and one more pass).
                gq = np.zeros_like(l2)
            at = w[:, 0] if self.a is None else w[:, 0] * self.a
            gq[np.arange(n_rows), self.target.index] -= at * (1 - eps)
            dz2 = run_kernel(kernels.log_softmax_rows_vjp, l2, gq, gq)
            # An ignored row gets exactly 0, even where its logits make p NaN.  (A row of
            # weight 0 still has its smoothing term here, as in PyTorch.)
            dz2[~self.target.keep] = 0
            return (self.rows.restore(dz2),)
        all_rows = Target(np.zeros(n_rows, np.intp), np.ones(n_rows, bool), ())
        w = row_weights(g, all_rows, self.count, self.reduction)
        dz2 = w * (np.exp(l2) * self.q2.sum(axis=1, keepdims=True) - self.q2)
        dq = None
        if self.needs_input_grad[1]:
            cw = 1 if self.cw is None else self.cw
            dq = self.rows.restore(-w * (1 - self.eps_) * cw * l2)
        return (self.rows.restore(dz2), dq)


class NLLLossFunction(Function):
    """Fused op: ``loss_n = -a_n x[n, t_n]`` (``a_n = cw[t_n]``, or 1); VJP scatters ``-w a``."""

    op = "nll_loss"  # the name its errors give it

    def forward(
        self,
        x: np.ndarray,
        *,
        target: Target,
        axis: int,
        reduction: str,
        weight: np.ndarray | None = None,
    ) -> np.ndarray:
        rows, self.target, self.reduction = as_rows(x, axis, "nll_loss"), target, reduction
        x2 = rows.x2
        # The backward scatters into zeros: it needs the input's layout, not its values.
        self.rows, self.shape2, self.work = rows.layout(), x2.shape, x2.dtype
        self.a = target_weights(target, weight)
        self.count = mean_divisor(target, self.a)
        loss = weighed(-x2[np.arange(x2.shape[0]), target.index], target, self.a)
        return np.asarray(reduce_rows(loss, self.count, reduction, target.shape)).astype(
            self.rows.dtype
        )

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # nll VJP: dx[n, t_n] = -w_n a_n, 0 elsewhere
        t = self.target
        dx2 = np.zeros(self.shape2, dtype=self.work)
        w = row_weights(g, t, self.count, self.reduction, self.a)[:, 0]
        dx2[np.arange(self.shape2[0]), t.index] = -w if self.a is None else -w * self.a
        return (self.rows.restore(dx2),)


def cross_entropy(
    logits: Any,
    target: Any,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    axis: int | None = None,
    *,
    weight: Any = None,
) -> Any:
    r"""Cross-entropy between the softmax of ``logits`` and a target (fused with log-softmax).

    **Fused op** with the closed-form VJP ``p - q``; PyTorch's
    ``torch.nn.functional.cross_entropy`` semantics (layout, reductions, class weights,
    ``ignore_index``, ``label_smoothing``, probability targets).  With class indices and no
    smoothing (the common case) nothing of the logits' size is written forward or kept for the
    backward: the loss of each row is ``log(sum(exp(z - m))) - (z_t - m)`` (accurate for a
    confident prediction's small loss), and the backward recomputes ``w * p`` from the logits
    in one pass.  Smoothing and probability targets keep the whole log-softmax.

    Parameters
    ----------
    logits : array_like or Tensor
        Unnormalised scores, shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``: the classes lie
        on axis 1, or axis 0 for 1-D input, as in PyTorch (see ``axis``).
    target : array_like or Tensor
        Either integer class indices, of the logits' shape without the class axis (``()``,
        ``(N,)``, ``(N, d1, ...)``), or floating-point class probabilities of the logits' own
        shape (not checked to be a distribution; a Tensor target gets a gradient).
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"none"`` returns one loss per target; ``"mean"`` divides the sum by the number of
        targets that are not ``ignore_index``, or with ``weight`` by their total weight
        ``sum_n weight[t_n]`` (by the number of rows for probability targets), as PyTorch does.
    ignore_index : int, optional
        A target value that contributes neither loss nor gradient (padding); class indices only.
        PyTorch's default is -100; here the default ``None`` ignores nothing.
    label_smoothing : float, default 0.0
        ``eps`` in ``[0, 1]``: the target becomes ``(1 - eps) q + eps / C``.
    axis : int, optional
        The class axis; ``None`` means PyTorch's layout (1, or 0 for 1-D input).
    weight : array_like, optional
        A finite weight per class, shape ``(C,)`` (PyTorch's ``weight``, a keyword here: the
        third positional argument is ``reduction``).  A constant: no gradient reaches it.

    Returns
    -------
    numpy.ndarray or Tensor
        A 0-d loss, or the target's shape for ``reduction="none"``; in the logits' float dtype
        (integers promoted to float64, float16 computed in float32).

    Raises
    ------
    IndexError
        If a class index (other than ``ignore_index``) is outside ``[0, C - 1]``.
    TypeError
        If the target is neither integer indices nor floating probabilities of the logits'
        shape, an option has the wrong type, or an input is a dask array.
    ValueError
        For a wrong target shape, an unknown reduction, ``label_smoothing`` outside ``[0, 1]``,
        ``ignore_index`` with probability targets, a ``weight`` that is not ``C`` finite
        numbers, or an input without classes.

    Notes
    -----
    With :math:`l = \log\mathrm{softmax}(z)` along the class axis and :math:`q` the smoothed
    target distribution (:math:`q = (1-\epsilon)\,e_t + \epsilon / C` for an index :math:`t`):

    .. math:: \ell_n = -\sum_c q_{nc}\, l_{nc}
              = (1 - \epsilon)(-l_{n t_n}) + \frac{\epsilon}{C} \sum_c (-l_{nc})

    VJP, with :math:`w_n` the upstream gradient's share of row :math:`n` (:math:`g_n`,
    :math:`g`, or :math:`g / \#\text{counted}`; 0 for an ignored row) and :math:`p = e^{l}`:

    .. math:: \bar{z}_n = w_n \Big(p_n \sum_c q_{nc} - q_n\Big) = w_n (p_n - q_n),
              \qquad \bar{q}_n = -w_n (1 - \epsilon)\, l_n

    With class weights :math:`\omega`, :math:`q_{nc}` becomes :math:`a_{nc} = \omega_c
    q_{nc}` in the loss and in :math:`\bar{z}_n = w_n (p_n \sum_c a_{nc} - a_n)` (whose sum
    is then no longer 1), :math:`\bar{q}_n = -w_n (1 - \epsilon)\, \omega \odot l_n`, and a
    ``"mean"`` over class indices divides by :math:`\sum_n \omega_{t_n}`.  A row whose
    class weighs 0 adds 0 to the loss, even at an infinite :math:`-l_{n t_n}`.

    Edge policy: a ``"mean"`` over no counted target (an empty batch, or every target
    ignored) is the honest 0/0, NaN (as in PyTorch), with a zero gradient and no warning.
    Negative class weights that sum to 0 over the counted targets divide by 0, as in PyTorch:
    the mean is ``+-inf`` (NaN if the weighted losses cancel too) and its gradient ``g / 0``.
    A ``-inf`` logit at the target class gives an infinite loss; with probability targets a
    class of probability 0 contributes 0 even at a ``-inf`` logit (``0 log 0 = 0``).

    References
    ----------
    C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna, "Rethinking the Inception
    Architecture for Computer Vision" (label smoothing), arXiv:1512.00567, 2015.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> z = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    >>> float(nps.cross_entropy(z, np.array([0, 2])))  # mean of -log p
    0.6342...
    >>> nps.cross_entropy(z, np.array([0, -100]), reduction="none", ignore_index=-100)
    array([0.16984602, 0.        ])
    >>> t = nps.tensor(z, requires_grad=True)
    >>> nps.cross_entropy(t, np.array([0, 2]), reduction="sum").backward()
    >>> t.grad.round(4)  # softmax minus one-hot
    array([[-0.1562,  0.1142,  0.042 ],
           [ 0.3333,  0.3333, -0.6667]])
    >>> float(nps.cross_entropy(z, np.array([0, 2]), weight=np.array([1.0, 1.0, 3.0])))
    0.8664...
    """
    op = "cross_entropy"
    refuse_dask_losses(op, logits, target, weight)
    ignore = check_options(reduction, ignore_index, op)
    eps = check_smoothing(label_smoothing)
    z, ax = loss_input(logits, axis, op)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    cw = class_weights(weight, z.shape[ax], compute_dtype(z.dtype, op)[0], op)
    params = {"axis": ax, "reduction": reduction, "smoothing": eps, "weight": cw}
    if t.dtype.kind == "f" and t.shape == z.shape:
        if ignore is not None:
            raise ValueError(
                f"cross_entropy: ignore_index={ignore} applies to class-index targets only, "
                f"but the target holds probabilities of shape {t.shape}; pass ignore_index=None."
            )
        return dispatch(CrossEntropyFunction, logits, target, target=None, **params)
    return dispatch(
        CrossEntropyFunction, logits, target=class_targets(t, z.shape, ax, ignore, op), **params
    )


def nll_loss(
    log_probs: Any,
    target: Any,
    reduction: str = "mean",
    ignore_index: int | None = None,
    axis: int | None = None,
    *,
    weight: Any = None,
) -> Any:
    r"""Negative log-likelihood of class-index targets, given log-probabilities.

    **Fused op** (a gather with a scatter backward); PyTorch's ``torch.nn.functional.nll_loss``
    semantics.  ``nll_loss(log_softmax(z, axis=1), t)`` equals ``cross_entropy(z, t)``; prefer
    the latter, which fuses both.

    Parameters
    ----------
    log_probs : array_like or Tensor
        Log-probabilities (not checked to be normalised), shape ``(C,)``, ``(N, C)`` or
        ``(N, C, d1, ...)``, classes on axis 1 (axis 0 for 1-D input), as in PyTorch.
    target : array_like or Tensor
        Integer class indices of the input's shape without the class axis.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` divides by the number of targets that are not ``ignore_index``, or with
        ``weight`` by their total weight ``sum_n weight[t_n]``, as PyTorch does.
    ignore_index : int, optional
        A target value that contributes neither loss nor gradient; ``None`` ignores nothing.
    axis : int, optional
        The class axis; ``None`` means PyTorch's layout.
    weight : array_like, optional
        A finite weight per class, shape ``(C,)``; a keyword here (PyTorch's third positional
        argument).  A constant: no gradient reaches it.

    Returns
    -------
    numpy.ndarray or Tensor
        A 0-d loss, or the target's shape for ``reduction="none"``.

    Raises
    ------
    IndexError
        If a class index (other than ``ignore_index``) is outside ``[0, C - 1]``.
    TypeError
        If the target is not an integer array, or an input is a dask array.
    ValueError
        For a wrong target shape, an unknown reduction, a ``weight`` that is not ``C`` finite
        numbers, or an input without classes.

    Notes
    -----
    .. math:: \ell_n = -\omega_{t_n} x_{n t_n}, \qquad
              \bar{x}_{nc} = -w_n \omega_{t_n} [c = t_n]

    with :math:`\omega` the class weights (1 without ``weight``) and :math:`w_n` the upstream
    gradient's share of row :math:`n` (0 if ignored).  A
    ``"mean"`` over no counted target is NaN (0/0, as in PyTorch), without a warning; class
    weights that sum to 0 over the counted targets give ``+-inf``, as in PyTorch.

    References
    ----------
    C. M. Bishop, "Pattern Recognition and Machine Learning", Springer, 2006, section 4.3.4.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> lp = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]]))
    >>> nps.nll_loss(lp, np.array([0, 1]), reduction="none")
    array([0.69314718, 0.22314355])
    """
    op = "nll_loss"
    refuse_dask_losses(op, log_probs, target, weight)
    ignore = check_options(reduction, ignore_index, op)
    x, ax = loss_input(log_probs, axis, op)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    t = class_targets(t, x.shape, ax, ignore, op)
    cw = class_weights(weight, x.shape[ax], compute_dtype(x.dtype, op)[0], op)
    return dispatch(NLLLossFunction, log_probs, target=t, axis=ax, reduction=reduction, weight=cw)
