"""The compiled kernels' exponential ``exp(x - m)``, written so that LLVM vectorises it.

Why not ``np.exp``: without Intel's SVML (absent from the llvmlite wheels) LLVM calls the scalar
libm ``exp`` once per element, and a loop with a call in it is never vectorised.  The exponential
below is written in plain arithmetic, so LLVM turns the loop around it into AVX/AVX-512 code.

``exp_shifted(x, m)`` computes ``exp(x - m)`` for ``x <= m`` (the max-shifted exponential of every
softmax), accurate to about one ulp of the exact result even though ``x - m`` itself is rounded:

1. TwoSum gives ``x - m = s + err`` exactly (``s`` the rounded difference, ``err`` its rounding
   error; six additions, valid because no ``fastmath`` reassociation is allowed).  Without it,
   the rounding of ``s``, up to ``|x - m| * eps / 2`` in absolute terms, becomes a *relative*
   error of ``exp`` (tens of ulps at ``x - m = -60`` in float32).
2. Range reduction ``x - m = k * ln2 + r``, ``|r| <= ln2 / 2``: ``k`` is rounded with the
   "magic number" trick (adding ``1.5 * 2**p`` leaves ``k`` in the low mantissa bits, read back
   by a bitcast: no ``round`` and no float-to-int conversion on the critical path, and a NaN
   gives garbage bits but no undefined behaviour); ``ln2`` is split in a high part with trailing
   zeros (so ``k * ln2_hi`` is exact) and a low part (Cody and Waite); ``err`` is added to ``r``.
3. ``exp(r)`` by a polynomial evaluated with Estrin's scheme (a shorter dependency chain than
   Horner's): for float32 a degree-6 minimax polynomial of our own fit (a Remez exchange for the
   relative error, reproduced by ``python -m tests.kernels.exp_minimax``: 3.8e-9, 0.06 ulp); for
   float64 the Taylor series to degree 13, whose remainder at ``|r| = ln2 / 2`` is below 2e-16.
4. Scaling by ``2**k`` builds the power of two from its bits, in two halves ``2**(k//2) *
   2**(k - k//2)`` so that results down to the smallest subnormal are right instead of flushed to
   zero.  Arguments below the underflow threshold are clamped to it (giving 0), which also maps a
   ``-inf`` entry (a mask) to 0; NaN propagates.
5. Every constant enters as ``c + z`` with ``z = m - m`` (0 for the finite ``m`` the callers
   guarantee): a value LLVM cannot treat as a constant stays in a register, where a constant is
   re-broadcast from memory at each use (``_hidden_zero`` says why that matters).

``exp_shifted_normal`` is the fast path for a row whose every result is a normal number (its
smallest entry within ``NORMAL_FLOOR`` of its maximum, tested once per row by ``normal_range``):
no clamping, and ``2**k`` is added to the exponent bits of the polynomial's value, two integer
operations instead of five.  It gives the same bits as ``exp_shifted`` and costs about 35% less.

Measured (``tests/kernels/test_numba_exp.py``): at most about 1 ulp against a float64 (for float32)
or extended-precision (for float64) oracle over the whole range, subnormal results included.

The row reductions (minimum and maximum, sums) are :mod:`npsoftmax.kernels.numba_reduce`.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

# fastmath: "contract" (fusing a * b + c into an FMA) only.  "reassoc" would let LLVM simplify
# TwoSum's error term to zero; "nnan"/"ninf" would delete the NaN and inf semantics the edge
# policy relies on.
FASTMATH = {"contract"}
JIT_OPTIONS = {"fastmath": FASTMATH, "error_model": "numpy"}


# -- bitcasts (LLVM's bitcast: free, and vectorisable) ------------------------------------------
@intrinsic
def f32_bits(typingctx, value):
    """The float32 as its int32 bits (a bitcast; no conversion)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int32))

    return types.int32(types.float32), codegen


@intrinsic
def f32_from_bits(typingctx, bits):
    """The int32 bits as the float32 they encode (a bitcast; no conversion)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return types.float32(types.int32), codegen


@intrinsic
def f64_bits(typingctx, value):
    """The float64 as its int64 bits (a bitcast; no conversion)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


