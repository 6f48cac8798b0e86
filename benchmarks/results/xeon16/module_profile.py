"""Where a module step's time goes at every core: cProfile of the npsoftmax step, and matmuls.

The script of module_profile.log; run from the repository root with npsoftmax imported first
(see numba_threads.py): ``PYTHONPATH=. python -c "import npsoftmax; exec(open(PATH).read())"``.
"""

# ruff: noqa: B023, E501  (each lambda is timed inside its own loop turn)

import cProfile
import io
import os
import pstats

import numpy as np
import torch

import npsoftmax as nps
from benchmarks.cases_modules import zipf_targets
from benchmarks.timing import max_threads, median_seconds, set_threads

T = int(os.environ.get("T", max_threads()))
set_threads(T)
rng = np.random.default_rng(0)


def profile(name, step):
    step()
    t = median_seconds(step, 5)
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(3):
        step()
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(14)
    print(f"== {name} T={T}: {1e3 * t:.1f} ms per step")
    print("\n".join(s.getvalue().splitlines()[6:24]), flush=True)


k, d, c, b = 5, 256, 10000, 256
mos = nps.nn.MixtureOfSoftmaxes(k, d, c, dtype=np.float32)
xs = nps.tensor(rng.standard_normal((b, d), dtype=np.float32))
ts = rng.integers(0, c, b)[:, None]


def mos_step():
    mos.zero_grad()
    loss = -nps.mean(nps.log(nps.take_along_axis(mos(xs), ts, axis=-1)))
    loss.backward()


profile("MoS", mos_step)
d, n, cut, b = 512, 100000, [2000, 10000, 50000], 1024
ada = nps.nn.AdaptiveLogSoftmaxWithLoss(d, n, cut, dtype=np.float32)
xa = nps.tensor(rng.standard_normal((b, d), dtype=np.float32))
ta = zipf_targets(rng, n, b)


def ada_step():
    ada.zero_grad()
    out = ada(xa, ta)
    out.loss.backward()


profile("adaptive", ada_step)
for m, kk, nn_ in [(256, 256, 50000), (1024, 512, 2003), (1024, 512, 128), (1024, 128, 8000)]:
    a = rng.standard_normal((m, kk), dtype=np.float32)
    w = rng.standard_normal((kk, nn_), dtype=np.float32)
    at, wt = torch.from_numpy(a), torch.from_numpy(w)
    tn = median_seconds(lambda: a @ w, 10)
    tt = median_seconds(lambda: at @ wt, 10)
    tn2 = median_seconds(lambda: a.T @ (a @ w), 10)
    tt2 = median_seconds(lambda: at.T @ (at @ wt), 10)
    print(
        f"matmul ({m},{kk})@({kk},{nn_}): numpy {1e3 * tn:.2f} ms torch {1e3 * tt:.2f} ms; with a.T@ : numpy {1e3 * tn2:.2f} torch {1e3 * tt2:.2f}",
        flush=True,
    )
e = rng.standard_normal((256, 50000), dtype=np.float32)
et = torch.from_numpy(e)
print(
    f"elementwise e*e+e (256,50000): numpy {1e3 * median_seconds(lambda: e * e + e, 10):.2f} ms torch {1e3 * median_seconds(lambda: et * et + et, 10):.2f} ms"
)
