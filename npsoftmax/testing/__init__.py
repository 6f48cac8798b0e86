"""Public testing tools for npsoftmax and for implementers who test their own kernels against it.

* :func:`check_grads` compares an op's reverse-mode gradients with finite differences.
* :func:`check_softmax_like`, :func:`check_log_softmax_like`, :func:`check_logsumexp_like` and
  :func:`check_sparsemax_like` test ANY NumPy function against npsoftmax's properties and
  reference, and report the smallest failing input (module :mod:`npsoftmax.testing.properties`).
* :mod:`npsoftmax.testing.strategies` holds the Hypothesis strategies for logits they use.

The property checks and the strategies need Hypothesis, a test extra: they are loaded on first
use, so ``import npsoftmax`` works without it.  Explicit re-exports only: add each new public
name here and to ``__all__``.
"""

from __future__ import annotations

import importlib
from typing import Any

from .gradcheck import check_grads

__all__ = [
    "check_grads",
    "check_log_softmax_like",
    "check_logsumexp_like",
    "check_softmax_like",
    "check_sparsemax_like",
    "properties",
    "strategies",
]

# Name -> submodule that defines it; imported on first access (PEP 562) because they import
# Hypothesis, which a plain install of npsoftmax does not have.
_LAZY = {
    "check_log_softmax_like": "properties",
    "check_logsumexp_like": "properties",
    "check_softmax_like": "properties",
    "check_sparsemax_like": "properties",
    "properties": None,
    "strategies": None,
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'npsoftmax.testing' has no attribute {name!r}")
    module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
    value = module if _LAZY[name] is None else getattr(module, name)
    globals()[name] = value  # cache: later lookups no longer reach __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
