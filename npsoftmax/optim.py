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

As in ``torch.optim``, the hyperparameters live in ``param_groups`` (a list of dicts, one per
parameter group, each with its ``"params"``), which ``step`` reads afresh each time, so
``opt.param_groups[0]["lr"] = 0.01`` (what a learning-rate schedule does) takes effect at the
next step; ``state_dict()`` and ``load_state_dict()`` save and restore the hyperparameters and
the per-parameter state in PyTorch's layout.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from .autograd.grad_mode import no_grad
from .autograd.tensor import Tensor
from .nn._checks import check_flag

__all__ = ["SGD", "Adam", "Optimizer"]

# Options of torch.optim that change what a step computes, which these optimisers do not have: a
# group (or a loaded PyTorch state dict) may carry them only at these values.  PyTorch's other
# implementation options (foreach, fused, capturable) do not change the result and are carried.
_TORCH_ONLY = {"differentiable": False, "decoupled_weight_decay": False}


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


def _step_count(value: Any, where: str) -> int:
    """A saved step count as an int: PyTorch keeps it as a 0-d float tensor (``tensor(3.)``)."""
    arr = np.asarray(value)
    if arr.shape != () or arr.dtype.kind not in "iuf" or not (arr >= 0 and arr == np.floor(arr)):
        raise ValueError(
            f"{where} must be a whole number >= 0 (an int or a 0-d array), got {value!r}."
        )
    return int(arr)


def _copy(value: Any) -> Any:
    """A copy of a state value that shares no memory with it."""
    return value.copy() if isinstance(value, np.ndarray) else copy.deepcopy(value)


