"""512-bit vectors for the Numba kernels on AVX-512 CPUs: the CPU features to give Numba.

LLVM tunes Intel's AVX-512 server CPUs (Skylake-SP to Emerald Rapids) with ``prefer-256-bit``:
on the first of them, 512-bit instructions lowered the core's clock, so its loop vectoriser
stops at 256 bits, and Numba compiles the kernels' loops to 8 float32 lanes where PyTorch's
AVX-512 kernels run 16.  With the host's features plus ``-prefer-256-bit``, the same loops use
the zmm registers.  Measured on a 16-core Emerald Rapids (``benchmarks/README.md``, its 16-core
note): PyTorch / npsoftmax went from 0.88 to 0.99 (softmax), 1.11 to 1.25 (log_softmax) and
0.96 to 1.07 (float64 softmax) at one thread; at 16 threads, where memory sets the pace, by
-2% to +6%.

Numba reads its CPU features once, before its first compilation, and uses them for all Numba
code in the process, so npsoftmax does not change them on its own; start Python with

.. code-block:: bash

    NUMBA_CPU_FEATURES="$(python -m npsoftmax.kernels.numba_vectors)" python train.py

which prints this machine's features with ``-prefer-256-bit`` added when it has AVX-512 F, and
unchanged otherwise.  Numba caches compiled kernels per feature string, so the two settings do
not overwrite each other's cache.
"""

from __future__ import annotations

WIDE = "-prefer-256-bit"


def host_features() -> str:
    """The CPU features Numba compiles for by default here (LLVM's view of the host)."""
    from numba.core.codegen import get_host_cpu_features

    return get_host_cpu_features()


def wide_vector_features(host: str | None = None) -> str:
    """``host`` (default: this machine's features) allowing 512-bit vectors if it has AVX-512 F.

    Examples
    --------
    >>> wide_vector_features("+avx2,+avx512f,+fma")
    '+avx2,+avx512f,+fma,-prefer-256-bit'
    >>> wide_vector_features("+avx2,+fma")  # no AVX-512: nothing to widen
    '+avx2,+fma'
    """
    features = host_features() if host is None else host
    flags = [f for f in features.split(",") if f and f.lstrip("+-") != "prefer-256-bit"]
    if "+avx512f" in flags:
        flags.append(WIDE)
    return ",".join(flags)


def wide_vectors_enabled() -> bool:
    """Whether Numba compiles this process's kernels with 512-bit vectors allowed."""
    from numba.core import config

    return WIDE in (config.CPU_FEATURES or "").split(",")


if __name__ == "__main__":
    print(wide_vector_features())
