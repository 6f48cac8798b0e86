"""The argument checks that every module of :mod:`npsoftmax.nn` shares.

One wording for all of them: a size that must be an integer (``check_size``), the parameters'
dtype (``check_dtype``: float32 or float64), the random generator of an initialisation
(``make_rng``).  Each error names the argument, the module and the value it got.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.shapes import as_integer
from ..functional.stochastic import make_rng  # the functional API's, shared

__all__ = ["FLOAT_DTYPES", "check_dtype", "check_flag", "check_size", "make_rng"]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_size(value: Any, name: str, owner: str, minimum: int = 1) -> int:
    """Return ``value`` as an int ``>= minimum``, or raise naming ``name`` and ``owner``."""
    value = as_integer(value, name, owner)
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}, got {value}.")
    return value


def check_flag(value: Any, name: str, owner: str) -> bool:
    """Return ``value`` as a bool if it is one (Python's or NumPy's), or raise ``TypeError``.

    A truthy string such as ``"False"`` must not switch an option on.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}.")
    return bool(value)


def check_dtype(dtype: Any, owner: str) -> np.dtype:
    """Return ``dtype`` as ``np.dtype`` if it is float32 or float64, else raise ``TypeError``."""
    try:
        dt = np.dtype(dtype) if dtype is not None else None
    except TypeError:
        dt = None
    # (np.dtype(None) compares equal to float64, so None is refused explicitly.)
    if dt is None or dt not in FLOAT_DTYPES:
        raise TypeError(f"{owner}: dtype must be numpy.float64 or numpy.float32, got {dtype!r}.")
    return dt
