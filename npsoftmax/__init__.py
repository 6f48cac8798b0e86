"""npsoftmax: the softmax family in NumPy, on a small reverse-mode autograd, with Numba kernels.

NumPy in gives NumPy out; a :class:`Tensor` in gives a Tensor out, wired into the graph::

    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.softmax(np.array([1.0, 2.0, 3.0])).round(4)
    array([0.09  , 0.2447, 0.6652])
    >>> x = nps.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> nps.log_softmax(x)[2].backward()
    >>> x.grad.round(4)
    array([-0.09  , -0.2447,  0.3348])
"""

from . import functional, testing
from ._backend import get_backend, set_backend, use_backend
from .autograd import Function, Tensor, is_grad_enabled, no_grad, tensor
from .autograd.ops import (
    add,
    broadcast_to,
    clip,
    concatenate,
    divide,
    exp,
    log,
    matmul,
    max,
    mean,
    moveaxis,
    multiply,
    negative,
    power,
    relu,
    reshape,
    selu,
    sigmoid,
    stack,
    subtract,
    sum,
    take_along_axis,
    tanh,
    transpose,
    where,
)
from .functional import (
    log_softmax,
    logit_scaled_softmax,
    logsumexp,
    norm_exp_softmax,
    softmax,
    softmin,
    temp_softmax,
)

__version__ = "0.1.0"

__all__ = [
    "Function",
    "Tensor",
    "add",
    "broadcast_to",
    "clip",
    "concatenate",
    "divide",
    "exp",
    "functional",
    "get_backend",
    "is_grad_enabled",
    "log",
    "log_softmax",
    "logit_scaled_softmax",
    "logsumexp",
    "matmul",
    "max",
    "mean",
    "moveaxis",
    "multiply",
    "negative",
    "no_grad",
    "norm_exp_softmax",
    "power",
    "relu",
    "reshape",
    "selu",
    "set_backend",
    "sigmoid",
    "softmax",
    "softmin",
    "stack",
    "subtract",
    "sum",
    "take_along_axis",
    "tanh",
    "temp_softmax",
    "tensor",
    "testing",
    "transpose",
    "use_backend",
    "where",
]
