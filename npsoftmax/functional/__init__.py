"""The softmax family as functions: NumPy in gives NumPy out, a Tensor in gives a Tensor out.

One family per file:

* ``softmax.py``: softmax, log_softmax, logsumexp (fused ops on the row kernels);
* ``scaled.py``: softmin and the temperature / logit-scaled softmax (composites);
* ``sparse.py``: sparsemax, entmax15, entmax_bisect, sparse_softmax (fused, sort/bisection);
* ``stochastic.py``: gumbel_softmax and the seed's gumbelmax;
* ``masked.py``: masked_softmax, softmax1, local_softmax;
* ``online.py``: online_softmax and unified_max_softmax (the attention-era normalisers);
* ``seed.py``: the seed library's remaining names (standard_softmax, fast_softmax, ...);
* ``taylor.py``: taylor_softmax (in log space; re-exported by ``seed.py``);
* ``losses.py``: cross_entropy and nll_loss (fused with log-softmax);
* ``fy_losses.py``: the Fenchel-Young losses of the sparse maps (sparsemax_loss, entmax15_loss).
"""

from .fy_losses import entmax15_loss, sparsemax_loss
from .losses import cross_entropy, nll_loss
from .masked import local_softmax, masked_softmax, softmax1
from .online import online_softmax, unified_max_softmax
from .scaled import logit_scaled_softmax, norm_exp_softmax, softmin, temp_softmax
from .seed import fast_softmax, mm_softmax, selu_softmax, standard_softmax, taylor_softmax
from .softmax import (
    LogSoftmaxFunction,
    LogSumExpFunction,
    SoftmaxFunction,
    log_softmax,
    logsumexp,
    softmax,
)
from .sparse import entmax15, entmax_bisect, sparse_softmax, sparsemax
from .stochastic import gumbel_softmax, gumbelmax

__all__ = [
    "LogSoftmaxFunction",
    "LogSumExpFunction",
    "SoftmaxFunction",
    "cross_entropy",
    "entmax15",
    "entmax15_loss",
    "entmax_bisect",
    "fast_softmax",
    "gumbel_softmax",
    "gumbelmax",
    "local_softmax",
    "log_softmax",
    "logit_scaled_softmax",
    "logsumexp",
    "masked_softmax",
    "mm_softmax",
    "nll_loss",
    "norm_exp_softmax",
    "online_softmax",
    "selu_softmax",
    "softmax",
    "softmax1",
    "softmin",
    "sparse_softmax",
    "sparsemax",
    "sparsemax_loss",
    "standard_softmax",
    "taylor_softmax",
    "temp_softmax",
    "unified_max_softmax",
]
