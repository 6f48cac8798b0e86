"""Would non-temporal ("streaming") stores make the softmax kernel faster?  The script of
``streaming_stores.log``.

A kernel that writes its result with ordinary stores first reads each cache line of ``out`` from
memory (a read for ownership) and writes it back later: 1.5 times the traffic of a copy that
streams its stores past the cache, as glibc's ``memcpy`` does for large arrays (``np.copyto``).
LLVM's loop vectoriser will not emit streaming stores for an element-aligned loop, so this
script writes them by hand: ``stream_copy`` is an intrinsic with a loop over 64-byte vectors,
stored with ``!nontemporal`` from the first cache-line boundary of ``dst`` on; ``store_fence``
is the ``sfence`` that orders them before other threads read the result.

Variants of the float32 (4096, 32768) softmax with a preallocated output, timed in turns:

* ``current``: the library's kernel (``numba_cpu._softmax_par``);
* ``nt_scratch``: the exponentials go to a per-thread scratch row, which each block of the last
  pass scales and then streams to ``out``;
* ``nt_recompute``: the exponentials are only summed, and the last pass computes them again,
  scales them into a scratch block and streams it (twice the arithmetic, no row scratch);
* ``no_store``: ``nt_scratch`` without writing ``out`` at all: the arithmetic and the reads, a
  lower bound for any way of storing;
* copies: ``np.copyto``, a Numba parallel copy with ordinary stores, and one streaming.

Run from the repository root, with the thread counts to time (every core by default)::

    PYTHONPATH=. python benchmarks/results/streaming/streaming_stores.py 1,2
"""

from __future__ import annotations

import platform
import sys
import time

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from benchmarks.common import parallel_copy
from npsoftmax.kernels import numba_cpu
from npsoftmax.kernels.numba_exp import normal_range
from npsoftmax.kernels.numba_prefetch import next_row
from npsoftmax.kernels.numba_reduce import row_min_max
from npsoftmax.kernels.numba_round import scale_row
from npsoftmax.kernels.numba_rows import BLOCK, _exp_block, _exp_sum
from npsoftmax.kernels.numba_vectors import wide_vectors

X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")
LINE = 64  # bytes: one cache line, and the vector of each streaming store


@intrinsic
def stream_copy(typingctx, dst, src):
    """``dst[:] = src`` for 1-D arrays of one dtype, streaming the stores of whole lines."""
    if not (
        isinstance(dst, types.Array)
        and isinstance(src, types.Array)
        and dst.dtype == src.dtype
        and dst.ndim == src.ndim == 1
    ):
        return None

    def codegen(context, builder, sig, args):
        dty, sty = sig.args
        dptr = context.make_array(dty)(context, builder, args[0]).data
        sptr = context.make_array(sty)(context, builder, args[1]).data
        n = builder.extract_value(context.make_array(dty)(context, builder, args[0]).shape, 0)
        elt = context.get_value_type(dty.dtype)
        size = context.get_abi_sizeof(elt)
        width = LINE // size
        vec = ir.VectorType(elt, width).as_pointer()
        i64 = ir.IntType(64)
        addr = builder.ptrtoint(dptr, i64)
        # Entries before the first line boundary; all of them (scalar) if dst is misaligned.
        head = builder.udiv(builder.and_(builder.sub(i64(0), addr), i64(LINE - 1)), i64(size))
        misaligned = builder.icmp_unsigned("!=", builder.urem(addr, i64(size)), i64(0))
        head = builder.select(misaligned, n, head)
        head = builder.select(builder.icmp_signed("<", n, head), n, head)
        with cgutils.for_range(builder, head) as loop:
            v = builder.load(builder.gep(sptr, [loop.index]))
            builder.store(v, builder.gep(dptr, [loop.index]))
        lines = builder.sdiv(builder.sub(n, head), i64(width))
        nontemporal = builder.module.add_metadata([ir.IntType(32)(1)])
        with cgutils.for_range(builder, lines) as loop:
            j = builder.add(head, builder.mul(loop.index, i64(width)))
            v = builder.load(builder.bitcast(builder.gep(sptr, [j]), vec), align=size)
            st = builder.store(v, builder.bitcast(builder.gep(dptr, [j]), vec), align=LINE)
            if X86:
                st.set_metadata("nontemporal", nontemporal)
        start = builder.add(head, builder.mul(lines, i64(width)))
        with cgutils.for_range(builder, builder.sub(n, start)) as loop:
            j = builder.add(start, loop.index)
            builder.store(builder.load(builder.gep(sptr, [j])), builder.gep(dptr, [j]))
        return context.get_dummy_value()

    return types.void(dst, src), codegen


