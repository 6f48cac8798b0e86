"""Module wrappers of the dense softmax family: each holds its hyperparameters, no more.

Every ``forward`` is one call of the function of the same name in :mod:`npsoftmax.functional`,
so the module and the function agree exactly, NumPy in gives NumPy out and a Tensor in gives a
Tensor out.  Hyperparameters are checked when the module is built (by the same checks the
functions use), so a bad one fails at construction, not at the first batch.  The sparse maps'
modules are in :mod:`.sparse`, the Gumbel-softmax module in :mod:`.stochastic`.
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any

import numpy as np

from .. import functional as F
from ..functional.scaled import _scalar
from ._checks import check_dtype, check_flag
from .module import Module, Parameter

__all__ = ["LogSoftmax", "Softmax", "Softmax1", "Softmin", "TempSoftmax"]


def _check_axis(axis: Any, owner: str) -> Any:
    """``axis`` must be None, an int or a tuple of ints (checked against ``x`` at call time)."""
    ok_int = isinstance(axis, numbers.Integral) and not isinstance(axis, (bool, np.bool_))
    ok_tuple = isinstance(axis, tuple) and all(
        isinstance(a, numbers.Integral) and not isinstance(a, (bool, np.bool_)) for a in axis
    )
    if not (axis is None or ok_int or ok_tuple):
        raise TypeError(f"{owner}: axis must be an int, a tuple of ints or None, got {axis!r}.")
    return axis


class _AxisModule(Module):
    """A parameter-free wrapper ``forward(x) = function(x, axis=self.axis)``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _AxisModule:
        # Here, not in __init__, so that every subclass (those with their own __init__, such as
        # TempSoftmax, EntmaxBisect and GumbelSoftmax, too) says this rather than Python's
        # "unexpected keyword argument 'dim'".  A user's subclass that takes dim= itself keeps it.
        if "dim" in kwargs and "dim" not in inspect.signature(cls.__init__).parameters:
            raise TypeError(
                f"{cls.__name__} got dim={kwargs['dim']!r}: it takes axis=, NumPy's name for "
                f"the class axis, not PyTorch's dim=; use {cls.__name__}(axis="
                f"{kwargs['dim']!r})."
            )
        return super().__new__(cls)

    def __init__(self, axis: Any = -1) -> None:
        super().__init__()
        self.axis = _check_axis(axis, type(self).__name__)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Softmax(_AxisModule):
    r"""Softmax over ``axis``, :func:`npsoftmax.softmax` as a module (**fused op**).

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
    :math:`y_i = e^{x_i - m} / \sum_j e^{x_j - m}` with :math:`m = \max_j x_j`; VJP
    :math:`\bar{x} = y \odot (g - \langle g, y \rangle)`.

    References
    ----------
    .. [1] J. S. Bridle, "Probabilistic Interpretation of Feedforward Classification Network
       Outputs", 1990; the stable form: P. Blanchard, D. J. Higham & N. J. Higham, "Accurately
       computing the log-sum-exp and softmax functions", IMA J. Numer. Anal. 2021,
       arXiv:1909.03469.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.nn.Softmax()(np.array([0.0, np.log(3.0)]))
    array([0.25, 0.75])
    """

    def forward(self, x: Any) -> Any:
        """Apply :func:`npsoftmax.softmax` along ``self.axis``."""
        return F.softmax(x, axis=self.axis)


class LogSoftmax(_AxisModule):
    r"""Log-softmax over ``axis``, :func:`npsoftmax.log_softmax` as a module (**fused op**).

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
    :math:`y_i = x_i - m - \log \sum_j e^{x_j - m}`; VJP
    :math:`\bar{x} = g - \mathrm{softmax}(x) \sum_j g_j`.

    References
    ----------
    .. [1] J. S. Bridle, "Probabilistic Interpretation of Feedforward Classification Network
       Outputs", 1990; the stable form: P. Blanchard, D. J. Higham & N. J. Higham, "Accurately
       computing the log-sum-exp and softmax functions", IMA J. Numer. Anal. 2021,
       arXiv:1909.03469.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.nn.LogSoftmax()(np.array([0.0, 0.0]))
    array([-0.693..., -0.693...])
    """

    def forward(self, x: Any) -> Any:
        """Apply :func:`npsoftmax.log_softmax` along ``self.axis``."""
        return F.log_softmax(x, axis=self.axis)


