"""The compiled kernels' parallel and serial row loops give bit-identical results.

``numba_cpu`` runs inputs of at least ``numba_threads.PARALLEL_MIN_SIZE`` entries through a
``prange`` loop over chunks of rows and smaller ones through a serial loop; both call the same
per-row code, so their results must agree exactly (and the other tests, on small inputs,
cover the serial one).
"""

import numpy as np
import pytest

from npsoftmax.kernels import numba_cpu, numba_threads

PAIRS = [
    ("softmax", numba_cpu._softmax_par, numba_cpu._softmax_ser, 1),
    ("log_softmax", numba_cpu._log_softmax_par, numba_cpu._log_softmax_ser, 1),
    ("logsumexp", numba_cpu._logsumexp_par, numba_cpu._logsumexp_ser, 1),
    ("softmax_vjp", numba_cpu._softmax_vjp_par, numba_cpu._softmax_vjp_ser, 2),
    ("log_softmax_vjp", numba_cpu._log_softmax_vjp_par, numba_cpu._log_softmax_vjp_ser, 2),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "par", "ser", "n_in"), PAIRS, ids=[p[0] for p in PAIRS])
def test_parallel_equals_serial(name, par, ser, n_in, dtype):
    rng = np.random.default_rng(0)
    shape = (67, 1031)  # above the threshold, not a multiple of the chunking or the blocks
    assert np.prod(shape) >= numba_threads.PARALLEL_MIN_SIZE
    x = (rng.standard_normal(shape) * 30).astype(dtype)
    x[3, 5] = -np.inf
    x[4] = -np.inf
    x[5, 7] = np.nan
    x[6, 9] = np.inf
    inputs = (x,) if n_in == 1 else (x, rng.standard_normal(shape).astype(dtype))
    out_shape = shape[:1] if name == "logsumexp" else shape
    a = par(*inputs, np.empty(out_shape, dtype))
    b = ser(*inputs, np.empty(out_shape, dtype))
    np.testing.assert_array_equal(a, b)


def test_public_kernel_picks_by_size():
    small = np.zeros((2, 3))
    big = np.zeros((1, numba_threads.PARALLEL_MIN_SIZE))
    for x in (small, big):
        out = np.empty_like(x)
        assert numba_cpu.softmax_rows(x, out) is out
        np.testing.assert_allclose(out, 1.0 / x.shape[1])
