"""The softmax family as functions: NumPy in gives NumPy out, a Tensor in gives a Tensor out.

One family per file: ``softmax.py`` (softmax, log_softmax, logsumexp: fused ops on the row
kernels) and ``scaled.py`` (softmin and the temperature / logit-scaled softmax: composites).
"""

from .scaled import logit_scaled_softmax, norm_exp_softmax, softmin, temp_softmax
from .softmax import (
    LogSoftmaxFunction,
    LogSumExpFunction,
    SoftmaxFunction,
    log_softmax,
    logsumexp,
    softmax,
)

__all__ = [
    "LogSoftmaxFunction",
    "LogSumExpFunction",
    "SoftmaxFunction",
    "log_softmax",
    "logit_scaled_softmax",
    "logsumexp",
    "norm_exp_softmax",
    "softmax",
    "softmin",
    "temp_softmax",
]
