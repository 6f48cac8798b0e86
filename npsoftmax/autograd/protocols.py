"""How a ``Tensor`` behaves as a Python value: comparison, truth, length, iteration, conversion.

:class:`PythonProtocols` is a mixin of :class:`~npsoftmax.autograd.tensor.Tensor`, kept apart so
that ``tensor.py`` stays the engine and the operators.  Each method follows NumPy on ``data``
(its truth rules and their ambiguity error, its membership test), except where PyTorch's
answer for a 0-d Tensor is the clearer one (``len`` and iteration raise ``TypeError``).
Iteration goes through indexing, so the rows it yields stay in the graph.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

# How many times, on this thread, NumPy turned a Tensor that requires grad into an array
# (``__array__``): ``tensor.asarray_attached`` reads it around ``np.asarray`` of a list.
GRAD_ARRAY_CALLS = threading.local()


class PythonProtocols:
    """Python's value protocols for a Tensor, all read from ``self.data``.

    Notes
    -----
    ``==`` on Tensors is identity (so Tensors can be dictionary keys and set members), which
    would make ``value in t`` always False; ``in`` therefore compares values as NumPy does,
    ``(t.data == value).any()``.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> t = nps.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> len(t), 3.0 in t, float(t[1, 0]), bool(t[0, 0])
    (2, True, 3.0, True)
    >>> [row.requires_grad for row in t]
    [True, True]
    """

    data: np.ndarray

    # Comparisons give plain boolean arrays (masks); they have no gradient.  ``==`` is left as
    # identity so that Tensors can be dictionary keys and set members.
    def __lt__(self, other: Any) -> np.ndarray:
        return self.data < _data(other)

    def __le__(self, other: Any) -> np.ndarray:
        return self.data <= _data(other)

    def __gt__(self, other: Any) -> np.ndarray:
        return self.data > _data(other)

    def __ge__(self, other: Any) -> np.ndarray:
        return self.data >= _data(other)

    __hash__ = object.__hash__

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if getattr(self, "requires_grad", False):
            GRAD_ARRAY_CALLS.count = getattr(GRAD_ARRAY_CALLS, "count", 0) + 1
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __bool__(self) -> bool:
        # NumPy's rules: one element gives its truth; more (or none) raise the ambiguity error.
        return bool(self.data)

    def __iter__(self) -> Iterator[Any]:
        if self.data.ndim == 0:
            raise TypeError(
                "iteration over a 0-d tensor; use t.item() for its value, or t.reshape(1) for "
                "a 1-element Tensor."
            )
        # Indexing, not self.data's rows: each row is a differentiable view of the Tensor.
        return (self[i] for i in range(self.data.shape[0]))  # type: ignore[index]

    def __contains__(self, value: Any) -> bool:
        return bool((self.data == _data(value)).any())

    def __float__(self) -> float:
        return float(self.item())  # type: ignore[attr-defined]

    def __int__(self) -> int:
        return int(self.item())  # type: ignore[attr-defined]

    def __index__(self) -> int:
        if self.data.ndim != 0 or self.data.dtype.kind not in "iu":
            raise TypeError(
                f"only an integer 0-d Tensor can be used as an index, got shape "
                f"{self.data.shape} and dtype {self.data.dtype}."
            )
        return int(self.data)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, PythonProtocols) else x
