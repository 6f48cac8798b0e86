"""512-bit vectors for the compiled kernels on AVX-512 CPUs, without touching other Numba code.

LLVM tunes Intel's AVX-512 server CPUs (Skylake-SP to Emerald Rapids) with ``prefer-256-bit``:
on the first of them, 512-bit instructions lowered the core's clock, so its loop vectoriser
stops at 256 bits, and Numba compiled the kernels' loops to 8 float32 lanes where PyTorch's
AVX-512 kernels run 16.  Measured on a 16-core Emerald Rapids with 512-bit vectors allowed
(``benchmarks/results/xeon16/avx512_ab.log``): PyTorch / npsoftmax went from 0.88 to 0.99
(softmax), 1.11 to 1.25 (log_softmax) and 0.96 to 1.07 (float64 softmax) at one thread; at 16
threads, where memory sets the pace, by -2% to +6%.

The tuning can be overridden per function: LLVM's x86 backend reads a function attribute
``"prefer-vector-width"="512"`` before the CPU's default (it is what ``clang
-mprefer-vector-width=512`` emits).  :func:`wide_vectors` is an intrinsic that puts it on the
function being compiled, so the rule of the kernel modules is:

* every compiled function with a loop calls ``wide_vectors()`` (a Numba-inlined helper carries
  the call into its caller), and
* so does the body of every ``prange`` loop: Numba compiles that body as a function of its own.

``tests/kernels/test_numba_vectors.py`` checks the rule on the source and the result on the
machine code (the kernels compiled for Skylake-SP use zmm registers).  On a CPU without
AVX-512 the attribute changes nothing: LLVM never goes past the widest legal vector.  Other
Numba code in the process keeps Numba's settings.

To keep 256-bit vectors (say, on a Skylake-SP whose clock drops with 512-bit code), put
``+prefer-256-bit`` in Numba's CPU features: the attribute is then left out, and the feature
string is part of the key of Numba's cache, so the two settings never share compiled code.
``python -m npsoftmax.kernels.numba_vectors`` prints that string for this machine::

    NUMBA_CPU_FEATURES="$(python -m npsoftmax.kernels.numba_vectors)" python train.py
"""

from __future__ import annotations

from numba import types
from numba.extending import intrinsic

NARROW = "+prefer-256-bit"
PREFER_WIDE = '"prefer-vector-width"="512"'


def host_features() -> str:
    """The CPU features Numba compiles for by default here (LLVM's view of the host)."""
    from numba.core.codegen import get_host_cpu_features

    return get_host_cpu_features()


def narrow_vector_features(host: str | None = None) -> str:
    """``host`` (default: this machine's features) with 512-bit vectors declined.

    Examples
    --------
    >>> narrow_vector_features("+avx2,+avx512f,+fma")
    '+avx2,+avx512f,+fma,+prefer-256-bit'
    >>> narrow_vector_features("+avx2,+fma,-prefer-256-bit")  # the flag replaced, not doubled
    '+avx2,+fma,+prefer-256-bit'
    """
    features = host_features() if host is None else host
    flags = [f for f in features.split(",") if f and f.lstrip("+-") != "prefer-256-bit"]
    return ",".join([*flags, NARROW])


def narrow_requested(features: str | None = None) -> bool:
    """Whether Numba's CPU features (default: this process's) ask for 256-bit vectors."""
    if features is None:
        from numba.core import config

        features = config.CPU_FEATURES or ""
    return NARROW in features.split(",")


def vector_width() -> str:
    """The vectors the kernels' loops use on this machine, in words (for reports)."""
    from numba.core import config

    features = (config.CPU_FEATURES or host_features()).split(",")
    if "+avx512f" not in features:
        return "LLVM's widest (no AVX-512)"
    if narrow_requested():
        return "256-bit (NUMBA_CPU_FEATURES has +prefer-256-bit)"
    return "512-bit (AVX-512)"


@intrinsic
def wide_vectors(typingctx):
    """Let LLVM vectorise the calling function's loops with 512-bit vectors (see above).

    Compiles to nothing but the function attribute ``"prefer-vector-width"="512"``, unless
    Numba's CPU features hold ``+prefer-256-bit``.
    """

    def codegen(context, builder, signature, args):
        if not narrow_requested():
            # llvmlite's attribute set accepts only its list of enum attributes; a string
            # attribute is written into the IR as it is (set.add skips that check).
            set.add(builder.function.attributes, PREFER_WIDE)
        return context.get_dummy_value()

    return types.none(), codegen


if __name__ == "__main__":
    print(narrow_vector_features())
