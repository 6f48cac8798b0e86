"""The engine: reverse-mode traversal of the graph that Tensors record.

Legend: ``g`` is a gradient flowing backwards; a *node* is the :class:`Function` instance that
produced a Tensor (``t._ctx``); a *leaf* is a Tensor made by the user (no node).

:func:`backpropagate` visits the graph in reverse topological order (an iterative sort, so a
chain of 100,000 ops needs no recursion), asks each node for the gradients of its inputs, reduces
each one to its input's shape with :func:`~npsoftmax.autograd.shapes.unbroadcast` (the only place
that happens), checks that shape, casts it to the input's dtype, sums the contributions of every
path, and accumulates the result into the ``.grad`` of leaves (and of Tensors that asked for it
with ``retain_grad``).

Copies: a gradient that the engine made (a sum of two paths, an unbroadcast sum, a cast) or that
an op declares its own (:attr:`Function.owns_grads`) is *owned*: nothing else refers to it.  An
owned gradient becomes a leaf's ``.grad`` as it is, and a second path adds into it in place;
any other is copied first, since it may be the upstream gradient itself, a view of it, or one
array handed to several inputs.  (PyTorch's engine steals a gradient that nothing else holds,
for the same reason: a ``MixtureOfSoftmaxes(5, 256, 10000)`` step made 51 MB of copies.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .shapes import unbroadcast

if TYPE_CHECKING:
    from .tensor import Tensor


def backpropagate(root: Tensor, grad: np.ndarray) -> None:
    """Send ``grad`` from ``root`` to every leaf, node by node in reverse topological order."""
    # id(tensor) -> (its gradient so far, whether the engine owns that array)
    grads: dict[int, tuple[np.ndarray, bool]] = {id(root): (grad, False)}
    for node in reversed(topological_order(root)):
        entry = grads.pop(id(node), None)
        if entry is None:
            continue
        g, owned = entry
        fn = node._ctx
        if fn is None:
            node._accumulate(g, owned)
            continue
        if node._retain_grad:
            node._accumulate(g)  # a copy: g goes on to the backward below
        check_unmodified(fn)
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
            made = fn.owns_grads and gi is not g
            gi = np.asarray(gi)
            reduced = unbroadcast(gi, inp.shape)
            if reduced.shape != inp.shape:
                raise ValueError(
                    f"{type(fn).__name__}.backward returned a gradient of shape "
                    f"{reduced.shape} for input {i}, whose shape is {inp.shape}."
                )
            cast = np.asarray(reduced.astype(inp.dtype, copy=False))
            mine = made or cast is not gi  # a new array: the op's own, or a sum, or a cast
            previous = grads.get(id(inp))
            if previous is None:
                grads[id(inp)] = (cast, mine)
            elif previous[1]:
                np.add(previous[0], cast, out=previous[0])
            else:
                # asarray: for 0-d operands + gives a NumPy scalar, which a third path could
                # not add into in place.
                grads[id(inp)] = (np.asarray(previous[0] + cast), True)


def check_unmodified(fn: Any) -> None:
    """Raise ``RuntimeError`` if an input of node ``fn`` was changed in place (an optimizer step)
    since its forward ran, and ``fn`` kept that input's values for its backward.

    As in PyTorch, the check is on what the backward reads: a node that saved an input's array
    (or a view of it) would differentiate at the new values, a silently wrong gradient; a node
    that kept nothing of it (an addition) is still right.  Each Tensor counts its in-place
    changes in ``_version``; ``Function.apply`` notes the counts it saw.
    """
    for i, (t, seen) in enumerate(zip(fn.inputs, fn.input_versions)):
        if t._version != seen and _keeps(fn, t.data):
            from .dispatch import _op_name  # (dispatch imports this module's importers)

            op = _op_name(type(fn))
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an "
                f"in-place operation: input {i} of {op} (a Tensor of shape "
                f"{t.shape}, {t.dtype}) is at version {t._version}; expected version {seen}. "
                f"An optimizer step changes its parameters in place: differentiate before the "
                f"step, or compute the loss again after it."
            )


def _keeps(fn: Any, data: np.ndarray) -> bool:
    """Whether an array that ``fn`` holds (saved arrays, attributes) may share ``data``'s memory."""
    stack = [v for k, v in vars(fn).items() if k != "inputs"]
    while stack:
        v = stack.pop()
        if isinstance(v, np.ndarray):
            if np.may_share_memory(v, data):
                return True
        elif isinstance(v, (tuple, list)):
            stack.extend(v)
    return False


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