class Optimizer:
    """Base class: holds the parameter groups and per-parameter state; subclasses write ``update``.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The Tensors to optimise, e.g. ``module.parameters()`` (a generator is materialised once),
        or PyTorch's parameter groups: dicts with a ``"params"`` entry (the group's Tensors) and
        any hyperparameters that differ from ``defaults`` for that group.
    defaults : dict
        The hyperparameters, by name: the values of every group that does not set its own.

    Attributes
    ----------
    param_groups : list of dict
        One dict per group: ``"params"`` (a list of Tensors) and every hyperparameter.  This is
        the only place the hyperparameters are kept: ``step`` reads them afresh each time, so a
        change (``opt.param_groups[0]["lr"] = 0.01``) applies from the next step.  Values written
        here are not checked (as in PyTorch); ``opt.lr = 0.01``, which writes ``lr`` in every
        group, is.  Reading ``opt.lr`` gives the groups' common value (an ``AttributeError`` if
        they differ).  Other keys of a group (``"initial_lr"``, a name) are kept and ignored.
    state : dict
        Per-parameter state (momentum buffers, moment estimates, step counts), keyed by Tensor.
    defaults : dict
        The constructor's hyperparameters, which fill in the groups that :meth:`add_param_group`
        adds later (as in PyTorch; changing a group does not change them).

    Raises
    ------
    TypeError
        If an entry is not a floating-point Tensor, or a group is not a dict.
    ValueError
        If there is no parameter, the same Tensor appears twice (in one group or in two), a
        hyperparameter is invalid, or an entry is not a leaf (a computed Tensor: its ``.data``
        is remade by every forward, so an update would be lost).

    Notes
    -----
    A subclass passes its hyperparameters as ``defaults``, may check and normalise them in
    ``_check_group(group, owner)`` (called for the defaults and for every group), and writes
    ``update(p, g, state, group)``, which changes ``p.data`` in place; ``step`` calls it, under
    :func:`~npsoftmax.no_grad`, for each parameter whose ``.grad`` is not ``None``, with the
    parameter's group.  Its class attribute ``_state_keys`` (name: required) lists the entries of
    a parameter's state, for :meth:`load_state_dict` to check (each, but ``"step"``, an array of
    the parameter's shape); left ``None``, any entries load, arrays copied as they are.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> class SignSGD(nps.optim.Optimizer):
    ...     def __init__(self, params, lr):
    ...         super().__init__(params, {"lr": lr})
    ...
    ...     def update(self, p, g, state, group):
    ...         p.data -= group["lr"] * (g > 0) - group["lr"] * (g < 0)
    >>> w = nps.tensor([1.0, -2.0], requires_grad=True)
    >>> b = nps.tensor([3.0], requires_grad=True)
    >>> opt = SignSGD([{"params": [w]}, {"params": [b], "lr": 0.25}], lr=0.5)
    >>> opt
    SignSGD(group 0: 1 parameter, lr=0.5; group 1: 1 parameter, lr=0.25)
    >>> ((w * w).sum() + (b * b).sum()).backward()
    >>> opt.step()
    >>> w.data, b.data
    (array([ 0.5, -1.5]), array([2.75]))
    """

    _state_keys: ClassVar[dict[str, bool] | None] = None  # None: any entries, arrays any shape

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], defaults: dict) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors (e.g. model.parameters()), "
                f"got a single Tensor; wrap it in a list."
            )
        defaults = dict(defaults)
        self._check_group(defaults, name)
        self.defaults: dict[str, Any] = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        params = list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list; nothing to optimise.")
        if isinstance(params[0], Mapping):
            for group in params:
                self.add_param_group(group)
        else:
            self._add_group({"params": params}, name)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (a dict with ``"params"``; ``defaults`` fill in the rest).

        As ``torch.optim.Optimizer.add_param_group``: e.g. to unfreeze layers during training.
        The group's hyperparameters are checked as the constructor's are.
        """
        where = f"{type(self).__name__}: param_groups[{len(self.param_groups)}]"
        if not isinstance(param_group, Mapping):
            raise TypeError(f"{where} must be a dict, got {param_group!r}.")
        if "params" not in param_group:
            raise ValueError(f"{where} has no 'params' entry (the group's Tensors).")
        self._add_group(dict(param_group), where)

    def _add_group(self, group: dict[str, Any], owner: str) -> None:
        params = group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{owner}: params must be ordered (a list), not a set.")
        params = [params] if isinstance(params, Tensor) else list(params)
        owners = {id(p): i for i, g in enumerate(self.param_groups) for p in g["params"]}
        seen: set[int] = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or p.dtype.kind != "f":
                what = f"a Tensor of dtype {p.dtype}" if isinstance(p, Tensor) else repr(p)
                raise TypeError(
                    f"{owner}: params[{i}] must be a floating-point Tensor, got {what}."
                )
            if id(p) in seen:
                raise ValueError(f"{owner}: params[{i}] appears more than once in params.")
            if id(p) in owners:
                raise ValueError(
                    f"{owner}: params[{i}] is already in param_groups[{owners[id(p)]}]."
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{owner}: params[{i}] is not a leaf Tensor (it was computed by "
                    f"{p!r}); optimise the Tensors it was computed from."
                )
            seen.add(id(p))
        group = {**self.defaults, **group}
        self._check_group(group, owner)
        group["params"] = params
        self.param_groups.append(group)
        self.state.update({p: {} for p in params})

    def _check_group(self, group: dict[str, Any], owner: str) -> None:
        """Check (and normalise in place) a group's hyperparameters; refuse PyTorch-only options."""
        for key, neutral in _TORCH_ONLY.items():
            if group.get(key, neutral) != neutral:
                raise ValueError(
                    f"{owner}: {key}={group[key]!r} is a torch.optim option that "
                    f"npsoftmax.optim.{type(self).__name__} does not have (only {neutral})."
                )

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: ``None`` (PyTorch's default) or zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
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
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        g = p.grad.astype(p.dtype, copy=False)
                        self.update(p, g, self.state[p], group)
                        p._version += 1  # graphs that kept the old values refuse to run
        return loss

    def update(
        self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        """Update ``p.data`` in place from its gradient ``g``, its ``state`` and its ``group``."""
        raise NotImplementedError(f"{type(self).__name__} does not define update().")

    def state_dict(self) -> dict[str, Any]:
        """The optimiser's state, in ``torch.optim``'s layout, as copies.

        Returns
        -------
        dict
            ``{"state": {i: {...}}, "param_groups": [{...hyperparameters..., "params": [i, ...]}]}``
            where ``i`` numbers the parameters from 0 across the groups, in order, and
            ``"state"`` holds only the parameters that have state (that have taken a step with
            momentum, for SGD).  Buffers are NumPy arrays; a step count is a Python ``int``
            (PyTorch keeps a 0-d float tensor, ``tensor(3.)``).  Nothing in it shares memory
            with the optimiser.

        Examples
        --------
        >>> import npsoftmax as nps
        >>> w = nps.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = nps.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> sd = opt.state_dict()
        >>> sd["state"]
        {0: {'momentum_buffer': array([ 2., -4.])}}
        >>> sd["param_groups"][0]["lr"], sd["param_groups"][0]["params"]
        (0.1, [0])
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            saved = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            saved["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(saved)
        state = {
            index[id(p)]: {k: _copy(v) for k, v in self.state[p].items()}
            for group in self.param_groups
            for p in group["params"]
            if self.state[p]
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict` (or by ``torch.optim``).

        As in PyTorch, the saved groups' hyperparameters replace the current ones, the saved
        groups' ``"params"`` indices are matched with this optimiser's parameters in order, and a
        parameter absent from ``"state"`` starts afresh.  Arrays are copied and cast to their
        parameter's dtype; a step count may be an int or a 0-d array, so a PyTorch optimiser's
        state dict loads once its tensors are NumPy arrays (``t.numpy()``; CPU tensors that need
        no gradient also convert by themselves).  Nothing changes unless all of it is valid.

        Raises
        ------
        TypeError
            If ``state_dict`` or one of its entries is not of the kind described above.
        ValueError
            If the number of groups, or of parameters in a group, differs from this optimiser's,
            an index repeats or has no group, a hyperparameter is missing or invalid, a state
            entry is unknown or missing, or a buffer's shape is not its parameter's.  The
            message names the entry (``param_groups[1]``, ``state[3]['exp_avg']``).

        Examples
        --------
        >>> import npsoftmax as nps
        >>> w = nps.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = nps.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> saved = opt.state_dict()
        >>> fresh = nps.optim.Adam([nps.tensor(w.data, requires_grad=True)])
        >>> fresh.load_state_dict(saved)
        >>> fresh.lr, next(iter(fresh.state.values()))["step"]
        (0.1, 1)
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
            keys = sorted(state_dict) if isinstance(state_dict, Mapping) else state_dict
            raise TypeError(
                f"{name}: expected a dict with keys 'state' and 'param_groups', got {keys!r}."
            )
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)) or not isinstance(saved_state, Mapping):
            raise TypeError(f"{name}: 'param_groups' must be a list and 'state' a dict.")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: the state dict has {len(saved_groups)} parameter groups, this "
                f"optimizer {len(self.param_groups)}."
            )
        by_index: dict[int, Tensor] = {}
        groups = []
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            where = f"{name}: param_groups[{gi}]"
            if not isinstance(saved, Mapping) or "params" not in saved:
                raise TypeError(f"{where} must be a dict with a 'params' entry, got {saved!r}.")
            indices = list(saved["params"])
            if len(indices) != len(group["params"]):
                raise ValueError(
                    f"{where} has {len(indices)} parameters, this optimizer's group "
                    f"{gi} has {len(group['params'])}."
                )
            for index, p in zip(indices, group["params"]):
                if isinstance(index, bool) or not isinstance(index, numbers.Integral):
                    raise TypeError(f"{where}: 'params' holds {index!r}, not an int index.")
                if index in by_index:
                    raise ValueError(f"{where}: parameter index {index} appears more than once.")
                by_index[index] = p
            missing = [k for k in self.defaults if k not in saved]
            if missing:
                raise ValueError(f"{where} lacks the hyperparameter(s) {', '.join(missing)}.")
            new = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            self._check_group(new, where)
            new["params"] = group["params"]
            groups.append(new)
        state: dict[Tensor, dict[str, Any]] = {p: {} for p in self.state}
        for index, entry in saved_state.items():
            if index not in by_index:
                raise ValueError(f"{name}: state[{index!r}] is for no parameter of param_groups.")
            state[by_index[index]] = self._load_entry(
                entry, by_index[index], f"{name}: state[{index!r}]"
            )
        self.param_groups, self.state = groups, state

    def _load_entry(self, entry: Any, p: Tensor, where: str) -> dict[str, Any]:
        """One parameter's saved state, checked against ``_state_keys`` and copied."""
        if not isinstance(entry, Mapping):
            raise TypeError(f"{where} must be a dict, got {entry!r}.")
        keys = self._state_keys
        if keys is not None:
            unknown = [k for k in entry if k not in keys]
            missing = [k for k, required in keys.items() if required and k not in entry]
            if unknown or (entry and missing):
                problem = f"unknown {unknown}" if unknown else f"missing {missing}"
                raise ValueError(
                    f"{where} has {problem} entries; {type(self).__name__} keeps {list(keys)}."
                )
        out: dict[str, Any] = {}
        for key, value in entry.items():
            if key == "step":
                out[key] = _step_count(value, f"{where}['step']")
            elif value is not None and (keys is not None or isinstance(value, np.ndarray)):
                arr = np.asarray(value)
                if arr.dtype.kind not in "iuf" or arr.shape != p.shape:
                    raise ValueError(
                        f"{where}[{key!r}] must be a real array of its parameter's shape "
                        f"{p.shape}, got {arr.dtype} of shape {arr.shape}."
                    )
                out[key] = np.array(arr, dtype=p.dtype, copy=True)
            else:
                out[key] = copy.deepcopy(value)
        return out

    def __getattr__(self, name: str) -> Any:
        # Only called when ordinary lookup fails: ``opt.lr`` reads the groups' common value.
        groups = self.__dict__.get("param_groups")
        if groups and name in self.__dict__.get("defaults", ()):
            values = [group[name] for group in groups]
            if any(v != values[0] for v in values):
                raise AttributeError(
                    f"{type(self).__name__}.{name}: the parameter groups differ ({values}); "
                    f"read opt.param_groups[i][{name!r}]."
                )
            return values[0]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        # ``opt.lr = 0.01`` writes, checked, into every group: no second copy to go stale.
        if name in self.__dict__.get("defaults", ()):
            groups = [{**group, name: value} for group in self.param_groups]
            for i, group in enumerate(groups):
                self._check_group(group, f"{type(self).__name__}: param_groups[{i}]")
            for group, new in zip(self.param_groups, groups):
                group[name] = new[name]
        else:
            super().__setattr__(name, value)

    def __repr__(self) -> str:
        parts = []
        for group in self.param_groups:
            n = len(group["params"])
            options = "".join(f", {k}={group[k]!r}" for k in self.defaults)
            parts.append(f"{n} parameter{'' if n == 1 else 's'}{options}")
        if len(parts) == 1:
            return f"{type(self).__name__}({parts[0]})"
        return f"{type(self).__name__}({'; '.join(f'group {i}: {s}' for i, s in enumerate(parts))})"


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The Tensors to optimise (``module.parameters()`` works), or parameter groups: dicts
        with ``"params"`` and the hyperparameters of that group (the arguments below are the
        defaults of the groups that leave them out), as in ``torch.optim``.
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
    >>> opt.param_groups[0]["lr"] = 0.5  # a schedule's change: read by the next step
    >>> opt.lr, repr(opt)[:28]
    (0.5, 'SGD(1 parameter, lr=0.5, mom')
    >>> opt.state_dict()["state"][0]["momentum_buffer"]  # b2 = 3.4 w0
    array([ 3.4, -6.8])
    """

    _state_keys: ClassVar[dict[str, bool] | None] = {"momentum_buffer": True}

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], owner: str) -> None:
        super()._check_group(group, owner)
        group["lr"] = _real(group["lr"], "lr", owner)
        group["momentum"] = _real(group["momentum"], "momentum", owner)
        group["dampening"] = _real(group["dampening"], "dampening", owner, low=-math.inf)
        group["weight_decay"] = _real(group["weight_decay"], "weight_decay", owner)
        group["nesterov"] = check_flag(group["nesterov"], "nesterov", owner)
        group["maximize"] = check_flag(group["maximize"], "maximize", owner)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"{owner}: nesterov=True needs momentum > 0 and dampening = 0, got momentum="
                f"{group['momentum']} and dampening={group['dampening']}."
            )

    def update(
        self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        mu, wd = group["momentum"], group["weight_decay"]
        g = -g if group["maximize"] else g
        d = g + wd * p.data if wd else g
        if mu:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = np.array(d, copy=True)  # first step: b = d
            else:
                b *= mu
                b += (1 - group["dampening"]) * d
            d = d + mu * b if group["nesterov"] else b
        p.data -= group["lr"] * d


class Adam(Optimizer):
    r"""Adam: adaptive moment estimation, with bias correction (and optional AMSGrad).

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The Tensors to optimise (``module.parameters()`` works), or parameter groups: dicts
        with ``"params"`` and the hyperparameters of that group (the arguments below are the
        defaults of the groups that leave them out), as in ``torch.optim``.
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
    >>> sorted(opt.state_dict()["state"][0])  # PyTorch's names (with amsgrad: max_exp_avg_sq)
    ['exp_avg', 'exp_avg_sq', 'step']
    """

    _state_keys: ClassVar[dict[str, bool] | None] = {
        "step": True,
        "exp_avg": True,
        "exp_avg_sq": True,
        "max_exp_avg_sq": False,
    }

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], owner: str) -> None:
        super()._check_group(group, owner)
        group["lr"] = _real(group["lr"], "lr", owner)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}.")
        group["betas"] = (
            _real(betas[0], "betas[0]", owner, below=1.0),
            _real(betas[1], "betas[1]", owner, below=1.0),
        )
        group["eps"] = _real(group["eps"], "eps", owner)
        group["weight_decay"] = _real(group["weight_decay"], "weight_decay", owner)
        group["amsgrad"] = check_flag(group["amsgrad"], "amsgrad", owner)
        group["maximize"] = check_flag(group["maximize"], "maximize", owner)

    def update(
        self, p: Tensor, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        b1, b2 = group["betas"]
        wd = group["weight_decay"]
        g = -g if group["maximize"] else g
        d = g + wd * p.data if wd else g
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
        if group["amsgrad"] and state.get("max_exp_avg_sq") is None:
            state["max_exp_avg_sq"] = np.zeros_like(p.data)  # (also if amsgrad is switched on)
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
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        # Bias corrections in Python floats (double), and torch.addcdiv's order of operations.
        step_size = group["lr"] / (1 - b1**k)
        denom = np.sqrt(v) / (1 - b2**k) ** 0.5 + group["eps"]
        p.data += (-step_size * m) / denom
