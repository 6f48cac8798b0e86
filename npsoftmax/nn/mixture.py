"""``MixtureOfSoftmaxes``: K softmaxes mixed by a learned gate (Yang et al. 2018).

Legend: ``x`` the input ``(..., d)``; ``K`` mixtures; ``C`` classes; ``a`` the gate logits
``(..., K)``; ``pi = softmax(a)`` the mixture weights; ``z`` the component logits ``(..., K, C)``;
``p_k = softmax(z_k)`` the components; ``P = sum_k pi_k p_k`` the output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from .. import kernels
from ..autograd import ops
from ..autograd.dispatch import dispatch
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..functional._rows import as_rows, run_kernel
from ._checks import check_dtype, check_flag, check_size, make_rng
from .containers import ModuleList
from .linear import Linear, check_features, stacked_linear
from .module import Module

__all__ = ["MixtureOfSoftmaxes"]

_PARAMETERIZATIONS = ("seed", "paper")


class MixtureFunction(Function):
    """Fused op: ``P = sum_k pi_k softmax(z_k)``, ``pi`` ``(..., K)``, ``z`` ``(..., K, C)``.

    Forward: one kernel (``kernels.mixture_rows``) computes each row's K component softmaxes
    ``p_k`` and their weighted sum.  Backward, from the saved ``p``: ``dpi_k = <g, p_k>`` and
    ``dz_k = pi_k p_k (g - <g, p_k>)``, the softmax VJP of the upstream gradient ``pi_k g``, in
    one kernel too (``kernels.mixture_rows_vjp``).  As a composite (broadcast multiply, sum,
    and their backward) the same step made three more passes over ``(..., K, C)``; as NumPy
    around the softmax kernel, the mixing passes ran on one thread.
    """

    owns_grads = True  # dpi and dz are the VJP kernel's fresh outputs

    def forward(self, pi: np.ndarray, z: np.ndarray) -> np.ndarray:
        r = as_rows(z, -1, "MixtureOfSoftmaxes")  # (rows * K, C) in the compute dtype
        *lead, k, c = z.shape
        rows = r.x2.shape[0] // k
        pi2 = np.ascontiguousarray(pi.astype(r.x2.dtype, copy=False).reshape(rows, k))
        p = np.empty((rows, k, c), dtype=r.x2.dtype)
        mixed = np.empty((rows, c), dtype=r.x2.dtype)
        run_kernel(kernels.mixture_rows, pi2, r.x2.reshape(rows, k, c), p, mixed)
        self.lead = tuple(lead)
        self.save_for_backward(pi2, p)
        return mixed.reshape(*lead, c).astype(r.dtype, copy=False)

    def backward(self, g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        pi2, p = self.saved_arrays
        rows, k, c = p.shape
        g2 = np.ascontiguousarray(g.astype(p.dtype, copy=False).reshape(rows, c))
        dpi, dz = np.empty_like(pi2), np.empty_like(p)
        run_kernel(kernels.mixture_rows_vjp, pi2, p, g2, dpi, dz)
        need_pi, need_z = self.needs_input_grad
        return (
            dpi.reshape(*self.lead, k) if need_pi else None,
            dz.reshape(*self.lead, k, c) if need_z else None,
        )


class MixtureOfSoftmaxes(Module):
    r"""Mixture of softmaxes: a gate-weighted sum of K softmax distributions (**composite**).

    Breaks the *softmax bottleneck*: the log-probabilities of one softmax over a linear map of
    a ``d``-dimensional input form a matrix of rank at most ``d + 1``; the log of a mixture of K
    softmaxes is not limited that way.

    Parameters
    ----------
    num_mixtures : int
        K, the number of softmax components (>= 1).
    input_size : int
        d, the size of the input's last axis (>= 1).
    num_classes : int
        C, the number of classes (>= 1).
    parameterization : {"seed", "paper"}, default "seed"
        ``"seed"`` (zeta's module, PyTorch state-dict names): a gate
        ``mixture_weights = Linear(d, K)`` and K independent ``softmax_layers.k = Linear(d, C)``,
        all with bias.  ``"paper"`` (Yang et al., as in their code): a gate
        ``prior = Linear(d, K, bias=False)``, a projection ``latent = Linear(d, K * latent_size)``
        followed by tanh, giving K context vectors ``h_k``, and ONE shared output layer
        ``decoder = Linear(latent_size, C)`` applied to each (the original code names the
        projection ``latent.0``; rename on loading).
    latent_size : int, optional
        The size of each ``h_k`` for ``"paper"`` (default ``input_size``); not allowed for
        ``"seed"``.
    dtype : numpy.float64 or numpy.float32, default numpy.float64
        The parameters' dtype.
    rng : numpy.random.Generator or int or None, optional
        Source of the initial values (PyTorch's default ``Linear`` initialisation).

    Raises
    ------
    TypeError
        If a size is not an integer (``bool`` included), ``dtype`` is not float32/float64, or
        ``parameterization`` is not a string.  In ``forward``: non-numeric input.
    ValueError
        If a size is < 1, ``parameterization`` is unknown, or ``latent_size`` is given with
        ``"seed"``.  In ``forward``: a last axis whose size is not ``input_size``.

    Shape
    -----
    * input ``(..., input_size)``, any number of leading axes (also a single vector);
    * output ``(..., num_classes)``, rows summing to one; with ``need_weights=True`` also the
      mixture weights ``(..., num_mixtures)``, rows summing to one.

    Notes
    -----
    Forward (seed): :math:`a = W_\pi x + b_\pi`, :math:`z_k = W_k x + b_k`; (paper):
    :math:`a = W_\pi x`, :math:`h_k = \tanh(V_k x + c_k)`, :math:`z_k = U h_k + u`.  Then

    .. math:: P(c \mid x) = \sum_k \pi_k\, p_{k,c}, \qquad \pi = \mathrm{softmax}(a),
              \quad p_k = \mathrm{softmax}(z_k),

    computed as a sum of max-shifted softmaxes (no overflow for any finite logits), and in log
    space by :meth:`log_prob`,
    :math:`\log P = \mathrm{logsumexp}_k(\log\pi_k + \log p_k)`, which stays finite where
    :math:`P` underflows to zero.

    VJP of :math:`L = -\log P(y)`: with responsibilities :math:`r_k = \pi_k p_{k,y} / P(y)`,
    :math:`\partial L / \partial z_k = r_k (p_k - e_y)` and
    :math:`\partial L / \partial a = \pi - r`; the engine chains these through the Linear layers
    (and the tanh).  The mixing itself is one fused op (``MixtureFunction``: the K component
    softmaxes and their weighted sum forward, the softmax VJP of each ``pi_k g`` backward).

    Differences from zeta's module: normalisation is over the LAST axis (zeta's ``dim=1`` mixes
    time steps for 3-D input); ``need_weights`` exists as zeta's docs describe; sizes are
    validated.  With ``num_mixtures=1`` the seed form is exactly ``softmax(Linear(x))``; the
    paper form is not (its logits are :math:`U \tanh(V x + c) + u`).

    A PyTorch module with the same layout (zeta's ``MixtureOfSoftmaxes``) loads by name:
    ``mos.load_state_dict({k: v.numpy() for k, v in torch_mos.state_dict().items()})``.

    References
    ----------
    .. [1] Z. Yang, Z. Dai, R. Salakhutdinov & W. W. Cohen, "Breaking the Softmax Bottleneck: A
       High-Rank RNN Language Model", ICLR 2018, arXiv:1711.03953.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> mos = nps.nn.MixtureOfSoftmaxes(num_mixtures=5, input_size=128, num_classes=10, rng=0)
    >>> x = np.random.default_rng(0).standard_normal((32, 128))
    >>> mos(x).shape
    (32, 10)
    >>> sum(p.size for p in mos.parameters())
    7095
    >>> out, weights = mos(x, need_weights=True)
    >>> weights.shape, bool(np.allclose(weights.data.sum(axis=-1), 1.0))
    ((32, 5), True)
    >>> bool(np.allclose(mos.log_prob(x).data, np.log(out.data)))
    True
    """

    def __init__(
        self,
        num_mixtures: int,
        input_size: int,
        num_classes: int,
        parameterization: str = "seed",
        latent_size: int | None = None,
        dtype: Any = np.float64,
        rng: Any = None,
    ) -> None:
        super().__init__()
        owner = "MixtureOfSoftmaxes"
        self.num_mixtures = check_size(num_mixtures, "num_mixtures", owner)
        self.input_size = check_size(input_size, "input_size", owner)
        self.num_classes = check_size(num_classes, "num_classes", owner)
        if not isinstance(parameterization, str):
            raise TypeError(
                f"{owner}: parameterization must be 'seed' or 'paper', got {parameterization!r}."
            )
        if parameterization not in _PARAMETERIZATIONS:
            raise ValueError(
                f"{owner}: parameterization must be 'seed' or 'paper', got {parameterization!r}."
            )
        self.parameterization = parameterization
        dt = check_dtype(dtype, owner)
        gen = make_rng(rng, owner)
        k, d, c = self.num_mixtures, self.input_size, self.num_classes
        if parameterization == "seed":
            if latent_size is not None:
                raise ValueError(
                    f"{owner}: latent_size is only used with parameterization='paper', got "
                    f"latent_size={latent_size!r} with 'seed'."
                )
            self.latent_size = None
            self.mixture_weights = Linear(d, k, dtype=dt, rng=gen)
            self.softmax_layers = ModuleList([Linear(d, c, dtype=dt, rng=gen) for _ in range(k)])
        else:
            m = d if latent_size is None else check_size(latent_size, "latent_size", owner)
            self.latent_size = m
            # The original code's layers: prior without bias, latent and decoder with bias.
            self.prior = Linear(d, k, bias=False, dtype=dt, rng=gen)
            self.latent = Linear(d, k * m, dtype=dt, rng=gen)
            self.decoder = Linear(m, c, dtype=dt, rng=gen)

    def _logits(self, x: Any) -> tuple[Tensor, Tensor]:
        """Gate logits ``a`` of shape ``(..., K)`` and component logits ``z``, ``(..., K, C)``."""
        check_features(x, self.input_size, "MixtureOfSoftmaxes", "input_size")
        if self.parameterization == "seed":
            a = self.mixture_weights(x)
            z = stacked_linear(x, self.softmax_layers)  # (..., K, C), no stack copy
        else:
            a = self.prior(x)
            lead = a.shape[:-1]
            # The K contexts are consecutive blocks of latent_size units, as in the original
            # code's view(-1, n_experts, ninp).
            h = ops.tanh(ops.reshape(self.latent(x), (*lead, self.num_mixtures, self.latent_size)))
            z = self.decoder(h)
        return a, z

    def forward(self, x: Any, need_weights: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Class probabilities ``(..., C)``; with ``need_weights`` also ``softmax(gate(x))``."""
        check_flag(need_weights, "need_weights", "MixtureOfSoftmaxes")
        a, z = self._logits(x)
        pi = F.softmax(a, axis=-1)
        # Each component softmax is max-shifted, and a convex combination of numbers in [0, 1]
        # cannot overflow: no exp of a large logit ever happens.
        out = dispatch(MixtureFunction, pi, z)
        return (out, pi) if need_weights else out

    def log_prob(self, x: Any) -> Tensor:
        """Log-probabilities ``(..., C)``: ``logsumexp_k(log_softmax(a)_k + log_softmax(z_k))``.

        Computed in log space, so finite (and accurate) where ``log(forward(x))`` underflows
        to ``-inf``; differentiable.

        Parameters
        ----------
        x : array_like or Tensor
            Input of shape ``(..., input_size)``.

        Returns
        -------
        Tensor
            Shape ``(..., num_classes)``.

        Raises
        ------
        TypeError, ValueError
            As :meth:`forward`.
        """
        a, z = self._logits(x)
        log_pi = F.log_softmax(a, axis=-1)
        joint = ops.reshape(log_pi, (*log_pi.shape, 1)) + F.log_softmax(z, axis=-1)
        return F.logsumexp(joint, axis=-2)

    def extra_repr(self) -> str:
        sizes = (
            f"num_mixtures={self.num_mixtures}, input_size={self.input_size}, "
            f"num_classes={self.num_classes}"
        )
        if self.parameterization == "paper":
            return f"{sizes}, parameterization='paper', latent_size={self.latent_size}"
        return sizes
