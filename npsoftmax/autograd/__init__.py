"""A small reverse-mode autograd on NumPy: ``Tensor``, ``Function`` and the primitives.

Import order matters only here: ``tensor`` first (it defines ``Tensor``), then the modules that
build on it.
"""

from .tensor import Tensor, tensor  # noqa: I001  (tensor first)
from .grad_mode import is_grad_enabled, no_grad
from .function import Function

__all__ = ["Function", "Tensor", "is_grad_enabled", "no_grad", "tensor"]