@intrinsic
def f64_from_bits(typingctx, bits):
    """The int64 bits as the float64 they encode (a bitcast; no conversion)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's ``llvm.fma``: one instruction on a CPU with FMA, and
    vectorised like a multiplication; a correctly rounded libm call on one without)."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, signature, args):
        ty = context.get_value_type(signature.args[0])
        fn = builder.module.declare_intrinsic("llvm.fma", [ty], ir.FunctionType(ty, [ty] * 3))
        return builder.call(fn, args)

    return a(a, b, c), codegen


# -- float32 constants ------------------------------------------------------------------------
_F32_LOG2E = np.float32(1.4426950408889634)
_F32_LN2_HI = np.float32(0.693359375)  # 9 significant bits: k * ln2_hi is exact for |k| < 2**15
_F32_LN2_LO = np.float32(-2.12194440e-4)  # ln2 - ln2_hi
_F32_MAGIC = np.float32(12582912.0)  # 1.5 * 2**23
_F32_MAGIC_BITS = np.int32(0x4B400000)
_F32_UNDERFLOW = np.float32(-104.0)  # exp(-104) < half the smallest subnormal: rounds to 0
# exp(r) ~ 1 + r + r**2 * (Q4 + Q3 r + Q2 r**2 + Q1 r**3 + Q0 r**4) on |r| <= ln2 / 2: the
# minimax fit of the relative error (Remez exchange: python -m tests.kernels.exp_minimax),
# 3.8e-9 with these float32 coefficients, 0.06 ulp; degree 6 is enough for float32, and each
# coefficient fewer is one constant fewer competing for the 16 AVX2 registers.
_F32_Q0 = np.float32(0.0013814613)
_F32_Q1 = np.float32(0.00836871)
_F32_Q2 = np.float32(0.04166839)
_F32_Q3 = np.float32(0.16666521)
_F32_Q4 = np.float32(0.49999994)

# -- float64 constants ------------------------------------------------------------------------
_F64_LOG2E = 1.4426950408889634
_F64_LN2_HI = 0.6931471803691238  # 32 significant bits: k * ln2_hi exact for |k| < 2**21
_F64_LN2_LO = 1.9082149292705877e-10  # ln2 - ln2_hi
_F64_MAGIC = 6755399441055744.0  # 1.5 * 2**52
_F64_MAGIC_BITS = np.int64(0x4338000000000000)
_F64_UNDERFLOW = -746.0  # exp(-746) < half the smallest subnormal
# Taylor coefficients 1/j! for j = 2..13.
_F64_C = tuple(1.0 / float(np.prod(np.arange(1, j + 1, dtype=np.float64))) for j in range(2, 14))
(_C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13) = _F64_C


def exp_shifted(x, m):
    """``exp(x - m)`` for ``x <= m``, to about one ulp (see the module docstring).

    ``m`` finite; an infinite or NaN ``m`` gives NaN (see :func:`_hidden_zero`).

    A Python stub: compiled code gets the float32 or float64 implementation by overload.
    """
    return np.exp(np.float64(x) - np.float64(m))


@njit(inline="always", error_model="numpy", fastmath=FASTMATH)
def two_diff(x, m):
    """``(s, err)`` with ``s = fl(x - m)`` and ``x - m = s + err`` exactly (Knuth's TwoSum)."""
    s = x - m
    bp = s - x
    ap = s - bp
    # (x - ap) + (-m - bp), with -m - bp written as -(m + bp): one register fewer (the loop
    # would otherwise keep both m and -m).
    return s, (x - ap) - (m + bp)


@njit(inline="always", error_model="numpy", fastmath=FASTMATH)
def _exp_reduced_f32(d, lo, z):
    """``(p, tb)``: ``exp(d + lo) = p * 2**k``, p in [0.7, 1.42], k the low bits of ``tb``.

    ``z`` is 0 (see :func:`_hidden_zero`): every constant is used as ``c + z``.
    """
    log2e, magic, ln2_hi, ln2_lo = _F32_LOG2E + z, _F32_MAGIC + z, _F32_LN2_HI + z, _F32_LN2_LO + z
    q0, q1, q2, q3, q4 = _F32_Q0 + z, _F32_Q1 + z, _F32_Q2 + z, _F32_Q3 + z, _F32_Q4 + z
    # 2. d = k ln2 + r.
    t = d * log2e + magic
    kf = t - magic
    r = ((d - kf * ln2_hi) - kf * ln2_lo) + lo
    # 3. exp(r), Estrin.
    r2 = r * r
    q = (q4 + q3 * r) + r2 * ((q2 + q1 * r) + q0 * r2)
    return (q * r2 + r) + (np.float32(1.0) + z), f32_bits(t)


@njit(inline="always", error_model="numpy", fastmath=FASTMATH)
def _exp_reduced_f64(d, lo, z):
    """``(p, tb)`` with ``exp(d + lo) = p * 2**k``, as :func:`_exp_reduced_f32`."""
    log2e, magic, ln2_hi, ln2_lo = _F64_LOG2E + z, _F64_MAGIC + z, _F64_LN2_HI + z, _F64_LN2_LO + z
    t = d * log2e + magic
    kf = t - magic
    r = ((d - kf * ln2_hi) - kf * ln2_lo) + lo
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    # sum_{j=2..13} r**j / j!  =  r2 * (C2 + C3 r + ... + C13 r**11), Estrin in pairs.
    a = ((_C2 + z) + (_C3 + z) * r) + r2 * ((_C4 + z) + (_C5 + z) * r)
    b = ((_C6 + z) + (_C7 + z) * r) + r2 * ((_C8 + z) + (_C9 + z) * r)
    c = ((_C10 + z) + (_C11 + z) * r) + r2 * ((_C12 + z) + (_C13 + z) * r)
    q = a + r4 * b + r8 * c
    return (q * r2 + r) + (1.0 + z), f64_bits(t)


@njit(inline="always", error_model="numpy", fastmath=FASTMATH)
def _hidden_zero(m):
    """``m - m``: 0 for a finite ``m``, NaN otherwise; to the compiler, an unknown number.

    Why: LLVM keeps a splat constant in the constant pool and, since AVX2's fused multiply-adds
    overwrite an operand, reloads it with a broadcast at every use inside the loop rather than
    copy a register.  On AMD Zen 3 each broadcast takes a floating-point pipe: ten of them made
    the float32 exponential 30% slower (llvm-mca; measured 0.47 -> 0.36 ns per entry).  ``c + z``
    with ``z = m - m`` is ``c`` exactly but not a constant (without ``nnan``/``ninf``, LLVM may not
    fold ``m - m`` to 0), so it is computed once, outside the loop, and stays in a register.
    The price: an infinite or NaN ``m`` gives NaN, which the kernels' row policy gives anyway.
    """
    return m - m


def _exp_shifted_f32(x, m):
    s, err = two_diff(x, m)  # 1.
    small = s < _F32_UNDERFLOW  # also -inf (a mask); False for NaN, which propagates
    d = _F32_UNDERFLOW if small else s
    lo = np.float32(0.0) if small else err
    p, tb = _exp_reduced_f32(d, lo, _hidden_zero(m))
    # 4. times 2**k, in two halves so that subnormal results survive.
    k = tb - _F32_MAGIC_BITS
    k1 = k >> 1
    k2 = k - k1
    return p * f32_from_bits((k1 + 127) << 23) * f32_from_bits((k2 + 127) << 23)


def _exp_shifted_f64(x, m):
    s, err = two_diff(x, m)
    small = s < _F64_UNDERFLOW
    d = _F64_UNDERFLOW if small else s
    lo = 0.0 if small else err
    p, tb = _exp_reduced_f64(d, lo, _hidden_zero(m))
    k = tb - _F64_MAGIC_BITS
    k1 = k >> 1
    k2 = k - k1
    return p * f64_from_bits((k1 + 1023) << 52) * f64_from_bits((k2 + 1023) << 52)


@overload(exp_shifted, jit_options=JIT_OPTIONS)
def _exp_shifted_overload(x, m):
    if x == types.float32 and m == types.float32:
        return _exp_shifted_f32
    if x == types.float64 and m == types.float64:
        return _exp_shifted_f64
    return None


def exp_shifted_normal(x, m):
    """``exp(x - m)`` for ``NORMAL_FLOOR <= x - m <= 0`` (results normal numbers); python stub.

    The fast path of :func:`exp_shifted`: with the result known to be a normal number, ``2**k``
    is applied by adding ``k`` to the exponent bits of ``p`` (two integer operations) instead of
    two multiplications by built powers of two, and no clamping is needed.  About half the
    operations of :func:`exp_shifted`, the same result.  Use it for a row whose smallest entry
    ``lo`` passes :func:`normal_range`; anything else (a ``-inf`` mask, a NaN, a row spanning
    more than ``NORMAL_FLOOR``) takes :func:`exp_shifted`.
    """
    return np.exp(np.float64(x) - np.float64(m))


# exp(d) is normal, and p * 2**k has a normal exponent field, for k >= -125 (float32) or -1021
# (float64); these floors keep k >= -124 and -1020 (a margin for the rounding of x - m).
NORMAL_FLOOR_F32 = np.float32(-86.0)
NORMAL_FLOOR_F64 = -707.0


def _exp_shifted_normal_f32(x, m):
    s, err = two_diff(x, m)
    p, tb = _exp_reduced_f32(s, err, _hidden_zero(m))
    # tb << 23 is k << 23: the magic number's bits are shifted out of the 32-bit word.
    return f32_from_bits(f32_bits(p) + (tb << np.int32(23)))


def _exp_shifted_normal_f64(x, m):
    s, err = two_diff(x, m)
    p, tb = _exp_reduced_f64(s, err, _hidden_zero(m))
    return f64_from_bits(f64_bits(p) + (tb << np.int64(52)))


@overload(exp_shifted_normal, jit_options=JIT_OPTIONS)
def _exp_shifted_normal_overload(x, m):
    if x == types.float32 and m == types.float32:
        return _exp_shifted_normal_f32
    if x == types.float64 and m == types.float64:
        return _exp_shifted_normal_f64
    return None


def normal_range(lo, m):
    """True when every ``exp(x - m)`` with ``lo <= x <= m`` may use :func:`exp_shifted_normal`.

    False for a NaN or infinite ``lo`` or ``m`` (python stub).
    """
    floor = NORMAL_FLOOR_F32 if np.asarray(lo).dtype == np.float32 else NORMAL_FLOOR_F64
    return np.float64(lo) - np.float64(m) >= floor


def _normal_range_f32(lo, m):
    return lo - m >= NORMAL_FLOOR_F32


def _normal_range_f64(lo, m):
    return lo - m >= NORMAL_FLOOR_F64


@overload(normal_range, jit_options=JIT_OPTIONS)
def _normal_range_overload(lo, m):
    if lo == types.float32:
        return _normal_range_f32
    if lo == types.float64:
        return _normal_range_f64
    return None
