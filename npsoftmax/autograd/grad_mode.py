"""Grad mode: whether operations on Tensors record the graph (:func:`no_grad` turns it off).

One flag for the process, read by :meth:`Function.apply` at each operation; PyTorch keeps the
same switch in ``torch.autograd.grad_mode``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["is_grad_enabled", "no_grad"]

_grad_enabled = True


def is_grad_enabled() -> bool:
    """Return whether operations on Tensors currently record the graph.

    Returns
    -------
    bool
        False inside a :func:`no_grad` block, True elsewhere.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> nps.is_grad_enabled()
    True
    >>> with nps.no_grad():
    ...     nps.is_grad_enabled()
    False
    """
    return _grad_enabled


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Context manager in which no graph is recorded (inference, optimiser updates).

    Yields
    ------
    None
        Inside the block, results of Tensor operations have ``requires_grad=False``.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> w = nps.tensor([1.0, 2.0], requires_grad=True)
    >>> with nps.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous
