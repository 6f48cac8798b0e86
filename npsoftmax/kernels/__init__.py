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

from importlib import import_module
from types import ModuleType

import numpy as np

from .. import _backend
from . import numba_threads, reference

KERNEL_NAMES = (
    "softmax_rows",
    "log_softmax_rows",
    "logsumexp_rows",
    "cross_entropy_rows",
    "weighted_softmax_rows",
    "softmax_rows_vjp",
    "log_softmax_rows_vjp",
    "online_softmax_rows",
)

# The sparse maps' twins live in their own pair of modules (reference_sparse / numba_sparse).
SPARSE_KERNEL_NAMES = (
    "sparsemax_rows",
    "sparsemax_rows_vjp",
    "entmax15_rows",
    "entmax15_rows_vjp",
    "entmax_bisect_rows",
    "entmax_bisect_rows_vjp",
)

# The mixture of softmaxes (MixtureOfSoftmaxes): reference_mixture / numba_mixture.
MIXTURE_KERNEL_NAMES = ("mixture_rows", "mixture_rows_vjp")


def _impl() -> ModuleType:
    """The softmax-family kernel module of the active backend."""
    if _backend.get_backend() == "numpy":
        return reference
    try:
        from . import numba_cpu  # after the first import, a dictionary look-up
    except ImportError as err:
        raise ImportError(_NO_NUMBA) from err
    return numba_cpu


def _impl_family(family: str) -> ModuleType:
    """The kernel module of a family (``"sparse"``, ``"mixture"``) for the active backend.

    The pair ``reference_<family>`` / ``numba_<family>``; the Numba side's parallel kernels
    start the thread pool here, or at their first parallel call.
    """
    if _backend.get_backend() == "numpy":
        return import_module(f"{__name__}.reference_{family}")
    try:
        module = import_module(f"{__name__}.numba_{family}")  # then a sys.modules look-up
    except ImportError as err:
        raise ImportError(_NO_NUMBA) from err
    if family == "sparse":
        numba_threads.launch_thread_pool()  # every sparse kernel is parallel
    return module


if _backend.get_backend() == "numba":
    numba_threads.load_runtime()  # GNU OpenMP reads its spin count once, when loaded
    numba_threads.shorten_blas_spin()  # and OpenBLAS's idle spin, which slows the kernels

_NO_NUMBA = (
    "The 'numba' backend needs Numba, which could not be imported; install numba, or "
    "select the NumPy backend with NPSOFTMAX_BACKEND=numpy or use_backend('numpy')."
)


def softmax_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = exp(x - m) / sum(exp(x - m))`` per row; returns ``out``."""
    return _impl().softmax_rows(x, out)


def log_softmax_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = (x - m) - log(sum(exp(x - m)))`` per row; returns ``out``."""
    return _impl().log_softmax_rows(x, out)


def logsumexp_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i] = m + log(sum(exp(x[i] - m)))``, ``out`` of shape ``(rows,)``; returns ``out``."""
    return _impl().logsumexp_rows(x, out)


def cross_entropy_rows(x: np.ndarray, t: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i] = -log_softmax(x[i])[t[i]]``, ``out`` of shape ``(rows,)``; returns ``out``."""
    return _impl().cross_entropy_rows(x, t, out)


def weighted_softmax_rows(x: np.ndarray, w: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i] = w[i] * softmax(x[i])``, ``w`` of shape ``(rows,)``; returns ``out``."""
    return _impl().weighted_softmax_rows(x, w, out)


def softmax_rows_vjp(y: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = y * (g - sum(g * y))`` per row (softmax VJP); returns ``out``."""
    return _impl().softmax_rows_vjp(y, g, out)


def log_softmax_rows_vjp(ls: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = g - exp(ls) * sum(g)`` per row (log_softmax VJP); returns ``out``."""
    return _impl().log_softmax_rows_vjp(ls, g, out)


def online_softmax_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Softmax per row with a one-pass normaliser (running max and sum); returns ``out``."""
    return _impl().online_softmax_rows(x, out)


# -- sparse maps ------------------------------------------------------------------------------
def sparsemax_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = max(x - tau, 0)`` per row, the Euclidean projection onto the simplex."""
    return _impl_family("sparse").sparsemax_rows(x, out)


def sparsemax_rows_vjp(y: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = s * (g - mean of g over the support s = (y > 0))`` per row (sparsemax VJP)."""
    return _impl_family("sparse").sparsemax_rows_vjp(y, g, out)


def entmax15_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = max(x / 2 - tau, 0) ** 2`` per row, summing to one (exact 1.5-entmax)."""
    return _impl_family("sparse").entmax15_rows(x, out)


def entmax15_rows_vjp(y: np.ndarray, g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = u - (sum(u) / sum(h)) * h`` with ``h = sqrt(y)``, ``u = h * g`` (1.5-entmax VJP)."""
    return _impl_family("sparse").entmax15_rows_vjp(y, g, out)


def entmax_bisect_rows(x: np.ndarray, alpha: float, n_iter: int, out: np.ndarray) -> np.ndarray:
    """alpha-entmax per row: ``out = max((alpha-1) x - tau, 0) ** (1 / (alpha - 1))``, ``tau``
    such that the row sums to 1 (the support from the sorted row, then at most ``n_iter``
    Newton steps relative to its smallest entry, fewer once converged)."""
    return _impl_family("sparse").entmax_bisect_rows(x, alpha, n_iter, out)


def entmax_bisect_rows_vjp(
    y: np.ndarray, g: np.ndarray, alpha: float, out: np.ndarray
) -> np.ndarray:
    """``out = u - (sum(u) / sum(h)) * h`` with ``h = y ** (2 - alpha)`` on the support."""
    return _impl_family("sparse").entmax_bisect_rows_vjp(y, g, alpha, out)


# -- mixture of softmaxes ---------------------------------------------------------------------
def mixture_rows(pi: np.ndarray, z: np.ndarray, p: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``p[i, k] = softmax(z[i, k])`` and ``out[i] = sum_k pi[i, k] p[i, k]``; returns ``out``."""
    return _impl_family("mixture").mixture_rows(pi, z, p, out)


def mixture_rows_vjp(
    pi: np.ndarray, p: np.ndarray, g: np.ndarray, dpi: np.ndarray, dz: np.ndarray
) -> np.ndarray:
    """``dpi[i, k] = <g[i], p[i, k]>``, ``dz[i, k] = pi[i, k] p[i, k] (g[i] - dpi[i, k])``."""
    return _impl_family("mixture").mixture_rows_vjp(pi, p, g, dpi, dz)
