"""Public testing tools for npsoftmax and for implementers who test their own kernels against it.

``check_grads`` compares an op's reverse-mode gradients with finite differences.  Explicit
re-exports only: add each new public name here and to ``__all__``.
"""

from .gradcheck import check_grads

__all__ = ["check_grads"]
