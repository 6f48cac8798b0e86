"""The two kernel sets: same names, same results, against the oracle, on every layout.

Tolerances (tests/kernels/_helpers.py): a kernel is within ORACLE_ULPS = 4 ulps of the
oracle (plus, in float64, the conditioning of exp at a rounded x - m), the backends within
PARITY_ULPS = 4 ulps of each other, and VJPs within VJP_UNITS = 8 units of eps times the size of
their terms.
"""

from __future__ import annotations

import numpy as np
import pytest

import npsoftmax.kernels as kernels
from npsoftmax._backend import use_backend
from npsoftmax.kernels import numba_cpu, numba_threads, reference
from tests.kernels._helpers import (
    DTYPES,
    FORWARD,
    LOSS,
    MODULE_IDS,
    MODULES,
    SOFTMAX,
    VJP,
    assert_backends_agree,
    assert_matches_oracle,
    public_functions,
    run,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def test_kernel_names_are_the_same_everywhere():
    names = set(kernels.KERNEL_NAMES)
    assert len(names) == len(kernels.KERNEL_NAMES)
    assert public_functions(reference) == names
    assert public_functions(numba_cpu) == names
    assert names <= public_functions(kernels)  # a dispatch function per kernel (and others)
    assert set(FORWARD + VJP + LOSS) == names  # every kernel is covered by the tests


@pytest.mark.parametrize("name", sorted(kernels.KERNEL_NAMES))
def test_every_kernel_twin_has_a_docstring_naming_the_same_map(name):
    # A statement above the docstring (numba_cpu.online_softmax_rows once had one) leaves the
    # function with none: the summaries (up to their formulas) must be there, and the same.
    def summary(f) -> str:
        doc = f.__doc__
        assert doc and doc.strip(), f"{f.__module__}.{name} has no docstring"
        return doc.strip().splitlines()[0].split(":")[0]

    assert summary(getattr(numba_cpu, name)) == summary(getattr(reference, name))


# --- Layouts: the kernels take C-contiguous arrays; the caller makes strided input contiguous.


def _layout(kind: str, dtype) -> np.ndarray:
    rng = np.random.default_rng(LAYOUTS.index(kind))
    base = rng.uniform(-20, 20, (9, 16))
    x = {
        "contiguous": base,
        "from_strided": np.ascontiguousarray(base[::2, 1::3]),
        "from_transposed": np.ascontiguousarray(base.T),
        "one_column": base[:, :1].copy(),
        "one_row": base[:1].copy(),
        "zero_rows": base[:0].copy(),
        "zero_columns": base[:, :0].copy(),
        "long_row": rng.uniform(-20, 20, (2, 3000)),
    }[kind].astype(dtype)
    assert x.flags.c_contiguous
    return x


LAYOUTS = (
    "contiguous",
    "from_strided",
    "from_transposed",
    "one_column",
    "one_row",
    "zero_rows",
    "zero_columns",
    "long_row",
)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FORWARD)
def test_forward_against_oracle_and_each_other(name, dtype, layout):
    x = _layout(layout, dtype)
    x_before = x.copy()
    results = [run(module, name, x) for module in MODULES]
    for result in results:
        assert result.dtype == dtype
        assert_matches_oracle(name, result, x)
    assert_backends_agree(name, *results, x)
    np.testing.assert_array_equal(x, x_before)  # the input is not touched (out is not x)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", VJP)
def test_vjp_against_oracle_and_each_other(name, dtype, layout):
    x = _layout(layout, dtype)
    g = np.random.default_rng(7).standard_normal(x.shape).astype(dtype)
    forward = "softmax_rows" if name == "softmax_rows_vjp" else "log_softmax_rows"
    saved = run(reference, forward, x)
    results = [run(module, name, saved, g) for module in MODULES]
    for result in results:
        assert result.dtype == dtype
        assert_matches_oracle(name, result, saved, g)
    assert_backends_agree(name, *results, saved, g)


