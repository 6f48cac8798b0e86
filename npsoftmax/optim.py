"""Optimisers: SGD (with momentum, Nesterov, weight decay) and Adam, with PyTorch's update rules.

Legend: ``p`` a parameter, ``g`` its gradient (``p.grad``), ``lr`` the learning rate, ``wd``
the weight decay, ``mu`` the momentum, ``tau`` the dampening, ``b`` the momentum buffer, ``m`` and
``v`` Adam's first and second moment estimates, ``k`` the step count (from 1).

The constructors take PyTorch's arguments, in PyTorch's order, with its defaults.  Each
``step()`` updates every parameter's ``.data`` in place (as ``torch.optim`` does), in the
parameter's own dtype, under :func:`~npsoftmax.no_grad`; a parameter whose ``.grad`` is ``None``
is skipped (its state does not advance).  The order of the floating-point operations follows
PyTorch's single-tensor CPU implementation, so the same initial values and gradients give the
same parameters to a few ulps.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .autograd.grad_mode import no_grad
from .autograd.tensor import Tensor
from .nn._checks import check_flag

__all__ = ["SGD", "Adam", "Optimizer"]


def _real(value: Any, name: str, owner: str, low: float = 0.0, below: float | None = None) -> float:
    """A finite real hyperparameter ``>= low`` (and ``< below`` if given), or a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}.")
    value = float(value)
    too_high = below is not None and value >= below
    if not math.isfinite(value) or value < low or too_high:
        upper = f" and below {below}" if below is not None else ""
        raise ValueError(f"{owner}: {name} must be finite, at least {low}{upper}; got {value}.")
    return value


