"""Module wrappers of the sparse maps (sparsemax, 1.5-entmax, alpha-entmax).

Thin, like :mod:`.activations`: each ``forward`` is one call of the function of the same name.
"""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..functional.bisection import _check_alpha, _check_n_iter
from .activations import _AxisModule


class Sparsemax(_AxisModule):
    r"""Sparsemax over ``axis``, :func:`npsoftmax.sparsemax` as a module (**fused op**).

    Parameters
    ----------
    axis : int, tuple of int or None, default -1
        The class axis (axes).

    Raises
    ------
    TypeError
        If ``axis`` is not an int, a tuple of ints or None.

    Shape
    -----
    Input ``(*)``, output ``(*)``, the same shape.

    Notes
    -----
    :math:`y = \arg\min_{p \in \Delta} \lVert p - x \rVert^2 = [x - \tau]_+`; with support
    :math:`S`, VJP :math:`\bar{x}_i = [i \in S] (g_i - \frac{1}{|S|} \sum_{j \in S} g_j)`.

    References
    ----------
    .. [1] A. F. T. Martins & R. F. Astudillo, "From Softmax to Sparsemax: A Sparse Model of
       Attention and Multi-Label Classification", ICML 2016, arXiv:1602.02068.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.nn.Sparsemax()(np.array([2.0, 0.0, -1.0]))
    array([1., 0., 0.])
    """

    def forward(self, x: Any) -> Any:
        """Apply :func:`npsoftmax.sparsemax` along ``self.axis``."""
        return F.sparsemax(x, axis=self.axis)


class Entmax15(_AxisModule):
    r"""1.5-entmax over ``axis``, :func:`npsoftmax.entmax15` as a module (**fused op**).

    Parameters
    ----------
    axis : int, tuple of int or None, default -1
        The class axis (axes).

    Raises
    ------
    TypeError
        If ``axis`` is not an int, a tuple of ints or None.

    Shape
    -----
    Input ``(*)``, output ``(*)``, the same shape.

    Notes
    -----
    :math:`y = [x/2 - \tau]_+^2` with :math:`\tau` such that :math:`\sum y = 1`; with
    :math:`s = \sqrt{y}`, VJP :math:`\bar{x} = s \odot g - s \, \langle s, g \rangle / \sum s`.

    References
    ----------
    .. [1] B. Peters, V. Niculae & A. F. T. Martins, "Sparse Sequence-to-Sequence Models",
       ACL 2019, arXiv:1905.05702.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.nn.Entmax15()(np.array([5.0, 0.0, -5.0]))
    array([1., 0., 0.])
    """

    def forward(self, x: Any) -> Any:
        """Apply :func:`npsoftmax.entmax15` along ``self.axis``."""
        return F.entmax15(x, axis=self.axis)


class EntmaxBisect(_AxisModule):
    r"""alpha-entmax for any alpha > 1, :func:`npsoftmax.entmax_bisect` as a module (**fused op**).

    Parameters
    ----------
    alpha : float, default 1.5
        A finite number > 1 (2 is sparsemax, 1.5 is entmax15, towards 1 softmax).
    axis : int, tuple of int or None, default -1
        The class axis (axes).
    n_iter : int, optional
        The most Newton steps for the threshold (>= 1; values above 100 are clamped); ``None``
        iterates until converged, as :func:`npsoftmax.entmax_bisect` does.

    Raises
    ------
    TypeError
        If ``alpha`` is not a real number, ``n_iter`` not an integer, or ``axis`` malformed.
    ValueError
        If ``alpha <= 1`` or is not finite, or ``n_iter < 1``.

    Shape
    -----
    Input ``(*)``, output ``(*)``, the same shape.

    Notes
    -----
    :math:`y = [(\alpha - 1) x - \tau]_+^{1/(\alpha - 1)}` with :math:`\tau` found (by
    Newton's method on the sorted row's support) so that :math:`\sum y = 1`; with
    :math:`h = y^{2 - \alpha}` on the support, VJP
    :math:`\bar{x} = h \odot g - h \, \langle h, g \rangle / \sum h`.

    References
    ----------
    .. [1] B. Peters, V. Niculae & A. F. T. Martins, "Sparse Sequence-to-Sequence Models",
       ACL 2019, arXiv:1905.05702.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.nn.EntmaxBisect(alpha=2.0)(np.array([2.0, 0.0, -1.0]))
    array([1., 0., 0.])
    """

    def __init__(self, alpha: float = 1.5, axis: Any = -1, n_iter: int | None = None) -> None:
        super().__init__(axis)
        _check_alpha(alpha)
        self.alpha = alpha
        self.n_iter = None if n_iter is None else _check_n_iter(n_iter)

    def forward(self, x: Any) -> Any:
        """Apply :func:`npsoftmax.entmax_bisect` with the module's ``alpha`` and ``n_iter``."""
        return F.entmax_bisect(x, alpha=self.alpha, axis=self.axis, n_iter=self.n_iter)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, axis={self.axis}, n_iter={self.n_iter}"
