"""The script of avx512_ab.log: Numba's default (256-bit vectors on Intel's AVX-512 server
chips) against the host's features plus ``-prefer-256-bit`` (512-bit vectors), one mode per
process (Numba reads its CPU features once, before its first compilation).

Run from the repository root: ``PYTHONPATH=. python avx512_ab.py 256`` and ``... 512``.
"""

# ruff: noqa: E402  (NUMBA_CPU_FEATURES must be set before npsoftmax compiles anything)

import os
import sys
import time

mode = sys.argv[1]
R = int(os.environ.get("ROWS", 4096))
THREADS = [int(s) for s in os.environ.get("THREADS", "1,2,16").split(",")]
import numba
from numba.core.codegen import get_host_cpu_features

if mode == "512":
    os.environ["NUMBA_CPU_FEATURES"] = get_host_cpu_features() + ",-prefer-256-bit"
    numba.config.reload_config()

import numpy as np
import scipy.special as ss
import torch

import npsoftmax as nps
from benchmarks.cases_forward import logits
from benchmarks.common import check, parallel_copy
from benchmarks.timing import interleaved_medians, set_threads
from npsoftmax.kernels import numba_cpu as k

print("mode", mode, "features end:", (numba.config.CPU_FEATURES or "")[-40:], flush=True)
x = logits((R, 32768), np.float32)
out = np.empty_like(x)
x64 = x.astype(np.float64)
o64 = np.empty_like(x64)
g = logits((R, 32768), np.float32, seed=1)
t0 = time.perf_counter()
check("softmax", nps.softmax(x[:256], out=out[:256]), ss.softmax(x64[:256], axis=-1))
check("log_softmax", nps.log_softmax(x[:256], out=out[:256]), ss.log_softmax(x64[:256], axis=-1))
check("softmax64", nps.softmax(x64[:256], out=o64[:256]), ss.softmax(x64[:256], axis=-1))
print("compile+check", round(time.perf_counter() - t0, 1), "s", flush=True)
asm = "\n".join(k._softmax_ser.inspect_asm().values())
print("softmax_ser zmm", asm.count("zmm"), "ymm", asm.count("ymm"), flush=True)
xt, ot, x64t, o64t = map(torch.from_numpy, (x, out, x64, o64))
y = nps.softmax(x)
yt = torch.from_numpy(y)
for n in THREADS:
    set_threads(n)
    for name, calls in {
        "softmax f32": {
            "nps": lambda: nps.softmax(x, out=out),
            "torch": lambda: torch.softmax(xt, -1, out=ot),
            "pcopy": lambda: parallel_copy(x, out),
        },
        "log_softmax f32": {
            "nps": lambda: nps.log_softmax(x, out=out),
            "torch": lambda: torch.log_softmax(xt, -1, out=ot),
        },
        "softmax f64": {
            "nps": lambda: nps.softmax(x64, out=o64),
            "torch": lambda: torch.softmax(x64t, -1, out=o64t),
            "pcopy": lambda: parallel_copy(x64, o64),
        },
        "softmax vjp f32": {
            "nps": lambda: k.softmax_rows_vjp(y, g, out),
            "torch": lambda: torch._softmax_backward_data(
                torch.from_numpy(g), yt, -1, torch.float32
            ),
        },
    }.items():
        t = interleaved_medians(calls, 10)
        print(
            f"{mode} T={n:2d} {name:16s} "
            + "  ".join(f"{a}={1e3 * v:7.2f}ms" for a, v in t.items())
            + f"  torch/nps={t['torch'] / t['nps']:.2f}",
            flush=True,
        )
