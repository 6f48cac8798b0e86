"""``Linear``: the affine map ``x @ W.T + b`` with PyTorch's layout and default initialisation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd.dispatch import as_array, dispatch
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._checks import check_dtype, check_flag, check_size, make_rng
from .module import Module, Parameter

__all__ = ["Linear", "check_features", "stacked_linear"]


class LinearFunction(Function):
    """Fused op: ``y = x @ W.T + b`` over the last axis of ``x`` (``b`` optional).

    One result array: the bias is added in place to the product (as a composite of matmul and
    add it cost a second array of the output's size).  VJP: ``dx = g @ W``,
    ``dW = g^T x`` and ``db = sum(g)`` over every leading axis.
    """

    owns_grads = True  # every gradient is a fresh product or sum

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        need_x, need_w = self.needs_input_grad[:2]
        self.save_for_backward(x if need_w else None, w if need_x else None)
        y = np.matmul(x, w.T)
        if b is None:
            return y
        if np.result_type(y, b) != y.dtype:
            return y + b  # promoted, as the composite would
        y += b
        return y

    def backward(self, g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        x, w = self.saved_arrays
        need = self.needs_input_grad
        g2 = _as_rows(g)  # y has at least one axis, the output features
        x2 = None if x is None else _as_rows(x)
        dx2, dw, db = _linear_vjp(g2, x2, w, need[0], need[1], len(need) == 3 and need[2])
        dx = None if dx2 is None else dx2.reshape(*g.shape[:-1], w.shape[1])
        return (dx, dw) if len(need) == 2 else (dx, dw, db)


def _as_rows(a: np.ndarray) -> np.ndarray:
    """``a`` as ``(rows, last axis)``: ``reshape(-1, n)`` cannot infer the rows when ``n == 0``."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


def _linear_vjp(
    g2: np.ndarray, x2: np.ndarray | None, w: np.ndarray | None, need_x, need_w, need_b
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """One layer's VJP on rows: ``dx = g W``, ``dW = g^T x``, ``db = sum(g)``; None if unneeded.

    ``db`` is the product ``1^T g``: BLAS runs it on every core, where ``g.sum(axis=0)`` runs on
    one (both add each column's entries one after another in the dtype, so they are as accurate).
    """
    return (
        g2 @ w if need_x else None,
        g2.T @ x2 if need_w else None,
        np.ones(g2.shape[0], g2.dtype) @ g2 if need_b else None,
    )


class StackedLinearFunction(Function):
    """Fused op: K layers on one input, stacked: ``z[..., k, :] = x @ W_k.T + b_k``.

    Inputs ``x, W_0, ..., W_{K-1}, b_0, ..., b_{K-1}`` (``num_layers`` K; the biases all
    present or all absent).  Each product is written straight into its slice of the
    ``(..., K, C)`` result (``np.matmul``'s ``out=``: BLAS writes a slice whose rows are
    strided as fast as a fresh array), where K ``Linear`` calls and a stack made K arrays and
    copied them (12 ms of a 140 ms ``MixtureOfSoftmaxes(5, 256, 10000)`` step on two cores;
    20 ms on one thread of a 16-core machine, measured).  VJP with ``g_k = g[..., k, :]``:
    ``dx = sum_k g_k W_k``, ``dW_k = g_k^T x``, ``db_k = sum(g_k)`` over the leading axes.
    """

    owns_grads = True  # every gradient is a fresh product or sum

    def forward(self, x: np.ndarray, *params: np.ndarray, num_layers: int) -> np.ndarray:
        ws, bs = params[:num_layers], params[num_layers:]
        self.save_for_backward(x, *ws)
        self.num_layers = num_layers
        z = np.empty((*x.shape[:-1], num_layers, ws[0].shape[0]), np.result_type(x, *params))
        for k, w in enumerate(ws):
            zk = z[..., k, :]
            np.matmul(x, w.T, out=zk)
            if bs:
                zk += bs[k]
        return z

    def backward(self, g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        x, *ws = self.saved_arrays
        need, k = self.needs_input_grad, self.num_layers
        bias = len(need) > 1 + k
        x2 = _as_rows(x)
        g3 = g.reshape(x2.shape[0], k, g.shape[-1])
        parts = [
            _linear_vjp(g3[:, j, :], x2, w, need[0], need[1 + j], bias and need[1 + k + j])
            for j, w in enumerate(ws)
        ]
        dx = None
        if need[0]:
            dx = parts[0][0]  # a fresh product: the others are added into it
            for dxj, _, _ in parts[1:]:
                dx += dxj
            dx = dx.reshape(x.shape)
        dbs = [db for _, _, db in parts] if bias else []
        return (dx, *(dw for _, dw, _ in parts), *dbs)


def stacked_linear(x: Any, layers: Sequence[Linear]) -> Tensor:
    """``stack([layer(x) for layer in layers], axis=-2)`` as one fused op (see above).

    The layers share ``in_features`` and ``out_features``, and all have a bias or none does.
    """
    params = [layer.weight for layer in layers]
    if layers[0].bias is not None:
        params += [layer.bias for layer in layers]
    return dispatch(StackedLinearFunction, x, *params, num_layers=len(layers))


class Linear(Module):
    r"""Affine map ``y = x @ W.T + b`` over the last axis (**fused op**: ``LinearFunction``).

    Parameters
    ----------
    in_features : int
        Size of the last axis of the input (``>= 0``).
    out_features : int
        Size of the last axis of the output (``>= 0``).
    bias : bool, default True
        Whether to add the learnable bias ``b``.
    dtype : numpy.float64 or numpy.float32, default numpy.float64
        The parameters' dtype.
    rng : numpy.random.Generator or int or None, optional
        Source of the initial values (a seed gives a reproducible layer; ``None`` a fresh
        ``default_rng()``).  No global random state is used.

    Attributes
    ----------
    weight : Parameter
        Shape ``(out_features, in_features)``, PyTorch's layout.
    bias : Parameter or None
        Shape ``(out_features,)``.

    Raises
    ------
    TypeError
        If a size is not an integer (``bool`` included), ``dtype`` is not float32/float64, or
        ``rng`` is of the wrong type.  In ``forward``: non-numeric input.
    ValueError
        If a size is negative.  In ``forward``: a 0-d input, or a last axis whose size is not
        ``in_features`` (the message gives both sizes).

    Shape
    -----
    * input ``(..., in_features)``, any number of leading axes, also a single vector
      ``(in_features,)``;
    * output ``(..., out_features)``.

    Notes
    -----
    Forward :math:`y = x W^\top + b`.  VJP for an upstream gradient :math:`g`:
    :math:`\bar{x} = g W`, :math:`\bar{W} = g^\top x` and :math:`\bar{b} = \sum g`, summed over
    the leading axes (by ``LinearFunction``, one fused op).

    Initialisation is PyTorch's default: Kaiming-uniform with ``a = sqrt(5)``, which works out
    to :math:`W_{ij}, b_i \sim U(-1/\sqrt{n}, 1/\sqrt{n})` with :math:`n` = ``in_features``
    (weight drawn first, then bias); with ``in_features = 0`` both are zero.

    Dtypes: the output has NumPy's promoted dtype of the input and the parameters, so a float32
    layer fed float64 input computes in float64 (never casting the input down); integer input
    is promoted the same way (to float64).

    References
    ----------
    .. [1] He, Zhang, Ren & Sun, "Delving Deep into Rectifiers: Surpassing Human-Level
       Performance on ImageNet Classification", ICCV 2015, arXiv:1502.01852 (the Kaiming init).

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> layer = nps.nn.Linear(3, 2, rng=0)
    >>> layer
    Linear(in_features=3, out_features=2, bias=True)
    >>> layer(np.ones((4, 3))).shape
    (4, 2)
    >>> bound = 1 / np.sqrt(3)
    >>> bool(np.all(np.abs(layer.weight.data) <= bound))
    True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = np.float64,
        rng: Any = None,
    ) -> None:
        super().__init__()
        self.in_features = check_size(in_features, "in_features", "Linear", minimum=0)
        self.out_features = check_size(out_features, "out_features", "Linear", minimum=0)
        check_flag(bias, "bias", "Linear")
        dt = check_dtype(dtype, "Linear")
        gen = make_rng(rng, "Linear")
        # kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + 5)) = sqrt(1/3), bound gain*sqrt(3/n)
        # = 1/sqrt(n), the same bound PyTorch then uses for the bias.
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        shape = (self.out_features, self.in_features)
        self.weight = Parameter(gen.uniform(-bound, bound, size=shape).astype(dt))
        self.bias = (
            Parameter(gen.uniform(-bound, bound, size=self.out_features).astype(dt))
            if bias
            else None
        )

    def forward(self, x: Any) -> Tensor:
        """Apply the layer to ``x`` of shape ``(..., in_features)``; return a Tensor."""
        check_features(x, self.in_features, "Linear", "in_features")
        if self.bias is None:
            return dispatch(LinearFunction, x, self.weight)
        return dispatch(LinearFunction, x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


def check_features(x: Any, size: int, owner: str, name: str) -> None:
    """Raise unless ``x`` is numeric with at least one axis and a last axis of ``size``."""
    arr = x.data if isinstance(x, Tensor) else as_array(x, f"{owner} input")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{owner}: the input must be numeric, got dtype {arr.dtype}.")
    if arr.ndim == 0:
        raise ValueError(
            f"{owner}: the input must have at least one axis (the {name} features), got a "
            f"0-d value."
        )
    if arr.shape[-1] != size:
        raise ValueError(
            f"{owner}: the input's last axis has size {arr.shape[-1]} (shape {arr.shape}), but "
            f"{name} is {size}."
        )
