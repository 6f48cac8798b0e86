"""Gumbel-softmax (the Concrete distribution), soft and hard, and the seed's alias gumbelmax.

Legend: ``x`` logits, ``E ~ Exp(1)`` exponential draws, ``G = -log(E)`` standard Gumbel noise,
``z = x + G`` the perturbed logits, ``tau`` the temperature, ``y = softmax(z / tau)`` the soft
sample, ``h = onehot(argmax(z))`` the hard sample, ``g`` the upstream gradient, ``<a, b>`` a sum
along the class axis.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._dask import refuse_dask
from ..autograd import ops
from ..autograd.dispatch import as_array, dispatch
from ..autograd.function import Function
from ..autograd.shapes import from_rows, normalize_axes, to_rows
from ..autograd.tensor import Tensor
from .scaled import _as_logits, temp_softmax

# The smallest draw kept: -log(tiny) = 708.4 is a finite noise value, where E = 0 (which a
# sampler can return) would give G = +inf and a NaN sample (PyTorch #1817, #22442, #103459).
_TINY = np.finfo(np.float64).tiny


def make_rng(rng: Any, op: str) -> np.random.Generator:
    """An explicit Generator from ``rng`` (Generator, int seed or None); never global state.

    Shared with :mod:`npsoftmax.nn`, whose modules take the same ``rng`` argument.
    """
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"{op}: rng as a seed must be a non-negative integer, got {rng}.")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{op}: rng must be a numpy.random.Generator, a non-negative int seed or None, got "
        f"{type(rng).__name__}."
    )


def _temperature(tau: Any, name: str, op: str) -> None:
    """Check that ``tau`` is one finite real number > 0 (a float or a one-element Tensor)."""
    data = tau.data if isinstance(tau, Tensor) else tau
    if isinstance(data, (bool, np.bool_)) or not isinstance(data, (numbers.Real, np.ndarray)):
        raise TypeError(f"{op}: {name} must be a real number or Tensor, got {tau!r}.")
    arr = np.asarray(data)
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        # A ValueError, as temp_softmax's (scaled._scalar) and entmax_bisect's alpha give: the
        # type (a number, array or Tensor) is right, its shape or dtype is not.
        raise ValueError(
            f"{op}: {name} must be a single real number (a float or a one-element Tensor), got "
            f"an array of shape {arr.shape} and dtype {arr.dtype}."
        )
    t = float(arr.reshape(()))
    if not (np.isfinite(t) and t > 0):
        raise ValueError(f"{op}: {name} must be a finite number > 0, got {t}.")


def _gumbel_noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Standard Gumbel noise ``G = -log(max(E, tiny))``, ``E ~ Exp(1)``, float64; always finite."""
    e = np.asarray(rng.standard_exponential(size=shape))
    return -np.log(np.maximum(e, _TINY))


def _one_hot_argmax(z: np.ndarray, y: np.ndarray, axis: Any) -> np.ndarray:
    """One-hot of the first argmax of ``z`` along ``axis``; NaN rows where ``y`` has a NaN."""
    axes = normalize_axes(axis, z.ndim, "gumbel_softmax")
    z2, moved = to_rows(z, axes)
    y2, _ = to_rows(y, axes)
    h2 = np.zeros(y2.shape, dtype=y.dtype)
    if z2.shape[1]:
        h2[np.arange(len(z2)), np.argmax(z2, axis=1)] = 1
        # A row that softmax makes NaN (+inf, NaN or only -inf in z) has no sample either.
        h2[np.isnan(y2).any(axis=1)] = np.nan
    return from_rows(h2, moved, axes, z.ndim)


class StraightThroughFunction(Function):
    """Straight-through estimator: the value of ``hard``, the gradient of the soft input."""

    def forward(self, y: np.ndarray, *, hard: np.ndarray) -> np.ndarray:
        # The result is hard exactly: y_hard - detach(y) + y would round (1 - y) + y.
        return hard

    def backward(self, g: np.ndarray) -> tuple[np.ndarray]:
        # d(y_hard - detach(y) + y)/dy = identity: the soft sample's gradient.
        return (g,)


