"""Row kernels, dispatched to the active backend (see :mod:`npsoftmax._backend`).

Each function below forwards to the function of the same name in
:mod:`npsoftmax.kernels.numba_cpu` (backend ``"numba"``) or :mod:`npsoftmax.kernels.reference`
(backend ``"numpy"``); their docstrings give the formulas and the edge policy.  The contract:
2-D C-contiguous ``(rows, classes)`` float32 or float64 arrays of one dtype, a caller-provided
``out`` that is returned and may alias the input (and a VJP's ``g``).

The Numba module is imported on first use, so ``NPSOFTMAX_BACKEND=numpy`` never imports Numba
nor compiles anything.

Legend: ``x`` logits, ``y`` softmax output, ``ls`` log_softmax output, ``g`` upstream gradient.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from .. import _backend
from . import reference

KERNEL_NAMES = (
    "softmax_rows",
    "log_softmax_rows",
    "logsumexp_rows",
    "softmax_rows_vjp",
    "log_softmax_rows_vjp",
)


def _impl() -> ModuleType:
    """The kernel module of the active backend."""
    if _backend.get_backend() == "numpy":
        return reference
    try:
        from . import numba_cpu  # after the first import, a dictionary look-up
    except ImportError as err:
        raise ImportError(
            "The 'numba' backend needs Numba, which could not be imported; install numba, or "
            "select the NumPy backend with NPSOFTMAX_BACKEND=numpy or use_backend('numpy')."
        ) from err
    return numba_cpu


def softmax_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = exp(x - m) / sum(exp(x - m))`` per row; returns ``out``."""
    return _impl().softmax_rows(x, out)


def log_softmax_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = (x - m) - log(sum(exp(x - m)))`` per row; returns ``out``."""
    return _impl().log_softmax_rows(x, out)


def logsumexp_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i] = m + log(sum(exp(x[i] - m)))``, ``out`` of shape ``(rows,)``; returns ``out``."""
    return _impl().logsumexp_rows(x, out)


def softmax_rows_vjp(y: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = y * (g - sum(g * y))`` per row (softmax VJP); returns ``out``."""
    return _impl().softmax_rows_vjp(y, g, out)


def log_softmax_rows_vjp(ls: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = g - exp(ls) * sum(g)`` per row (log_softmax VJP); returns ``out``."""
    return _impl().log_softmax_rows_vjp(ls, g, out)