class Softmin(_AxisModule):
    r"""Softmin, ``softmax(-x)``: :func:`npsoftmax.softmin` as a module (**composite**).

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
    :math:`y = \mathrm{softmax}(-x)`; VJP :math:`\bar{x} = -y \odot (g - \langle g, y \rangle)`.

    References
    ----------
    .. [1] J. S. Bridle, "Probabilistic Interpretation of Feedforward Classification Network
       Outputs", 1990; the stable form: P. Blanchard, D. J. Higham & N. J. Higham, "Accurately
       computing the log-sum-exp and softmax functions", IMA J. Numer. Anal. 2021,
       arXiv:1909.03469.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.nn.Softmin()(np.array([0.0, np.log(3.0)]))
    array([0.75, 0.25])
    """

    def forward(self, x: Any) -> Any:
        """Apply :func:`npsoftmax.softmin` along ``self.axis``."""
        return F.softmin(x, axis=self.axis)


class Softmax1(_AxisModule):
    r"""Softmax with one in the denominator, :func:`npsoftmax.softmax1` as a module (**fused op**).

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
    Input ``(*)``, output ``(*)``, the same shape; rows sum to less than one.

    Notes
    -----
    :math:`y_i = e^{x_i} / (1 + \sum_j e^{x_j})`, i.e. softmax over the row with an extra zero
    logit that is dropped; VJP :math:`\bar{x} = y \odot (g - \langle g, y \rangle)`.

    References
    ----------
    .. [1] E. Miller, "Attention Is Off By One", 2023 (blog post); the same normaliser as the
       "quiet" softmax of Bondarenko, Nagel & Blankevoort, "Quantizable Transformers: Removing
       Outliers by Helping Attention Heads Do Nothing", NeurIPS 2023, arXiv:2306.12929.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> nps.nn.Softmax1()(np.array([0.0, 0.0]))
    array([0.333..., 0.333...])
    """

    def forward(self, x: Any) -> Any:
        """Apply :func:`npsoftmax.softmax1` along ``self.axis``."""
        return F.softmax1(x, axis=self.axis)


class TempSoftmax(_AxisModule):
    r"""``softmax(x / T)``, T fixed or learnable: :func:`npsoftmax.temp_softmax` (**composite**).

    Parameters
    ----------
    temperature : float, default 1.0
        A finite, non-zero number (its initial value when learnable).
    learnable : bool, default False
        Make the temperature a 0-d :class:`Parameter` named ``temperature``, trained with the
        rest of the model.
    axis : int, tuple of int or None, default -1
        The class axis (axes).
    dtype : numpy.float64 or numpy.float32, default numpy.float64
        The learnable temperature's dtype (ignored when not learnable).

    Raises
    ------
    TypeError
        If ``temperature`` is not a real number, ``learnable`` not a bool, ``dtype`` not
        float32/float64, or ``axis`` malformed.
    ValueError
        If ``temperature`` is zero or not finite.  A learnable temperature is not constrained:
        an optimiser step that makes it exactly zero makes ``forward`` raise the same error, and
        one that takes it below zero reverses the order (a negative temperature is valid in
        :func:`npsoftmax.temp_softmax`).  To keep it positive, learn its logarithm ``u`` and call
        ``nps.temp_softmax(x, nps.exp(u))``.

    Shape
    -----
    Input ``(*)``, output ``(*)``, the same shape.

    Notes
    -----
    :math:`y = \mathrm{softmax}(x / T)`; with :math:`v = y \odot (g - \langle g, y \rangle)`, VJP
    :math:`\bar{x} = v / T` and :math:`\bar{T} = -\langle x, v \rangle / T^2`.

    References
    ----------
    .. [1] G. Hinton, O. Vinyals & J. Dean, "Distilling the Knowledge in a Neural Network",
       arXiv:1503.02531, 2015.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> m = nps.nn.TempSoftmax(temperature=2.0, learnable=True)
    >>> [name for name, _ in m.named_parameters()]
    ['temperature']
    >>> y = m(nps.tensor([0.0, 2.0]))
    >>> y[1].backward()
    >>> round(float(m.temperature.grad), 4)  # a hotter softmax moves mass off the max
    -0.0983
    """

    def __init__(
        self,
        temperature: float = 1.0,
        learnable: bool = False,
        axis: Any = -1,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__(axis)
        t = _scalar(temperature, "temperature", "TempSoftmax", nonzero=True)
        self.learnable = check_flag(learnable, "learnable", "TempSoftmax")
        dt = check_dtype(dtype, "TempSoftmax")
        self.temperature = Parameter(np.array(t, dtype=dt)) if learnable else t

    def forward(self, x: Any) -> Any:
        """Apply :func:`npsoftmax.temp_softmax` with the module's temperature."""
        return F.temp_softmax(x, temperature=self.temperature, axis=self.axis)

    def extra_repr(self) -> str:
        t = float(self.temperature.data) if self.learnable else self.temperature
        return f"temperature={t}, learnable={self.learnable}, axis={self.axis}"
