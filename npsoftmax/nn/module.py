"""``Module`` and ``Parameter``: the building blocks of models, found by walking attributes.

A :class:`Module` holds :class:`Parameter` objects and other Modules as plain attributes (or inside
plain lists, tuples and dicts of them).  There is no registration: ``named_parameters()`` walks the
instance's ``__dict__`` in insertion order, descending into Modules, lists, tuples and dicts, and
builds PyTorch's dotted names from the path (``softmax_layers.0.weight``).  A Parameter or Module
reachable along two paths (weight tying, a shared layer) is yielded once, under its first name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from ..autograd.tensor import Tensor
from ._checks import FLOAT_DTYPES

__all__ = ["IncompatibleKeys", "Module", "Parameter"]


class Parameter(Tensor):
    """A :class:`~npsoftmax.Tensor` that is a trainable weight of a :class:`Module`.

    Parameters
    ----------
    data : array_like
        The initial values, float32 or float64 (copied, so the caller's array is never aliased).
    requires_grad : bool, default True
        Whether the optimiser should see gradients for it.

    Raises
    ------
    TypeError
        If ``data`` is not float32 or float64 (integers, float16, objects).

    Notes
    -----
    A Parameter is a leaf: ``backward`` accumulates ``d loss / d p`` into ``p.grad``.  Being a
    Parameter (not a plain Tensor) is what makes ``Module.named_parameters`` find it.

    References
    ----------
    .. [1] Paszke et al., "PyTorch: An Imperative Style, High-Performance Deep Learning Library",
       NeurIPS 2019, arXiv:1912.01703 (the ``torch.nn.Parameter`` interface followed here).

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> w = nps.nn.Parameter(np.array([1.0, 2.0]))
    >>> (w * w).sum().backward()
    >>> w.grad
    array([2., 4.])
    """

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        arr = np.array(data.data if isinstance(data, Tensor) else data, copy=True)
        if arr.dtype not in FLOAT_DTYPES:
            raise TypeError(
                f"A Parameter must hold float32 or float64 values, got dtype {arr.dtype}."
            )
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` did not match: names missing and names unexpected.

    A named tuple ``(missing_keys, unexpected_keys)`` of lists of dotted names, as PyTorch's
    ``load_state_dict`` returns; its repr is ``<All keys matched successfully>`` when both are
    empty.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> layer = nps.nn.Linear(2, 3)
    >>> layer.load_state_dict(layer.state_dict())
    <All keys matched successfully>
    >>> nps.nn.IncompatibleKeys(missing_keys=["bias"], unexpected_keys=[])
    IncompatibleKeys(missing_keys=['bias'], unexpected_keys=[])
    """

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"IncompatibleKeys(missing_keys={self.missing_keys}, "
            f"unexpected_keys={self.unexpected_keys})"
        )


