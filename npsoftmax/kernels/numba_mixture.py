"""Compiled kernels of the mixture of softmaxes: the twins of :mod:`reference_mixture`.

One parallel loop over rows does all of a row's work: its K component softmaxes (softmax's own
row function) and their weighted sum, read while the row's components are still in the cache;
backward, each component's dot product ``<g, p_k>`` and the scaled softmax VJP.  As NumPy
glue around the softmax kernel (the components stacked, ``pi[:, None, :] @ p`` per row, and
backward ``pi_k g`` broadcast to ``(rows, K, C)``), these passes ran on one thread: on 16 cores
they took about 45 ms of a 120 ms ``MixtureOfSoftmaxes(5, 256, 10000)`` step
(``benchmarks/results/xeon16/module_profile.log``).

Accuracy: the softmaxes are :func:`numba_rows.softmax_row`'s (see ``numba_cpu``); the weighted
sum adds K products in the array's dtype, as the matrix product did; the VJP sums its dot
products in float64 and writes ``y * g - y * dot`` with ``y = pi_k p_k`` in float64, rounded
once, as ``numba_cpu.softmax_rows_vjp`` does.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .numba_cache import drop_stale_cache
from .numba_cpu import CHUNKS, PARALLEL, SERIAL
from .numba_cpu import INLINED as CPU_INLINED
from .numba_exp import FASTMATH
from .numba_prefetch import next_row
from .numba_reduce import row_dot
from .numba_rows import same, softmax_row
from .numba_threads import pick
from .numba_vectors import wide_vectors

# numba_cpu's list (the row functions, the exponential, ...) and numba_cpu itself, for its
# settings: the modules whose code these kernels inline.
INLINED = ("numba_cpu", *CPU_INLINED)
drop_stale_cache("numba_mixture", INLINED)

_ROW = dict(inline="always", error_model="numpy", fastmath=FASTMATH)


@njit(**_ROW)
def _mixture_row(pin, zn, pn, on, inplace, z_ahead):
    """``pn[k] = softmax(zn[k])`` for each k, then ``on = sum_k pin[k] * pn[k]``; each
    component prefetches the next one, the last the first of ``z_ahead`` (the next row)."""
    k = zn.shape[0]
    for j in range(k):
        softmax_row(zn[j], pn[j], 1.0, inplace, zn[j + 1] if j + 1 < k else z_ahead[0])
    if k == 0:  # an empty mixture: the sum of nothing, as the reference's product gives
        on[:] = 0
        return
    w = pin[0]
    for c in range(on.shape[0]):
        on[c] = w * pn[0, c]
    for j in range(1, k):
        w = pin[j]
        for c in range(on.shape[0]):
            on[c] += w * pn[j, c]


@njit(**_ROW)
def _mixture_vjp_row(pin, pn, gn, dpin, dzn):
    """``dpin[k] = <gn, pn[k]>``, ``dzn[k] = pin[k] pn[k] (gn - dpin[k])`` (float64 inside)."""
    for j in range(pn.shape[0]):
        dot = row_dot(gn, pn[j])
        dpin[j] = dot
        w = np.float64(pin[j])
        for c in range(gn.shape[0]):
            y = w * np.float64(pn[j, c])
            dzn[j, c] = y * np.float64(gn[c]) - y * dot


@njit(**PARALLEL)
def _mixture_par(pi, z, p, out):
    inplace = same(z, p)
    rows, nch = z.shape[0], min(z.shape[0], CHUNKS)
    for ch in prange(nch):
        wide_vectors()
        lo, hi = ch * rows // nch, (ch + 1) * rows // nch
        for i in range(lo, hi):
            _mixture_row(pi[i], z[i], p[i], out[i], inplace, z[next_row(i, hi)])
    return out


@njit(**SERIAL)
def _mixture_ser(pi, z, p, out):
    wide_vectors()
    inplace = same(z, p)
    hi = z.shape[0]
    for i in range(hi):
        _mixture_row(pi[i], z[i], p[i], out[i], inplace, z[next_row(i, hi)])
    return out


def mixture_rows(pi, z, p, out):
    """Mixture of softmaxes per row: ``p[i, k] = softmax(z[i, k])``, ``out[i] = pi[i] @ p[i]``.

    ``pi`` ``(rows, K)``, ``z`` and ``p`` ``(rows, K, C)`` (``p`` may be ``z``), ``out``
    ``(rows, C)``; returns ``out``.  A component row with a NaN, a ``+inf`` or only ``-inf`` is
    all NaN, and so is the mixture's row.
    """
    return pick(_mixture_par, _mixture_ser, z.size)(pi, z, p, out)


@njit(**PARALLEL)
def _mixture_vjp_par(pi, p, g, dpi, dz):
    rows, nch = p.shape[0], min(p.shape[0], CHUNKS)
    for ch in prange(nch):
        wide_vectors()
        for i in range(ch * rows // nch, (ch + 1) * rows // nch):
            _mixture_vjp_row(pi[i], p[i], g[i], dpi[i], dz[i])
    return dz


@njit(**SERIAL)
def _mixture_vjp_ser(pi, p, g, dpi, dz):
    wide_vectors()
    for i in range(p.shape[0]):
        _mixture_vjp_row(pi[i], p[i], g[i], dpi[i], dz[i])
    return dz


def mixture_rows_vjp(pi, p, g, dpi, dz):
    """VJP of :func:`mixture_rows`: ``dpi[i, k] = <g[i], p[i, k]>``,
    ``dz[i, k] = pi[i, k] * p[i, k] * (g[i] - dpi[i, k])``; returns ``dz``.

    ``g`` ``(rows, C)``, ``dpi`` ``(rows, K)``, ``dz`` ``(rows, K, C)``, none of them aliasing
    another argument.
    """
    return pick(_mixture_vjp_par, _mixture_vjp_ser, p.size)(pi, p, g, dpi, dz)