def gumbel_softmax(
    logits: Any, tau: Any = 1.0, hard: bool = False, *, axis: Any = -1, rng: Any = None
) -> Any:
    r"""A differentiable sample from the Gumbel-softmax (Concrete) distribution.

    Composite: Gumbel noise, then :func:`temp_softmax` (and, for ``hard=True``, a one-hot with
    the straight-through gradient).

    Parameters
    ----------
    logits : array_like or Tensor
        Unnormalised log-probabilities; ``-inf`` entries are never sampled.
    tau : float or Tensor, default 1.0
        The temperature, a finite number > 0.  A one-element Tensor that requires grad (a
        learned temperature) gets its gradient.
    hard : bool, default False
        Return exactly one-hot rows (the Gumbel-max sample) whose gradient is that of the
        soft sample (straight-through).
    axis : int, tuple of int or None, default -1
        The class axis (axes); keyword-only, as is ``rng``.  (PyTorch's
        ``F.gumbel_softmax(logits, tau, hard, eps, dim)`` has ``eps`` fourth, which npsoftmax
        does not take: its noise is always finite.)
    rng : numpy.random.Generator, int or None
        The source of noise: a Generator (advanced by the call), a seed, or None for a fresh
        ``numpy.random.default_rng()``.  NumPy's global random state is never used.

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``logits``: soft rows on the simplex, or one-hot rows for ``hard=True``.

    Raises
    ------
    ValueError
        If ``tau`` is not finite or not > 0 or has more than one element, or ``rng`` is a
        negative seed.
    TypeError
        If ``tau``, ``hard``, ``axis`` or ``rng`` has the wrong type, ``logits`` is not
        numeric, or ``logits`` is a dask array (one noise stream cannot be split over blocks;
        compute it first).
    numpy.exceptions.AxisError
        If ``axis`` is out of range.

    Notes
    -----
    The noise is drawn as ``G = -log(max(E, tiny))`` with ``E = rng.standard_exponential(
    size=logits.shape)`` in float64 (``tiny`` the smallest normal float64), then rounded to the
    logits' dtype: always finite, so a draw of zero can never produce a NaN sample.  With
    :math:`z = x + G`:

    .. math:: y = \mathrm{softmax}(z / \tau), \qquad h = \mathrm{onehot}(\arg\max_i z_i)

    and :math:`\arg\max_i z_i` is an exact sample from :math:`\mathrm{softmax}(x)` (the
    Gumbel-max trick).  The hard output is :math:`h` in value and
    :math:`h - \mathrm{stopgrad}(y) + y` in gradient (ties in :math:`z`, of probability zero,
    go to the first index).  VJP for fixed noise, soft and hard alike, with
    :math:`v = y \odot (g - \langle g, y \rangle)`:

    .. math:: \bar{x} = v / \tau, \qquad \bar{\tau} = -\langle z, v \rangle / \tau^2

    A row whose logits are all ``-inf`` or hold ``+inf`` or NaN gives NaN (soft and hard), as
    :func:`softmax` does.

    References
    ----------
    E. Jang, S. Gu, B. Poole, "Categorical Reparameterization with Gumbel-Softmax", ICLR 2017,
    arXiv:1611.01144; C. J. Maddison, A. Mnih, Y. W. Teh, "The Concrete Distribution",
    ICLR 2017, arXiv:1611.00712.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> logits = np.log(np.array([0.1, 0.6, 0.3]))
    >>> y = nps.gumbel_softmax(logits, tau=0.5, rng=0)
    >>> bool(np.isclose(y.sum(), 1.0))
    True
    >>> float(nps.gumbel_softmax(logits, hard=True, rng=0).sum())
    1.0
    """
    _refuse_dask("gumbel_softmax", logits, tau)
    _temperature(tau, "tau", "gumbel_softmax")
    return _gumbel(logits, tau, hard, axis, rng, "gumbel_softmax")


