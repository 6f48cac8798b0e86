"""Reference kernels of the mixture of softmaxes: vectorised NumPy, written to be read.

The mixture ``P = sum_k pi_k softmax(z_k)`` (Yang et al., arXiv 1711.03953) and its VJP, for
``MixtureOfSoftmaxes``.  Each kernel has a compiled twin with the same name, signature and
results (to rounding) in :mod:`npsoftmax.kernels.numba_mixture`.

Contract
--------
* ``pi`` ``(rows, K)`` mixture weights, ``z`` and ``p`` ``(rows, K, C)`` component logits and
  softmaxes, ``g`` and ``out`` ``(rows, C)``; C-contiguous, one floating dtype; the caller
  provides every output and gets the last one back.  ``p`` may be ``z`` (softmax in place).
* Each component row follows softmax's edge policy (:func:`reference.softmax_rows`), and the
  mixture inherits it: a NaN component row makes its output row NaN.
* float32 dot products are summed in float64 (as :func:`reference.softmax_rows_vjp`).
"""

from __future__ import annotations

import numpy as np

from . import reference


def mixture_rows(pi: np.ndarray, z: np.ndarray, p: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Mixture of softmaxes per row: ``p[i, k] = softmax(z[i, k])``, ``out[i] = pi[i] @ p[i]``.

    Parameters
    ----------
    pi : ndarray, shape (rows, K)
        The mixture weights (rows summing to one; not checked).
    z : ndarray, shape (rows, K, C)
        The component logits; may be ``p``.
    p : ndarray, shape (rows, K, C)
        Receives the component softmaxes (saved for the VJP).
    out : ndarray, shape (rows, C)
        Receives ``sum_k pi[i, k] * p[i, k]``.

    Returns
    -------
    out : ndarray
    """
    rows, k, c = z.shape
    reference.softmax_rows(z.reshape(rows * k, c), p.reshape(rows * k, c))
    with np.errstate(invalid="ignore"):  # 0 * a NaN component: NaN, quietly (as the twin)
        np.matmul(pi[:, None, :], p, out=out[:, None, :])
    return out


def mixture_rows_vjp(
    pi: np.ndarray, p: np.ndarray, g: np.ndarray, dpi: np.ndarray, dz: np.ndarray
) -> np.ndarray:
    """VJP of :func:`mixture_rows`: ``dpi[i, k] = <g[i], p[i, k]>`` and
    ``dz[i, k] = pi[i, k] * p[i, k] * (g[i] - <g[i], p[i, k]>)``, the softmax VJP of
    ``pi_k g``.

    Parameters
    ----------
    pi : ndarray, shape (rows, K)
    p : ndarray, shape (rows, K, C)
        The component softmaxes saved by :func:`mixture_rows`.
    g : ndarray, shape (rows, C)
        The upstream gradient of the mixture.
    dpi : ndarray, shape (rows, K)
        Receives the gradient of ``pi``.
    dz : ndarray, shape (rows, K, C)
        Receives the gradient of ``z``.

    Returns
    -------
    dz : ndarray
    """
    work = np.float64 if p.dtype == np.float32 else p.dtype
    pw, gw = p.astype(work, copy=False), g.astype(work, copy=False)[:, None, :]
    with np.errstate(over="ignore", invalid="ignore"):
        dot = np.sum(pw * gw, axis=2, keepdims=True)  # (rows, K, 1)
        dpi[...] = dot[..., 0]
        y = pi.astype(work, copy=False)[..., None] * pw  # pi_k p_k
        dz[...] = y * gw - y * dot  # y * (g - dot), expanded as in softmax's VJP
    return dz
