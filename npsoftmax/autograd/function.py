"""The ``Function`` base class: one differentiable op, and the graph node that remembers it.

A subclass writes ``forward(*arrays, **params)``, which takes NumPy arrays and returns ONE array,
and directly below it ``backward(grad_out)``, which returns one gradient per input (``None``
where none is needed).  ``apply`` runs the forward on the inputs' data and, when some input
requires a gradient, wires the result into the graph with the instance as its node.  The engine
(``Tensor.backward``) then calls ``backward`` once per node, unbroadcasts what it returns to each
input's shape, checks that shape and keeps each input's dtype, so an op never does any of that.

Example
-------
>>> import numpy as np
>>> from npsoftmax.autograd import Function, tensor
>>> class Square(Function):
...     def forward(self, x):
...         self.save_for_backward(x)
...         return x * x
...
...     def backward(self, g):
...         # d(x^2) = 2x dx
...         (x,) = self.saved_arrays
...         return (2 * x * g,)
>>> t = tensor([3.0], requires_grad=True)
>>> Square.apply(t).backward(np.ones(1))
>>> t.grad
array([6.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .grad_mode import is_grad_enabled
from .tensor import Tensor, as_tensor


class Function:
    """Base class of every differentiable op (primitive, fused op or graph node of a composite).

    Attributes
    ----------
    inputs : tuple of Tensor
        The op's inputs, set by :meth:`apply` when the result joins the graph.
    needs_input_grad : tuple of bool
        For each input, whether it requires a gradient; set before ``forward`` runs, so that a
        forward can skip saving what no backward will use.
    saved_arrays : tuple of numpy.ndarray
        What ``forward`` kept for ``backward`` (see :meth:`save_for_backward`).
    input_versions : tuple of int
        Each input's ``_version`` when the forward ran: the engine refuses to differentiate
        the node if an input whose array it kept has been changed in place since.
    owns_grads : bool
        Class attribute, False by default.  True declares that ``backward`` returns arrays of
        its own: made by this call, distinct from one another, and neither the upstream
        gradient nor a view of it, of an input or of a saved array.  The engine then keeps them
        without a copy (as a leaf's ``.grad``, or to add another path's gradient into).

    Examples
    --------
    A new op is a subclass with ``forward`` on arrays and ``backward`` returning one gradient
    per input; :meth:`apply` wires it into the graph:

    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> class Square(nps.Function):
    ...     def forward(self, x):
    ...         self.save_for_backward(x)
    ...         return x * x
    ...
    ...     def backward(self, g):
    ...         # square VJP: dx = 2 x g
    ...         (x,) = self.saved_arrays
    ...         return (2 * x * g,)
    >>> w = nps.tensor([1.0, 3.0], requires_grad=True)
    >>> Square.apply(w).sum().backward()
    >>> w.grad
    array([2., 6.])
    """

    owns_grads: bool = False

    def __init__(self) -> None:
        self.inputs: tuple[Tensor, ...] = ()
        self.needs_input_grad: tuple[bool, ...] = ()
        self.saved_arrays: tuple[Any, ...] = ()
        self.input_versions: tuple[int, ...] = ()

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run the op on Tensors (or array-likes, taken as constants) and return a Tensor.

        The result requires a gradient when gradients are enabled (see :class:`no_grad`) and at
        least one input requires one; only then is the node recorded.  An integer or boolean
        result (indices, masks) has no gradient: like PyTorch, it comes back as a constant
        Tensor, outside the graph.
        """
        tensors = tuple(as_tensor(x) for x in inputs)
        fn = cls()
        record = is_grad_enabled() and any(t.requires_grad for t in tensors)
        fn.needs_input_grad = tuple(record and t.requires_grad for t in tensors)
        out = fn.forward(*(t.data for t in tensors), **params)
        if not record or np.asarray(out).dtype.kind != "f":
            return Tensor(out)
        fn.inputs = tensors
        fn.input_versions = tuple(t._version for t in tensors)
        result = Tensor(out, requires_grad=True, _ctx=fn)
        for t in tensors:
            if np.may_share_memory(result.data, t.data):
                # A view (reshape, transpose, indexing): a step on its base changes it too.
                result._versions = t._versions
                break
        return result

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep ``arrays`` for :meth:`backward` (read them back from ``saved_arrays``)."""
        self.saved_arrays = arrays

    def forward(self, *arrays: np.ndarray, **params: Any) -> np.ndarray:
        """Compute the op on NumPy arrays; return one array."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward().")

    def backward(self, grad_out: np.ndarray) -> tuple[np.ndarray | None, ...]:
        """Return the vector-Jacobian product: one gradient (or ``None``) per input."""
        raise NotImplementedError(f"{type(self).__name__} does not define backward().")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
