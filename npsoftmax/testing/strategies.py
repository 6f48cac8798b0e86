"""Hypothesis strategies for logits: shapes, dtypes, extreme but valid values, ``-inf`` masks.

Hypothesis is a test extra, not a dependency of npsoftmax, so this module is imported on demand::

    from npsoftmax.testing.strategies import logits, masked_logits

Legend: ``x`` logits; ``axis`` the softmax axis; a *row* is a 1-D slice of ``x`` along ``axis``;
``c`` a shift; ``s`` a scale; ``q``, ``p`` exponents of the dyadic grid of :func:`grid_logits`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "FLOAT_DTYPES",
    "extreme_bound",
    "grid_logits",
    "logits",
    "masked_logits",
    "scales",
    "shapes",
    "shifts",
]

#: The floating dtypes that the strategies draw logits in.
FLOAT_DTYPES = (np.float16, np.float32, np.float64)

# Dyadic grids per dtype: values k * 2**-q with |x| <= 2**p_x, shifts |c| <= 2**p_c.  Chosen so
# that x + c and s * x (s in {0, 1/4, ..., 4}) are EXACT in the dtype: the bits needed,
# q + p_c + 1 and (q + 2) + (p_x + 2), fit in the significand (11, 24, 53 bits).  Exact
# arithmetic makes shift invariance an equality for a correct implementation, not a tolerance.
_GRID = {  # dtype name: (q, p_x, p_c)
    "float16": (2, 4, 8),
    "float32": (8, 6, 15),
    "float64": (8, 6, 40),
}


def _float_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype must be float16, float32 or float64, got {dtype!r}.") from err
    if dt.name not in _GRID:
        raise ValueError(f"dtype must be float16, float32 or float64, got {dt.name!r}.")
    return dt


def _min_dims(axis: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an integer, got {axis!r}.")
    return int(axis) + 1 if axis >= 0 else -int(axis)


def shapes(*, axis: int = -1, max_dims: int = 3, max_side: int = 6) -> st.SearchStrategy:
    """Array shapes with at least one element along ``axis`` (and enough dimensions for it).

    Parameters
    ----------
    axis : int, default -1
        The softmax axis the shapes must have.
    max_dims, max_side : int, default 3 and 6
        The largest number of dimensions and the largest length of each.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Tuples of ints, every side >= 1.

    Raises
    ------
    TypeError
        If ``axis`` is not an integer.

    Examples
    --------
    >>> from npsoftmax.testing.strategies import shapes
    >>> from hypothesis import find
    >>> shape = find(shapes(axis=1), lambda v: True)
    >>> len(shape) >= 2 and min(shape) >= 1
    True
    """
    min_dims = _min_dims(axis)
    # Keep arrays small when the axis forces many dimensions: at most about 4096 elements.
    max_side = min(max_side, max(2, int(4096 ** (1 / min_dims))))
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max(max_dims, min_dims), min_side=1, max_side=max_side
    )


def extreme_bound(dtype: Any = np.float64) -> float:
    """The largest magnitude of "extreme but valid" logits: ``finfo(dtype).max / 4``.

    Any two such values differ by at most ``max / 2``, so ``x - max(x)`` stays finite and a
    correct softmax gives a finite answer; a softmax without max-subtraction overflows.

    Parameters
    ----------
    dtype : float16, float32 or float64
        The dtype.

    Returns
    -------
    float
        ``finfo(dtype).max / 4`` (exact: a division by a power of two).

    Raises
    ------
    TypeError, ValueError
        If ``dtype`` is not one of the three float dtypes.

    Examples
    --------
    >>> import numpy as np
    >>> from npsoftmax.testing.strategies import extreme_bound
    >>> extreme_bound(np.float16)
    16376.0
    """
    return float(np.finfo(_float_dtype(dtype)).max) / 4


def logits(
    shape: Any = None,
    *,
    dtype: Any = np.float64,
    extreme: bool = False,
    bound: float | None = None,
    axis: int = -1,
    max_side: int = 6,
) -> st.SearchStrategy:
    """Finite logit arrays: moderate values, or extreme ones that overflow naive formulas.

    Parameters
    ----------
    shape : tuple of int or strategy, optional
        A fixed shape or a strategy of shapes; default :func:`shapes` for ``axis``.
    dtype : float16, float32 or float64, default float64
        The arrays' dtype.
    extreme : bool, default False
        Draw from ``[-extreme_bound(dtype), extreme_bound(dtype)]`` instead of ``[-30, 30]``.
    bound : float, optional
        An explicit magnitude bound (overrides ``extreme``).
    axis : int, default -1
        The softmax axis (used for the default shapes).
    max_side : int, default 6
        The largest side of the default shapes.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        NumPy arrays of ``dtype``, no NaN, no infinity.

    Raises
    ------
    TypeError, ValueError
        If ``dtype`` is not a float dtype, or ``axis`` not an integer.

    Examples
    --------
    >>> import numpy as np
    >>> from npsoftmax.testing.strategies import logits
    >>> from hypothesis import find
    >>> x = find(logits((2, 3), dtype=np.float32, extreme=True), lambda v: True)
    >>> x.dtype, x.shape, bool(np.isfinite(x).all())
    (dtype('float32'), (2, 3), True)
    """
    dt = _float_dtype(dtype)
    if bound is None:
        bound = extreme_bound(dt) if extreme else 30.0
    elements = st.floats(
        -bound, bound, width=8 * dt.itemsize, allow_nan=False, allow_infinity=False
    )
    if shape is None:
        shape = shapes(axis=axis, max_side=max_side)
    return hnp.arrays(dt, shape, elements=elements)


@st.composite
def masked_logits(
    draw: Any,
    shape: Any = None,
    *,
    dtype: Any = np.float64,
    extreme: bool = False,
    axis: int = -1,
    max_side: int = 6,
) -> np.ndarray:
    """Logits with some entries set to ``-inf`` (a mask), at least one finite entry per row.

    Parameters
    ----------
    shape, dtype, extreme, axis, max_side
        As for :func:`logits`; ``axis`` also defines the rows that keep a finite entry.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        NumPy arrays of ``dtype`` whose every row along ``axis`` has a finite maximum.

    Raises
    ------
    TypeError, ValueError
        As for :func:`logits`.

    Examples
    --------
    >>> import numpy as np
    >>> from npsoftmax.testing.strategies import masked_logits
    >>> from hypothesis import find
    >>> x = find(masked_logits((4, 5)), lambda v: True)
    >>> bool(np.isfinite(x).any(axis=-1).all())
    True
    """
    x = draw(logits(shape, dtype=dtype, extreme=extreme, axis=axis, max_side=max_side)).copy()
    mask = draw(hnp.arrays(np.bool_, x.shape))
    # A fully masked row has no finite maximum (softmax is NaN there by policy), so unmask the
    # first entry of such rows: the strategy draws only rows where the answer is defined.
    rows = np.moveaxis(mask, axis, -1)
    rows[..., 0] &= ~rows.all(axis=-1)
    x[mask] = -np.inf
    return x


def grid_logits(
    shape: Any = None, *, dtype: Any = np.float64, axis: int = -1, max_side: int = 6
) -> st.SearchStrategy:
    """Logits on a dyadic grid, so that ``x + c`` and ``s * x`` are exact (see :func:`shifts`).

    Parameters
    ----------
    shape, dtype, axis, max_side
        As for :func:`logits`.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Arrays of multiples of ``2**-q`` with ``|x| <= 2**p`` (float16: ``q, p = 2, 4``;
        float32 and float64: ``8, 6``).

    Raises
    ------
    TypeError, ValueError
        As for :func:`logits`.

    Examples
    --------
    >>> import numpy as np
    >>> from npsoftmax.testing.strategies import grid_logits
    >>> from hypothesis import find
    >>> x = find(grid_logits((3,)), lambda v: True)
    >>> bool(np.all(x * 256 == np.round(x * 256)))
    True
    """
    dt = _float_dtype(dtype)
    q, p_x, _ = _GRID[dt.name]
    k = 2 ** (p_x + q)
    elements = st.integers(-k, k).map(lambda i: i * 2.0**-q)
    if shape is None:
        shape = shapes(axis=axis, max_side=max_side)
    return hnp.arrays(dt, shape, elements=elements)


def shifts(dtype: Any = np.float64) -> st.SearchStrategy:
    """Integer shifts ``c`` with ``|c| <= 2**p`` (p = 8, 15, 40 for float16/32/64).

    Large enough that ``exp(x + c)`` overflows, small enough that ``x + c`` is exact for
    :func:`grid_logits` ``x``.

    Parameters
    ----------
    dtype : float16, float32 or float64, default float64
        The dtype of the logits to shift.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Python floats with integer values.

    Raises
    ------
    TypeError, ValueError
        If ``dtype`` is not a float dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from npsoftmax.testing.strategies import shifts
    >>> from hypothesis import find
    >>> find(shifts(np.float32), lambda c: abs(c) > 1000)
    1001.0
    """
    p_c = _GRID[_float_dtype(dtype).name][2]
    return st.integers(-(2**p_c), 2**p_c).map(float)


def scales() -> st.SearchStrategy:
    """Pairs of scales ``(s1, s2)`` with ``0 <= s1 < s2 <= 4``, multiples of ``1/4``.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
        Tuples of two Python floats (exact products with :func:`grid_logits` values).

    Raises
    ------
    None

    Examples
    --------
    >>> from npsoftmax.testing.strategies import scales
    >>> from hypothesis import find
    >>> find(scales(), lambda s: s[1] > 1)
    (0.0, 1.25)
    """
    pairs = st.lists(st.integers(0, 16), min_size=2, max_size=2, unique=True)
    return pairs.map(lambda k: (min(k) / 4, max(k) / 4))
