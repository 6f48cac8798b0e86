"""``Module`` and ``Parameter``: the building blocks of models, found by walking attributes.

A :class:`Module` holds :class:`Parameter` objects and other Modules as plain attributes (or inside
plain lists, tuples and dicts of them).  There is no registration: ``named_parameters()`` walks the
instance's ``__dict__`` in insertion order, descending into Modules, lists, tuples and dicts, and
builds PyTorch's dotted names from the path (``softmax_layers.0.weight``).  A Parameter or Module
reachable along two paths (weight tying, a shared layer) is yielded once, under its first name;
``state_dict`` lists it under every name, as PyTorch's does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from ..autograd.tensor import Tensor
from ._checks import FLOAT_DTYPES
from ._state import match_state

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
    layout (a tied weight under each of its names), so a PyTorch checkpoint loads by name::

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

    def named_parameters(
        self, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted name, parameter)`` in attribute insertion order, depth first.

        A Parameter or Module reachable along several paths is yielded (walked) once, under its
        first name; with ``remove_duplicate=False``, under every name, as PyTorch's
        ``state_dict`` lists it (a cycle of Modules is still not followed around).
        """
        seen: set[int] = set()
        # Depth-first over members in insertion order; an explicit stack, no recursion.  Each
        # entry carries the ids of the Modules above it, which is what stops a cycle when
        # duplicates are kept.
        stack: list[tuple[str, Any, frozenset[int]]] = [(prefix, self, frozenset())]
        while stack:
            name, item, above = stack.pop()
            if isinstance(item, Parameter):
                if not (remove_duplicate and id(item) in seen):
                    seen.add(id(item))
                    yield name, item
            elif id(item) not in (seen if remove_duplicate else above):
                seen.add(id(item))
                path = above if remove_duplicate else above | {id(item)}  # (only then read)
                below = [(_join(name, n), m, path) for n, m in item._members()]
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
        """Return ``{dotted name: copy of the parameter's values}`` (NumPy arrays).

        A tied Parameter appears under each of its names, as in PyTorch's ``state_dict``.
        """
        paths = self.named_parameters(remove_duplicate=False)
        return {name: p.data.copy() for name, p in paths}

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
            have and report the others.  A tied Parameter is provided by any one of its names
            (several must agree).

        Returns
        -------
        IncompatibleKeys
            ``(missing_keys, unexpected_keys)``, both empty after a strict load.

        Raises
        ------
        TypeError
            If ``state_dict`` is not a mapping, or a value is not numeric.
        ValueError
            If a value's shape differs from its parameter's, or two names of a tied Parameter
            hold different values (always), or, when ``strict``, names are missing or
            unexpected.  Nothing is loaded when an error is raised.

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
        paths = list(self.named_parameters(remove_duplicate=False))
        updates, missing, unexpected = match_state(paths, state_dict, strict, type(self).__name__)
        for p, arr in updates:
            # The module keeps its dtype: values are cast to the parameter's (a fresh copy, so the
            # module never aliases the caller's arrays).
            p.data = np.array(arr, dtype=p.dtype, copy=True)
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