def test_one_column_values():
    x = np.array([[3.0], [-1e308], [0.0]])
    for module in MODULES:
        np.testing.assert_array_equal(run(module, "softmax_rows", x), 1.0)
        np.testing.assert_array_equal(run(module, "log_softmax_rows", x), 0.0)
        np.testing.assert_array_equal(run(module, "logsumexp_rows", x), x[:, 0])


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_class_axis(module, dtype):
    x = np.empty((3, 0), dtype)
    assert run(module, "softmax_rows", x).shape == (3, 0)
    assert run(module, "log_softmax_rows", x).shape == (3, 0)
    np.testing.assert_array_equal(run(module, "logsumexp_rows", x), [-np.inf] * 3)
    for name in VJP:
        assert run(module, name, x, x).shape == (3, 0)


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_rows(module, dtype):
    x = np.empty((0, 5), dtype)
    for name in FORWARD:
        assert run(module, name, x).shape == x.shape[: 1 if name == "logsumexp_rows" else 2]
    for name in VJP:
        assert run(module, name, x, x).shape == (0, 5)


# --- In place: out may be x (forward) or g (VJP); the answer must not change.

_MIXED = [
    [1.0, -2.0, 0.5, 3.0],
    [-np.inf, 1.0, -np.inf, 2.0],
    [np.nan, 1.0, 2.0, 3.0],
    [np.inf, 1.0, 2.0, 3.0],
    [-np.inf] * 4,
    [30.0, 0.0, -30.0, -1000.0],
]


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [*SOFTMAX, "log_softmax_rows"])
def test_forward_in_place(module, dtype, name):
    x = np.array(_MIXED, dtype)
    expected = run(module, name, x)
    result = run(module, name, x, out=x)
    assert result is x
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", VJP)
def test_vjp_in_place(module, dtype, name):
    x = np.array(_MIXED, dtype)
    forward = "softmax_rows" if name == "softmax_rows_vjp" else "log_softmax_rows"
    saved = run(module, forward, x)
    g = np.linspace(-2, 3, x.size).reshape(x.shape).astype(dtype)
    expected = run(module, name, saved, g)
    result = run(module, name, saved, g, out=g)
    assert result is g
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_in_place_on_wide_rows_equals_a_separate_output(dtype):
    # Wide rows in the parallel kernels: the in-place path gives the row functions one array
    # (so that LLVM vectorises); it must compute exactly what a separate output gets.
    rng = np.random.default_rng(7)
    x = (3 * rng.standard_normal((40, 3000))).astype(dtype)  # 120 000 entries: parallel
    x[1, ::7], x[2, 5], x[3] = -np.inf, np.nan, -np.inf
    assert x.size >= numba_threads.PARALLEL_MIN_SIZE
    for name in ("softmax_rows", "log_softmax_rows"):
        expected = run(numba_cpu, name, x)
        inplace = x.copy()
        np.testing.assert_array_equal(run(numba_cpu, name, inplace, out=inplace), expected)
    for name, forward in (
        ("softmax_rows_vjp", "softmax_rows"),
        ("log_softmax_rows_vjp", "log_softmax_rows"),
    ):
        saved = run(numba_cpu, forward, x)
        g = rng.standard_normal(x.shape).astype(dtype)
        expected = run(numba_cpu, name, saved, g)
        np.testing.assert_array_equal(run(numba_cpu, name, saved, g, out=g), expected)


# --- Dispatch: npsoftmax.kernels forwards to the active backend's module.


@pytest.mark.parametrize("backend, module", [("numpy", reference), ("numba", numba_cpu)])
def test_dispatch_follows_the_backend(backend, module):
    x = np.array(_MIXED)
    with use_backend(backend):
        assert kernels._impl() is module
        for name in FORWARD:
            np.testing.assert_array_equal(run(kernels, name, x), run(module, name, x))
        y = run(kernels, "softmax_rows", x)
        for name in VJP:
            np.testing.assert_array_equal(run(kernels, name, y, x), run(module, name, y, x))
