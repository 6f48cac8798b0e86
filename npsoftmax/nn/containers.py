"""Containers: ``Sequential`` (a pipeline) and ``ModuleList`` (an indexable list of modules)."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator
from typing import Any

from .module import Module

__all__ = ["ModuleList", "Sequential"]


def _check_module(value: Any, owner: str, where: str) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{owner}: {where} must be a Module, got {type(value).__name__}.")
    return value


class ModuleList(Module):
    """A list of Modules; parameters named ``0.weight``, ``1.weight`` and so on (**container**).

    Parameters
    ----------
    modules : iterable of Module, optional
        The initial modules.

    Raises
    ------
    TypeError
        If an element is not a Module, or an index is not an integer.
    IndexError
        If an index is out of range.

    Shape
    -----
    Not callable: a ModuleList only holds modules; the owner decides how to apply them.

    Notes
    -----
    The modules live in the attribute ``_modules`` (a plain list), so ``named_parameters`` names
    them by position exactly as PyTorch does: a model holding ``self.layers = ModuleList(...)``
    has parameters ``layers.0.weight``, ``layers.1.weight``, ...  No forward formula or VJP: it
    computes nothing.

    References
    ----------
    .. [1] Paszke et al., "PyTorch: An Imperative Style, High-Performance Deep Learning Library",
       NeurIPS 2019, arXiv:1912.01703 (``torch.nn.ModuleList``).

    Examples
    --------
    >>> import npsoftmax as nps
    >>> layers = nps.nn.ModuleList([nps.nn.Linear(2, 2, rng=0) for _ in range(2)])
    >>> layers.append(nps.nn.Softmax())
    ModuleList(
      (0): Linear(in_features=2, out_features=2, bias=True)
      (1): Linear(in_features=2, out_features=2, bias=True)
      (2): Softmax(axis=-1)
    )
    >>> len(layers), [name for name, _ in layers.named_parameters()][:2]
    (3, ['0.weight', '0.bias'])
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        self._modules: list[Module] = []
        if modules is not None:
            self.extend(modules)

    def _members(self) -> Iterator[tuple[str, Any]]:
        # Positions are the names (no "_modules." prefix), as in PyTorch; then whatever else a
        # subclass stores, named as any Module's attributes are.
        yield from ((str(i), m) for i, m in enumerate(self._modules))
        for name, member in super()._members():
            if name.split(".", 1)[0] != "_modules":
                yield name, member

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end; return ``self``."""
        self._modules.append(_check_module(module, type(self).__name__, "append's argument"))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add every module of ``modules`` at the end; return ``self``."""
        owner = type(self).__name__
        self._modules.extend(_check_module(m, owner, "every element") for m in modules)
        return self

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            # A container of the same kind holding the selected modules (not copies).
            part = type(self).__new__(type(self))
            Module.__init__(part)
            part._modules = self._modules[index]
            return part
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(
                f"{type(self).__name__} indices must be integers or slices, got "
                f"{type(index).__name__}."
            )
        n = len(self._modules)
        if not -n <= index < n:
            raise IndexError(
                f"{type(self).__name__} index {index} is out of range for {n} modules."
            )
        return self._modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules)


class Sequential(ModuleList):
    r"""Apply modules one after the other: ``Sequential(f, g)(x) == g(f(x))`` (**container**).

    Parameters
    ----------
    *modules : Module
        The stages, applied in order.

    Raises
    ------
    TypeError
        If a stage is not a Module.

    Shape
    -----
    * input: what the first stage takes;
    * output: what the last stage returns (the input itself when there is no stage).

    Notes
    -----
    Forward :math:`y = f_n(\cdots f_1(x))`; VJP by the chain rule,
    :math:`\bar{x} = J_{f_1}^\top \cdots J_{f_n}^\top g`, which the engine does stage by stage.
    Parameters are named by position (``0.weight``, ...), as in PyTorch.  A slice
    (``model[1:]``) is numbered from 0 again, like a ``ModuleList``'s; PyTorch's
    ``Sequential`` slice keeps the original numbers (``1.weight``).

    References
    ----------
    .. [1] Paszke et al., "PyTorch: An Imperative Style, High-Performance Deep Learning Library",
       NeurIPS 2019, arXiv:1912.01703 (``torch.nn.Sequential``).

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> model = nps.nn.Sequential(nps.nn.Linear(4, 3, rng=0), nps.nn.Softmax())
    >>> model(np.ones((2, 4))).data.sum(axis=-1)
    array([1., 1.])
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    def forward(self, x: Any) -> Any:
        """Feed ``x`` through every stage in order."""
        for module in self._modules:
            x = module(x)
        return x