class Optimizer:
    """Base class: holds the parameters and per-parameter state; subclasses write ``update``.

    Parameters
    ----------
    params : iterable of Tensor
        The Tensors to optimise, e.g. ``module.parameters()`` (a generator is materialised once).

    Raises
    ------
    TypeError
        If an entry is not a floating-point Tensor (PyTorch's parameter-group dicts are not
        supported).
    ValueError
        If there is no parameter, the same Tensor appears twice, or an entry is not a leaf (a
        computed Tensor: its ``.data`` is remade by every forward, so an update would be lost).

    Notes
    -----
    A subclass sets ``self.defaults`` (its hyperparameters, for ``repr``) and writes
    ``update(p, g, state)``, which changes ``p.data`` in place; ``step`` calls it, under
    :func:`~npsoftmax.no_grad`, for each parameter whose ``.grad`` is not ``None``.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> class SignSGD(nps.optim.Optimizer):
    ...     def __init__(self, params, lr):
    ...         self.lr, self.defaults = lr, {"lr": lr}
    ...         super().__init__(params)
    ...
    ...     def update(self, p, g, state):
    ...         p.data -= self.lr * (g > 0) - self.lr * (g < 0)
    >>> w = nps.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SignSGD([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.data
    array([ 0.5, -1.5])
    """

    def __init__(self, params: Iterable[Tensor]) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors (e.g. model.parameters()), "
                f"got a single Tensor; wrap it in a list."
            )
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list; nothing to optimise.")
        seen: set[int] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or p.dtype.kind != "f":
                what = f"a Tensor of dtype {p.dtype}" if isinstance(p, Tensor) else repr(p)
                raise TypeError(f"{name}: params[{i}] must be a floating-point Tensor, got {what}.")
            if id(p) in seen:
                raise ValueError(f"{name}: params[{i}] appears more than once in params.")
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: params[{i}] is not a leaf Tensor (it was computed by "
                    f"{p!r}); optimise the Tensors it was computed from."
                )
            seen.add(id(p))
        # Per-parameter state (momentum buffers, moments, step counts), keyed by the Tensor.
        self.state: dict[Tensor, dict[str, Any]] = {p: {} for p in self.params}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: ``None`` (PyTorch's default) or zeros in place."""
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()``'s value, if given.

        ``closure`` re-evaluates the model and returns the loss (it runs with gradients on,
        before the update), as in ``torch.optim``.
        """
        loss = closure() if closure is not None else None
        with no_grad():
            for p in self.params:
                if p.grad is not None:
                    self.update(p, p.grad.astype(p.dtype, copy=False), self.state[p])
                    p._version += 1  # graphs that kept the old values refuse to run
        return loss

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        """Update ``p.data`` in place from its gradient ``g`` and its ``state``."""
        raise NotImplementedError(f"{type(self).__name__} does not define update().")

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({len(self.params)} parameters, {options})"


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

    Parameters
    ----------
    params : iterable of Tensor
        The Tensors to optimise (``module.parameters()`` works).
    lr : float, default 1e-3
        The learning rate, ``>= 0``.
    momentum : float, default 0.0
        ``mu >= 0``; 0 is plain SGD.
    dampening : float, default 0.0
        ``tau``: the buffer gets ``(1 - tau) g`` from the second step on.
    weight_decay : float, default 0.0
        ``wd >= 0``: an L2 penalty ``wd / 2 * ||p||^2`` added through the gradient.
    nesterov : bool, default False
        Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    maximize : bool, default False
        Maximise the objective: step along ``+g`` (PyTorch's ``maximize``).

    Raises
    ------
    ValueError
        For a negative or non-finite ``lr``, ``momentum`` or ``weight_decay``, a non-finite
        ``dampening``, or ``nesterov`` without momentum or with dampening.
    TypeError
        For a non-real hyperparameter, a flag that is not a bool, or a params entry that is
        not a floating Tensor.

    Notes
    -----
    PyTorch's rule, for step :math:`k` (with ``maximize``, :math:`-g` in place of :math:`g`):

    .. math::
        d = g + \mathrm{wd}\, p, \qquad
        b_k = \begin{cases} d & k = 1 \\ \mu\, b_{k-1} + (1 - \tau)\, d & k > 1 \end{cases},
        \qquad p \leftarrow p - \mathrm{lr} \cdot
        \begin{cases} d + \mu\, b_k & \text{Nesterov} \\ b_k & \text{otherwise} \end{cases}

    (no momentum: :math:`p \leftarrow p - \mathrm{lr}\, d`).  The first buffer is the gradient
    itself, undamped, as in PyTorch (not :math:`(1-\tau) d`).  Optimisers are not differentiable
    ops: there is no VJP.

    References
    ----------
    I. Sutskever, J. Martens, G. Dahl, G. Hinton, "On the importance of initialization and
    momentum in deep learning", ICML 2013.  H. Robbins, S. Monro, "A Stochastic Approximation
    Method", 1951.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> w = nps.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = nps.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()  # g = 2 w
    ...     opt.step()
    >>> w.data  # b1 = 2 w0, w1 = 0.8 w0; b2 = 0.9 b1 + 2 w1 = 3.4 w0, w2 = 0.46 w0
    array([ 0.46, -0.92])
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        self.lr = _real(lr, "lr", "SGD")
        self.momentum = _real(momentum, "momentum", "SGD")
        self.dampening = _real(dampening, "dampening", "SGD", low=-math.inf)
        self.weight_decay = _real(weight_decay, "weight_decay", "SGD")
        self.nesterov = check_flag(nesterov, "nesterov", "SGD")
        self.maximize = check_flag(maximize, "maximize", "SGD")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got momentum="
                f"{self.momentum} and dampening={self.dampening}."
            )
        self.defaults = {
            "lr": self.lr,
            "momentum": self.momentum,
            "dampening": self.dampening,
            "weight_decay": self.weight_decay,
            "nesterov": self.nesterov,
            "maximize": self.maximize,
        }
        super().__init__(params)

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        g = -g if self.maximize else g
        d = g + self.weight_decay * p.data if self.weight_decay else g
        if self.momentum:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = np.array(d, copy=True)  # first step: b = d
            else:
                b *= self.momentum
                b += (1 - self.dampening) * d
            d = d + self.momentum * b if self.nesterov else b
        p.data -= self.lr * d


class Adam(Optimizer):
    r"""Adam: adaptive moment estimation, with bias correction (and optional AMSGrad).

    Parameters
    ----------
    params : iterable of Tensor
        The Tensors to optimise (``module.parameters()`` works).
    lr : float, default 1e-3
        The learning rate, ``>= 0``.
    betas : tuple of float, default (0.9, 0.999)
        ``(b1, b2)``, each in ``[0, 1)``: the decay rates of the moment estimates.
    eps : float, default 1e-8
        ``>= 0``, added to the denominator.
    weight_decay : float, default 0.0
        ``wd >= 0``: L2 penalty added through the gradient (Adam's, not AdamW's decoupled form).
    amsgrad : bool, default False
        Use the running maximum of ``v`` in the denominator (AMSGrad).
    maximize : bool, default False
        Maximise the objective: ``-g`` in place of ``g`` (PyTorch's ``maximize``).

    Raises
    ------
    ValueError
        For ``lr``, ``eps`` or ``weight_decay`` negative or non-finite, or a beta outside
        ``[0, 1)``.
    TypeError
        For a non-real hyperparameter, ``betas`` not a pair, a flag that is not a bool, or a
        params entry that is not a floating Tensor.

    Notes
    -----
    PyTorch's rule, for step :math:`k = 1, 2, \dots` with :math:`d = g + \mathrm{wd}\, p`
    (with ``maximize``, :math:`-g` in place of :math:`g`):

    .. math::
        m_k = m_{k-1} + (1 - \beta_1)(d - m_{k-1}), \qquad
        v_k = \beta_2 v_{k-1} + (1 - \beta_2)\, d^2,

    .. math::
        p \leftarrow p - \frac{\mathrm{lr}}{1 - \beta_1^k} \cdot
        \frac{m_k}{\sqrt{v_k} / \sqrt{1 - \beta_2^k} + \epsilon}

    with :math:`m_0 = v_0 = 0` (AMSGrad uses :math:`\max_{j \le k} v_j` for :math:`v_k` in the
    denominator).  Optimisers are not differentiable ops: there is no VJP.

    References
    ----------
    D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", arXiv:1412.6980, 2014.
    S. J. Reddi, S. Kale, S. Kumar, "On the Convergence of Adam and Beyond" (AMSGrad),
    arXiv:1904.09237, 2019.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> w = nps.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = nps.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.data  # the first step moves each entry by lr * sign(g) (up to eps)
    array([ 0.9, -1.9])
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        self.lr = _real(lr, "lr", "Adam")
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}.")
        self.betas = (
            _real(betas[0], "betas[0]", "Adam", below=1.0),
            _real(betas[1], "betas[1]", "Adam", below=1.0),
        )
        self.eps = _real(eps, "eps", "Adam")
        self.weight_decay = _real(weight_decay, "weight_decay", "Adam")
        self.amsgrad = check_flag(amsgrad, "amsgrad", "Adam")
        self.maximize = check_flag(maximize, "maximize", "Adam")
        self.defaults = {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "amsgrad": self.amsgrad,
            "maximize": self.maximize,
        }
        super().__init__(params)

    def update(self, p: Tensor, g: np.ndarray, state: dict[str, Any]) -> None:
        b1, b2 = self.betas
        g = -g if self.maximize else g
        d = g + self.weight_decay * p.data if self.weight_decay else g
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
            if self.amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        k, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        # m <- lerp(m, d, w) with w = 1 - b1, in torch.lerp's two forms (each exact at its end).
        w = 1 - b1
        if w < 0.5:
            m += w * (d - m)
        else:
            m[...] = d - (d - m) * (1 - w)
        v *= b2
        v += (1 - b2) * d * d
        if self.amsgrad:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        # Bias corrections in Python floats (double), and torch.addcdiv's order of operations.
        step_size = self.lr / (1 - b1**k)
        denom = np.sqrt(v) / (1 - b2**k) ** 0.5 + self.eps
        p.data += (-step_size * m) / denom
