"""Helpers for the nn tests: run a module with its parameters replaced by given Tensors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from npsoftmax.nn import Module, ModuleList


def set_by_name(module: Module, name: str, value: Any) -> None:
    """Set the attribute at dotted ``name`` (``softmax_layers.0.weight``) to ``value``."""
    *path, last = name.split(".")
    obj: Any = module
    for part in path:
        obj = obj[int(part)] if isinstance(obj, ModuleList) else getattr(obj, part)
    setattr(obj, last, value)


def as_function(module: Module, call: Callable[[Module, Any], Any]) -> tuple[Callable, list]:
    """``(f, values)`` with ``f(x, *params) = call(module, x)`` for check_grads.

    ``f`` puts the given Tensors in place of the module's parameters (so gradients flow to
    them), calls, and puts the parameters back.
    """
    names, params = zip(*module.named_parameters())

    def f(x: Any, *tensors: Any) -> Any:
        try:
            for name, t in zip(names, tensors):
                set_by_name(module, name, t)
            return call(module, x)
        finally:
            for name, p in zip(names, params):
                set_by_name(module, name, p)

    return f, [p.data for p in params]
