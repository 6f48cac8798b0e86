"""The engine: reverse-mode traversal of the graph that Tensors record.

Legend: ``g`` is a gradient flowing backwards; a *node* is the :class:`Function` instance that
produced a Tensor (``t._ctx``); a *leaf* is a Tensor made by the user (no node).

:func:`backpropagate` visits the graph in reverse topological order (an iterative sort, so a
chain of 100,000 ops needs no recursion), asks each node for the gradients of its inputs, reduces
each one to its input's shape with :func:`~npsoftmax.autograd.shapes.unbroadcast` (the only place
that happens), checks that shape, casts it to the input's dtype, sums the contributions of every
path, and accumulates the result into the ``.grad`` of leaves (and of Tensors that asked for it
with ``retain_grad``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .shapes import unbroadcast

if TYPE_CHECKING:
    from .tensor import Tensor


def backpropagate(root: Tensor, grad: np.ndarray) -> None:
    """Send ``grad`` from ``root`` to every leaf, node by node in reverse topological order."""
    grads: dict[int, np.ndarray] = {id(root): grad}
    for node in reversed(topological_order(root)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        fn = node._ctx
        if fn is None or node._retain_grad:
            node._accumulate(g)
        if fn is None:
            continue
        in_grads = fn.backward(g)
        if not isinstance(in_grads, tuple) or len(in_grads) != len(fn.inputs):
            raise ValueError(
                f"{type(fn).__name__}.backward must return a tuple with one entry per "
                f"input ({len(fn.inputs)}), got {type(in_grads).__name__} of length "
                f"{len(in_grads) if isinstance(in_grads, tuple) else 'n/a'}."
            )
        for i, (inp, gi) in enumerate(zip(fn.inputs, in_grads)):
            if gi is None or not inp.requires_grad:
                continue
            gi = unbroadcast(np.asarray(gi), inp.shape)
            if gi.shape != inp.shape:
                raise ValueError(
                    f"{type(fn).__name__}.backward returned a gradient of shape "
                    f"{gi.shape} for input {i}, whose shape is {inp.shape}."
                )
            gi = gi.astype(inp.dtype, copy=False)
            previous = grads.get(id(inp))
            # Never add in place here: an op may hand the same array to several inputs.
            grads[id(inp)] = gi if previous is None else previous + gi


def topological_order(root: Tensor) -> list[Tensor]:
    """Nodes reachable from ``root`` that require grad, inputs before outputs (iterative DFS)."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            for inp in node._ctx.inputs:
                if inp.requires_grad and id(inp) not in visited:
                    stack.append((inp, False))
    return order
