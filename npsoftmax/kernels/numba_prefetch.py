"""Software prefetch: the row kernels load the next row from memory while computing this one.

Why: a row kernel's first pass (the minimum and maximum) streams its row from main memory and
does almost no arithmetic, and the passes after it compute from the cache and use no memory
bandwidth.  One after the other, the memory wait and the arithmetic add up.  Measured on
softmax, float32 (4096, 32768), AMD EPYC Zen 3: the first pass alone took 42 ms over the array on
one thread, the other passes 108 ms, the kernel 136 ms.

:func:`prefetch` asks the processor to start loading a slice of an array into its caches (the
``prefetcht1`` instruction on x86: into the L2 cache, leaving the L1 cache to the current row)
and returns at once.  A row kernel hands it the *next* row, a slice at a time, between the
slices of its exponential pass, so that row is in the cache when its first pass starts.

How much, and how, were measured (same array, one run, A/B against the kernel without it):

* spread evenly, ``PREFETCH_STEP`` entries of the next row per ``PREFETCH_STEP`` exponentials
  (one 64-byte line per 16 float32 entries): 1.14x faster on one thread, 1.09x on two (steps
  of 64 to 256 entries gave 1.09x to 1.17x);
* in bursts, a 2048-entry block of the next row at once: 0.94x and 0.98x, slower than without
  (most likely the burst fills the queue of outstanding cache misses, and the stores of the
  exponentials wait behind it).

Where it is used: softmax, log_softmax, logsumexp, cross_entropy, the weighted softmax and the
mixture of softmaxes (each component prefetches the next), all through ``_exp_sum`` of
:mod:`npsoftmax.kernels.numba_rows`, for rows of at least ``PREFETCH_MIN_ROW`` entries.  A
shorter row skips it: its successor is close behind it in memory, where the hardware's own
prefetcher finds it, and the steps cost more than they save (cross_entropy on rows of 2003
entries in cache, 5-7% slower with them; so the mixture's 10000-class components of the
benchmark do not prefetch either).  Not in the VJPs: they do little arithmetic per entry, so
no pass is free to hide the loads, and splitting their loops into steps made the in-place VJP
1.5x slower (measured).

A prefetch is only a hint: it never faults and never changes a result, so the kernels stay
bit for bit what they were.  The lines are loaded by the instruction LLVM's ``llvm.prefetch``
becomes on the target (``prefetcht1`` on x86-64; on a CPU without one, nothing).
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# Entries of the next row loaded per step (see above): 1 KiB of float32, 16 cache lines.
PREFETCH_STEP = 256
# Rows shorter than this do not prefetch (see numba_rows._exp_sum): 64 KiB of float32.
PREFETCH_MIN_ROW = 16384
_LINE = 64  # bytes per cache line on x86-64 and the common ARM cores
_READ = 0  # llvm.prefetch's rw argument: a read
_L2 = 2  # its locality: 3 is the L1 cache (prefetcht0), 2 the L2 (prefetcht1), 0 none (nta)
_DATA = 1  # its cache type: data (0 would be instructions)


@intrinsic
def prefetch(typingctx, arr, start, stop):
    """Start loading ``arr[start:stop]`` (a C-contiguous 1-D array) into the L2 cache.

    ``0 <= start <= stop <= len(arr)`` is the caller's promise.  Emits one ``llvm.prefetch``
    per 64-byte line of the slice, in a loop; returns nothing and changes nothing.
    """
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"):
        return None

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        byte_ptr = ir.IntType(8).as_pointer()
        i32, i64 = ir.IntType(32), ir.IntType(64)
        base = builder.bitcast(ary.data, byte_ptr)
        size = ir.Constant(i64, context.get_abi_sizeof(context.get_value_type(arr.dtype)))
        lo = builder.mul(context.cast(builder, args[1], signature.args[1], types.int64), size)
        hi = builder.mul(context.cast(builder, args[2], signature.args[2], types.int64), size)
        fnty = ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32])
        # Named from the pointer type: llvm.prefetch.p0 (opaque pointers) or .p0i8 (older LLVM).
        fn = builder.module.declare_intrinsic("llvm.prefetch", [byte_ptr], fnty)
        hint = [ir.Constant(i32, _READ), ir.Constant(i32, _L2), ir.Constant(i32, _DATA)]
        with cgutils.for_range_slice(builder, lo, hi, ir.Constant(i64, _LINE)) as (offset, _):
            builder.call(fn, [builder.gep(base, [offset]), *hint])
        return context.get_dummy_value()

    return types.none(arr, start, stop), codegen


@njit(inline="always")
def next_row(i, hi):
    """The row after ``i`` among rows ``[.., hi)`` (``i`` itself for the last): the row a row
    function is handed to prefetch while it computes row ``i``."""
    return min(i + 1, hi - 1)