def _direct_members(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """Parameters and Modules held by ``value`` (a list, tuple or dict, possibly nested).

    Does not descend into Modules: each Module names its own members.
    """
    if isinstance(value, (Parameter, Module)):
        yield prefix, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _direct_members(item, f"{prefix}.{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _direct_members(item, f"{prefix}.{key}")


class Module:
    """Base class of every layer and model: parameters found by walking attributes.

    A subclass calls ``super().__init__()``, stores its Parameters and sub-Modules as attributes
    (or in lists, tuples and dicts), and defines ``forward``.  Calling the module calls
    ``forward``.

    Parameters
    ----------
    None; subclasses define their own and call ``super().__init__()`` first.

    Attributes
    ----------
    training : bool
        ``True`` after :meth:`train`, ``False`` after :meth:`eval`; modules whose behaviour
        differs between the two (sampling, dropout) read it.

    Raises
    ------
    NotImplementedError
        When called, if the subclass defines no ``forward``.

    Notes
    -----
    A Module computes nothing itself: its forward formula and VJP are those of the ops its
    ``forward`` calls, differentiated by the engine.

    ``named_parameters`` yields in attribute insertion order, depth first, each Parameter once
    (under the first name that reaches it), so tied weights are counted and optimised once.
    ``state_dict`` and ``load_state_dict`` use the same dotted names as PyTorch for the same
    layout, so a PyTorch checkpoint loads by name::

        module.load_state_dict({k: v.numpy() for k, v in torch_module.state_dict().items()})

    References
    ----------
    .. [1] Paszke et al., "PyTorch: An Imperative Style, High-Performance Deep Learning Library",
       NeurIPS 2019, arXiv:1912.01703 (the ``torch.nn.Module`` interface followed here).

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> class Scale(nps.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.s = nps.nn.Parameter(np.array([2.0]))
    ...
    ...     def forward(self, x):
    ...         return x * self.s
    >>> m = Scale()
    >>> m(np.array([1.0, 3.0]))
    tensor([2., 6.], grad_fn=<MulFunction>)
    >>> [name for name, _ in m.named_parameters()]
    ['s']
    >>> m.state_dict()
    {'s': array([2.])}
    """

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Compute the module's output; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward().")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- walking the tree -------------------------------------------------------------------
    def _members(self) -> Iterator[tuple[str, Any]]:
        for name, value in vars(self).items():
            yield from _direct_members(value, name)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``(name, module)`` for the direct sub-Modules, each once."""
        seen: set[int] = set()
        for name, member in self._members():
            if isinstance(member, Module) and id(member) not in seen:
                seen.add(id(member))
                yield name, member

    def children(self) -> Iterator[Module]:
        """Yield the direct sub-Modules."""
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Yield ``(dotted name, module)`` for this module (name ``prefix``) and all below it.

        Each Module is yielded once, so a cycle or a shared sub-Module cannot loop.
        """
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            below = [(_join(name, n), m) for n, m in module.named_children()]
            stack.extend(reversed(below))  # reversed: pop them in insertion order

    def modules(self) -> Iterator[Module]:
        """Yield this module and every Module below it, each once."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted name, parameter)`` in attribute insertion order, depth first.

        A Parameter reachable along several paths is yielded once, under its first name.
        """
        seen_params: set[int] = set()
        seen_modules: set[int] = set()
        # Depth-first over members in insertion order; an explicit stack, no recursion.
        stack: list[tuple[str, Any]] = [(prefix, self)]
        while stack:
            name, item = stack.pop()
            if isinstance(item, Parameter):
                if id(item) not in seen_params:
                    seen_params.add(id(item))
                    yield name, item
            elif id(item) not in seen_modules:
                seen_modules.add(id(item))
                below = [(_join(name, n), m) for n, m in item._members()]
                stack.extend(reversed(below))

    def parameters(self) -> Iterator[Parameter]:
        """Yield every Parameter once (what an optimiser takes)."""
        for _, p in self.named_parameters():
            yield p

    # -- training state ---------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (``None`` by default, zeros if not ``set_to_none``)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    def train(self, mode: bool = True) -> Module:
        """Set ``training`` to ``mode`` on this module and every module below; return ``self``."""
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"train(mode) expects a bool, got {mode!r}.")
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Set ``training = False`` on this module and every module below; return ``self``."""
        return self.train(False)

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Return ``{dotted name: copy of the parameter's values}`` (NumPy arrays)."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into the parameters with the same dotted names.

        Parameters
        ----------
        state_dict : Mapping[str, array_like]
            Name -> values, e.g. from :meth:`state_dict`, :func:`npsoftmax.nn.load`'s file or a
            PyTorch ``state_dict`` converted with ``{k: v.numpy() for k, v in sd.items()}``.
        strict : bool, default True
            Refuse a missing or unexpected name.  With ``False``, load the names both sides
            have and report the others.

        Returns
        -------
        IncompatibleKeys
            ``(missing_keys, unexpected_keys)``, both empty after a strict load.

        Raises
        ------
        TypeError
            If ``state_dict`` is not a mapping, or a value is not numeric.
        ValueError
            If a value's shape differs from its parameter's (always), or, when ``strict``,
            names are missing or unexpected.  Nothing is loaded when an error is raised.

        Examples
        --------
        >>> import numpy as np
        >>> import npsoftmax as nps
        >>> layer = nps.nn.Linear(2, 1, rng=0)
        >>> layer.load_state_dict({"weight": np.array([[1.0, 2.0]]), "bias": np.zeros(1)})
        <All keys matched successfully>
        >>> layer.load_state_dict({"weight": np.ones((1, 2))}, strict=False)
        IncompatibleKeys(missing_keys=['bias'], unexpected_keys=[])

        A PyTorch ``state_dict`` of the same layout loads the same way, after
        ``{k: v.detach().numpy() for k, v in torch_module.state_dict().items()}``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict expects a mapping of names to arrays, got "
                f"{type(state_dict).__name__}."
            )
        params = dict(self.named_parameters())
        missing = [name for name in params if name not in state_dict]
        unexpected = [name for name in state_dict if name not in params]
        if strict and (missing or unexpected):
            raise ValueError(
                f"load_state_dict: the state does not match {type(self).__name__}: missing "
                f"keys {missing}, unexpected keys {unexpected}."
            )
        # Check every value before writing any, so that a refused state leaves the module as is.
        values = {}
        for name, p in params.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            arr = np.asarray(value.data if isinstance(value, Tensor) else value)
            if arr.dtype.kind not in "biuf":
                raise TypeError(
                    f"load_state_dict: entry '{name}' must be a numeric array, got dtype "
                    f"{arr.dtype}."
                )
            if arr.shape != p.shape:
                raise ValueError(
                    f"load_state_dict: entry '{name}' has shape {arr.shape}, but the parameter "
                    f"has shape {p.shape}."
                )
            values[name] = arr
        for name, arr in values.items():
            # The module keeps its dtype: values are cast to the parameter's (a fresh copy, so the
            # module never aliases the caller's arrays).
            params[name].data = np.array(arr, dtype=params[name].dtype, copy=True)
        return IncompatibleKeys(missing, unexpected)

    # -- printing ---------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The hyperparameters shown inside ``Name(...)`` by ``repr``; override to add them."""
        return ""

    def __repr__(self) -> str:
        lines = [
            f"({name}): " + repr(child).replace("\n", "\n  ")
            for name, child in self.named_children()
        ]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        extra = [self.extra_repr()] if self.extra_repr() else []
        body = "\n  ".join([*extra, *lines])
        return f"{type(self).__name__}(\n  {body}\n)"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
