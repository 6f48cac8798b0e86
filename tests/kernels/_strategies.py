"""Hypothesis strategies for kernel input: 2-D ``(rows, n)`` float arrays, edges included."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def _width(dtype) -> int:
    return np.dtype(dtype).itemsize * 8


def float_rows(dtype, elements: st.SearchStrategy, max_rows: int = 4, max_n: int = 12):
    """2-D ``(rows, n)`` arrays of ``dtype`` with 0..max_rows rows and 0..max_n columns."""
    shape = st.tuples(st.integers(0, max_rows), st.integers(0, max_n))
    return hnp.arrays(dtype, shape, elements=elements)


@st.composite
def rows_and_grads(draw, dtype, x_elements, g_elements, max_rows: int = 4, max_n: int = 12):
    """A pair ``(x, g)`` of 2-D arrays of one shape, as :func:`float_rows` draws them."""
    shape = draw(st.tuples(st.integers(0, max_rows), st.integers(0, max_n)))
    x = draw(hnp.arrays(dtype, shape, elements=x_elements))
    g = draw(hnp.arrays(dtype, shape, elements=g_elements))
    return x, g


def finite(dtype, bound: float | None = None) -> st.SearchStrategy:
    """Finite floats of ``dtype`` in ``[-bound, bound]`` (the whole finite range if None)."""
    low = None if bound is None else -bound
    return st.floats(low, bound, allow_nan=False, allow_infinity=False, width=_width(dtype))


def masked(dtype, bound: float) -> st.SearchStrategy:
    """Finite floats in ``[-bound, bound]``, often ``-inf`` (a masked entry)."""
    return st.one_of(finite(dtype, bound), finite(dtype, bound), st.just(-np.inf))


def anything(dtype) -> st.SearchStrategy:
    """Any float of ``dtype``: huge, subnormal, ``-inf``, ``+inf``, NaN."""
    return st.one_of(
        st.floats(width=_width(dtype)),
        finite(dtype, 100.0),
        st.sampled_from([-np.inf, np.inf, np.nan]),
    )
