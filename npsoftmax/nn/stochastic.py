"""Module wrapper of the Gumbel-softmax (a reparameterised categorical sample).

Thin, like :mod:`.activations`: ``forward`` is one call of :func:`npsoftmax.gumbel_softmax`.
"""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..functional.stochastic import _temperature
from ._checks import check_flag, make_rng
from .activations import _AxisModule


class GumbelSoftmax(_AxisModule):
    r"""A Gumbel-softmax sample per call, :func:`npsoftmax.gumbel_softmax` (**composite**).

    Parameters
    ----------
    tau : float, default 1.0
        The temperature, a finite number > 0.
    hard : bool, default False
        Return one-hot rows with the straight-through gradient of the soft sample.
    axis : int, tuple of int or None, default -1
        The class axis (axes).
    rng : numpy.random.Generator or int or None, optional
        The noise source, made into one Generator at construction: successive calls draw fresh
        noise from it, and a seed makes the sequence of samples reproducible.

    Raises
    ------
    TypeError
        If ``hard`` is not a bool, ``rng`` of the wrong type, or ``axis`` malformed.
    ValueError
        If ``tau`` is not a finite real scalar > 0, or a seed is negative.

    Shape
    -----
    Input ``(*)``, output ``(*)``, the same shape.

    Notes
    -----
    :math:`y = \mathrm{softmax}((x + G) / \tau)` with :math:`G_i = -\log(-\log U_i)` Gumbel noise;
    VJP for the drawn noise :math:`\bar{x} = y \odot (g - \langle g, y \rangle) / \tau`.  The
    module samples in both ``train()`` and ``eval()`` mode, as PyTorch's function does.

    References
    ----------
    .. [1] E. Jang, S. Gu & B. Poole, "Categorical Reparameterization with Gumbel-Softmax",
       ICLR 2017, arXiv:1611.01144.
    .. [2] C. J. Maddison, A. Mnih & Y. W. Teh, "The Concrete Distribution", ICLR 2017,
       arXiv:1611.00712.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> y = nps.nn.GumbelSoftmax(tau=0.5, hard=True, rng=0)(np.zeros((2, 3)))
    >>> y.sum(axis=-1), sorted(set(y.ravel().tolist()))
    (array([1., 1.]), [0.0, 1.0])
    """

    def __init__(
        self, tau: float = 1.0, hard: bool = False, axis: Any = -1, rng: Any = None
    ) -> None:
        super().__init__(axis)
        _temperature(tau, "tau", "GumbelSoftmax")
        self.tau = tau
        self.hard = check_flag(hard, "hard", "GumbelSoftmax")
        self.rng = make_rng(rng, "GumbelSoftmax")

    def forward(self, x: Any) -> Any:
        """Draw one sample per row of ``x`` from the module's Generator."""
        return F.gumbel_softmax(x, tau=self.tau, hard=self.hard, axis=self.axis, rng=self.rng)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, hard={self.hard}, axis={self.axis}"
