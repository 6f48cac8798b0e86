"""The mixture-of-softmaxes kernel twins: same names, against an extended-precision oracle.

Tolerances, with ``eps`` the kernel dtype's epsilon and ``K`` the number of components:

* the components ``p``: 8 ulps of the oracle (softmax's own bound is 4, see test_accuracy);
* the mixture: ``(K + 8) * eps`` of the oracle (K nonnegative products added in the dtype);
* ``dz``: ``8 * eps * y * (|g| + <|g|, p_k>)`` with ``y = pi_k p_k``, the size of the terms of
  ``y * g - y * <g, p_k>``, which may cancel; ``dpi``: ``8 * eps * <|g|, p_k>``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax.kernels as kernels
from npsoftmax.kernels import numba_mixture, reference_mixture
from tests.kernels._helpers import public_functions

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

MODULES = (reference_mixture, numba_mixture)
IDS = ("numpy", "numba")
DTYPES = (np.float32, np.float64)
TINY = np.finfo(np.float64).tiny


def test_twin_names_equal_the_dispatched_names():
    assert public_functions(reference_mixture) == set(kernels.MIXTURE_KERNEL_NAMES)
    assert public_functions(numba_mixture) == set(kernels.MIXTURE_KERNEL_NAMES)


def _oracle(pi, z, g):
    """Softmaxes, mixture and VJP in long double, from the definitions (no kernel code)."""
    pil, zl, gl = (a.astype(np.longdouble) for a in (pi, z, g))
    e = np.exp(zl - zl.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    mixed = np.einsum("rk,rkc->rc", pil, p)
    dot = np.einsum("rkc,rc->rk", p, gl)
    dz = pil[..., None] * p * (gl[:, None, :] - dot[..., None])
    return p, mixed, dot, dz


def _inputs(rng, rows, k, c, dtype, spread=20.0):
    a = rng.standard_normal((rows, k))
    pi = np.exp(a) / np.exp(a).sum(axis=-1, keepdims=True)
    z = rng.uniform(-spread, spread, (rows, k, c))
    g = rng.standard_normal((rows, c))
    return pi.astype(dtype), z.astype(dtype), g.astype(dtype)


def _run(module, pi, z, g):
    rows, k, c = z.shape
    p = np.full(z.shape, 12345.0, z.dtype)  # entries a kernel forgets to write show up
    mixed = np.full((rows, c), 12345.0, z.dtype)
    dpi = np.full((rows, k), 12345.0, z.dtype)
    dz = np.full(z.shape, 12345.0, z.dtype)
    assert module.mixture_rows(pi, z, p, mixed) is mixed
    assert module.mixture_rows_vjp(pi, p, g, dpi, dz) is dz
    return p, mixed, dpi, dz


def _check(got, want, tol, what):
    err = np.abs(got.astype(np.longdouble) - want)
    bad = ~(err <= tol)
    assert not bad.any(), f"{what}: off by {float(err[bad].max())} (tolerance {tol[bad].min()})"


def _check_all(module, pi, z, g):
    eps = np.finfo(z.dtype).eps
    tiny = 4 * np.finfo(z.dtype).smallest_subnormal  # results that are subnormal round there
    k = z.shape[1]
    p, mixed, dpi, dz = _run(module, pi, z, g)
    wp, wmixed, wdot, wdz = _oracle(pi, z, g)
    _check(p, wp, 8 * eps * wp + tiny, "p")
    _check(mixed, wmixed, (k + 8) * eps * wmixed + tiny, "mixture")
    absdot = np.einsum("rkc,rc->rk", wp, np.abs(g.astype(np.longdouble)))
    _check(dpi, wdot, 8 * eps * absdot + tiny, "dpi")
    y = pi.astype(np.longdouble)[..., None] * wp
    scale = y * (np.abs(g.astype(np.longdouble))[:, None, :] + absdot[..., None])
    _check(dz, wdz, 8 * eps * scale + tiny, "dz")


@pytest.mark.parametrize("module", MODULES, ids=IDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "rows, k, c",
    [(1, 1, 1), (3, 1, 7), (5, 4, 33), (64, 3, 400)],  # the last runs the parallel loop
)
def test_against_the_oracle(module, dtype, rows, k, c):
    rng = np.random.default_rng(rows * 1000 + k * 10 + c)
    _check_all(module, *_inputs(rng, rows, k, c, dtype))


@pytest.mark.parametrize("module", MODULES, ids=IDS)
@pytest.mark.parametrize("rows, k, c", [(0, 3, 4), (2, 3, 0), (2, 0, 4)])
def test_empty_shapes(module, rows, k, c):
    pi, z, g = _inputs(np.random.default_rng(0), rows, k, c, np.float64)
    p, mixed, dpi, dz = _run(module, pi, z, g)
    assert p.shape == dz.shape == (rows, k, c) and dpi.shape == (rows, k)
    np.testing.assert_array_equal(mixed, np.zeros((rows, c)))  # a sum of nothing is 0
    np.testing.assert_array_equal(dpi, np.zeros((rows, k)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_wide_logits_and_masked_entries(dtype):
    rng = np.random.default_rng(7)
    pi, z, g = _inputs(rng, 6, 3, 50, dtype, spread=80.0)  # exps down to subnormal and zero
    z[:, :, ::5] = -np.inf  # masks: probability exactly 0, and no NaN
    for module in MODULES:
        _check_all(module, pi, z, g)
        p, _, _, dz = _run(module, pi, z, g)
        assert np.all(p[:, :, ::5] == 0) and np.all(dz[:, :, ::5] == 0)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_a_nan_component_makes_its_mixture_row_nan(module):
    pi, z, g = _inputs(np.random.default_rng(3), 3, 2, 5, np.float64)
    z[1, 0, 2] = np.nan
    p, mixed, _, dz = _run(module, pi, z, g)
    assert np.isnan(p[1, 0]).all() and np.isnan(mixed[1]).all() and np.isnan(dz[1, 0]).all()
    assert np.isfinite(np.delete(mixed, 1, axis=0)).all()  # other rows untouched by it
    assert np.isfinite(p[1, 1]).all() and np.isfinite(dz[1, 1]).all()


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_components_may_be_computed_in_place(module):
    pi, z, g = _inputs(np.random.default_rng(4), 4, 3, 300, np.float32)
    _, want, _, _ = _run(module, pi, z, g)
    zz = z.copy()
    got = np.empty_like(want)
    module.mixture_rows(pi, zz, zz, got)
    np.testing.assert_array_equal(got, want)


@given(
    st.integers(1, 4).flatmap(
        lambda k: st.tuples(
            hnp.arrays(np.float64, (3, k), elements=st.floats(-5, 5)),
            hnp.arrays(np.float64, (3, k, 9), elements=st.floats(-30, 30)),
            hnp.arrays(np.float64, (3, 9), elements=st.floats(-1e3, 1e3)),
        )
    )
)
def test_rows_sum_to_one_and_component_gradients_to_zero(arrays):
    a, z, g = arrays
    pi = np.exp(a - a.max(axis=-1, keepdims=True))
    pi /= pi.sum(axis=-1, keepdims=True)
    results = [_run(module, pi, z, g) for module in MODULES]
    eps = np.finfo(np.float64).eps
    for p, mixed, _, dz in results:
        np.testing.assert_allclose(mixed.sum(axis=-1), 1.0, rtol=1e-12)
        scale = np.abs(g).max() * pi[..., None] * p  # the size of dz's terms
        assert np.all(np.abs(dz.sum(axis=-1)) <= 64 * eps * scale.sum(axis=-1) + TINY)
    (p0, mixed0, dpi0, dz0), (p1, mixed1, dpi1, dz1) = results  # the twins agree to rounding
    np.testing.assert_allclose(p1, p0, rtol=1e-12, atol=TINY)
    np.testing.assert_allclose(mixed1, mixed0, rtol=1e-12, atol=TINY)
    absg = np.abs(g)
    assert np.all(np.abs(dpi1 - dpi0) <= 16 * eps * np.einsum("rkc,rc->rk", p0, absg) + TINY)
    dz_scale = (
        pi[..., None] * p0 * (absg[:, None, :] + np.einsum("rkc,rc->rk", p0, absg)[..., None])
    )
    assert np.all(np.abs(dz1 - dz0) <= 16 * eps * dz_scale + TINY)