@intrinsic
def store_fence(typingctx):
    """``sfence`` on x86 (streamed stores become visible to other threads); else nothing."""

    def codegen(context, builder, sig, args):
        if X86:
            fnty = ir.FunctionType(ir.VoidType(), [])
            builder.call(builder.module.declare_intrinsic("llvm.x86.sse.sfence", fnty=fnty), [])
        return context.get_dummy_value()

    return types.void(), codegen


KERNEL = dict(parallel=True, error_model="numpy", fastmath={"contract"})
CHUNKS = 256


@njit(**KERNEL)
def nt_scratch(x, out, store):
    rows, n = x.shape
    nch = min(rows, CHUNKS)
    for c in prange(nch):
        wide_vectors()
        e = np.empty(n, dtype=x.dtype)
        lo, hi = c * rows // nch, (c + 1) * rows // nch
        for i in range(lo, hi):
            xmin, m = row_min_max(x[i])
            s = _exp_sum(x[i], e, m, normal_range(xmin, m), False, x[next_row(i, hi)])
            spread = np.float64(xmin) - np.float64(m)
            for b in range(0, n, BLOCK):
                eb = e[b : b + BLOCK]
                scale_row(eb, s, 1.0, spread)
                if store:
                    stream_copy(out[i, b : b + BLOCK], eb)
        store_fence()
    return out


@njit(**KERNEL)
def nt_recompute(x, out):
    rows, n = x.shape
    nch = min(rows, CHUNKS)
    for c in prange(nch):
        wide_vectors()
        e = np.empty(min(n, BLOCK), dtype=x.dtype)
        lo, hi = c * rows // nch, (c + 1) * rows // nch
        for i in range(lo, hi):
            xmin, m = row_min_max(x[i])
            normal = normal_range(xmin, m)
            s = _exp_sum(x[i], e, m, normal, False, x[next_row(i, hi)])
            spread = np.float64(xmin) - np.float64(m)
            for b in range(0, n, BLOCK):
                xb = x[i, b : b + BLOCK]
                eb = e[: xb.shape[0]]
                _exp_block(xb, eb, m, normal)
                scale_row(eb, s, 1.0, spread)
                stream_copy(out[i, b : b + BLOCK], eb)
        store_fence()
    return out


@njit(**KERNEL)
def nt_copy(x, out):
    for i in prange(x.shape[0]):
        stream_copy(out[i], x[i])
        store_fence()
    return out


def _check_stream_copy():
    """Every head, body and tail split of ``stream_copy`` copies exactly its slice."""

    @njit
    def one(d, s):
        stream_copy(d, s)
        store_fence()

    for dtype in (np.float32, np.float64):
        src = np.arange(1, 301, dtype=dtype)
        for a in range(20):
            for b in (a, a + 1, a + 17, a + 100, 300):
                dst = np.zeros(300, dtype)
                one(dst[a:b], src[a:b])
                want = np.zeros(300, dtype)
                want[a:b] = src[a:b]
                assert np.array_equal(dst, want), (dtype, a, b)


def main():
    threads = (
        [int(t) for t in sys.argv[1].split(",")]
        if len(sys.argv) > 1
        else [numba.config.NUMBA_NUM_THREADS]
    )
    _check_stream_copy()
    x = np.random.default_rng(0).standard_normal((4096, 32768), dtype=np.float32)
    out = np.empty_like(x)
    want = numba_cpu._softmax_par(x, np.empty_like(x))
    cases = {
        "current": lambda: numba_cpu._softmax_par(x, out),
        "nt_scratch": lambda: nt_scratch(x, out, True),
        "nt_recompute": lambda: nt_recompute(x, out),
        "no_store": lambda: nt_scratch(x, out, False),
        "np.copyto": lambda: np.copyto(out, x),
        "parallel copy": lambda: parallel_copy(x, out),
        "parallel copy, streaming": lambda: nt_copy(x, out),
    }
    print(f"{platform.processor() or platform.machine()}, numba {numba.__version__}")
    for t in threads:
        numba.set_num_threads(t)
        for name, run in cases.items():  # compile, warm up, check
            out[:] = 0
            run()
            if name.startswith(("current", "nt_")):
                assert np.array_equal(out, want), name
            elif name != "no_store":
                assert np.array_equal(out, x), name
        times = {name: [] for name in cases}
        for _ in range(9):
            for name, run in cases.items():
                t0 = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - t0)
        for name, ts in times.items():
            print(f"threads {t:2d}  {name:26s} {1e3 * np.median(ts):7.1f} ms")


if __name__ == "__main__":
    main()