def _refuse_dask(op: str, *values: Any) -> None:
    """gumbel_softmax and gumbelmax refuse dask input, before drawing or computing anything."""
    refuse_dask(
        op,
        "its noise is one stream from rng over the whole array, which dask's blocks cannot "
        "share reproducibly. Compute the array first (x.compute()), or call x.map_blocks with a "
        "function that gives each block its own Generator (numpy.random.SeedSequence.spawn), "
        "the class axis in one chunk.",
        *values,
    )


def _gumbel(logits: Any, tau: Any, hard: Any, axis: Any, rng: Any, op: str) -> Any:
    if not isinstance(hard, (bool, np.bool_)):
        raise TypeError(f"{op}: hard must be True or False, got {hard!r}.")
    gen = make_rng(rng, op)
    if not isinstance(logits, Tensor):
        logits = as_array(logits, f"{op}'s input")
    logits = _as_logits(logits)  # bools and integers to float64: the noise takes this dtype
    data = logits.data if isinstance(logits, Tensor) else logits
    # Checked here, under this function's name, before any noise is drawn (temp_softmax would
    # otherwise refuse it under its own).
    normalize_axes(axis, data.ndim, op)
    noise = _gumbel_noise(data.shape, gen).astype(data.dtype)
    z = ops.add(logits, noise)  # a -inf logit stays -inf: never sampled
    y = temp_softmax(z, temperature=tau, axis=axis)
    if not hard:
        return y
    z_data = z.data if isinstance(z, Tensor) else z
    y_data = y.data if isinstance(y, Tensor) else y
    return dispatch(StraightThroughFunction, y, hard=_one_hot_argmax(z_data, y_data, axis))


def gumbelmax(x: Any, temp: Any = 1.0, hard: bool = False, rng: Any = None) -> Any:
    r"""zeta's name for :func:`gumbel_softmax` along the last axis (a Gumbel-softmax sample).

    Composite.  Despite the name it returns the Gumbel-*softmax* (soft) sample unless
    ``hard=True``, as zeta's function does; the hard sample is the Gumbel-max one-hot.

    Parameters
    ----------
    x : array_like or Tensor
        Logits; the last axis is the class axis.
    temp : float or Tensor, default 1.0
        The temperature, a finite number > 0.
    hard : bool, default False
        Return one-hot rows with the straight-through gradient.
    rng : numpy.random.Generator, int or None
        The source of noise (never NumPy's global state); see :func:`gumbel_softmax`.

    Returns
    -------
    numpy.ndarray or Tensor
        Same shape as ``x``.

    Raises
    ------
    ValueError
        If ``temp`` is not finite or not > 0, or has more than one element.
    TypeError
        If ``temp``, ``hard`` or ``rng`` has the wrong type, ``x`` is not numeric, or ``x`` is
        a dask array.

    Notes
    -----
    :math:`y = \mathrm{softmax}((x + G) / T)`, :math:`G` standard Gumbel noise drawn as in
    :func:`gumbel_softmax`; VJP for fixed noise :math:`\bar{x} = v / T`,
    :math:`v = y \odot (g - \langle g, y \rangle)`.  Unlike zeta's version (and PyTorch's
    ``F.gumbel_softmax``) the noise can never be infinite, and the randomness is explicit.

    References
    ----------
    E. Jang, S. Gu, B. Poole, arXiv:1611.01144; C. J. Maddison, A. Mnih, Y. W. Teh,
    arXiv:1611.00712; zeta (kyegomez/zeta), ``zeta/ops/softmax.py::gumbelmax``.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> h = nps.gumbelmax(np.zeros((2, 4)), hard=True, rng=np.random.default_rng(7))
    >>> h.sum(axis=-1)
    array([1., 1.])
    """
    _refuse_dask("gumbelmax", x, temp)
    _temperature(temp, "temp", "gumbelmax")
    return _gumbel(x, temp, hard, -1, rng, "gumbelmax")
