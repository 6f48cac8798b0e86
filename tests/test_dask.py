"""dask.array input: the functional API maps its row-wise ops over blocks (npsoftmax._dask).

Oracle: the NumPy path on the computed array (the same forwards, so results agree to the last
bit when rows are whole in one block, and to a few ulps for logsumexp, whose chunked merge adds
terms in another order), plus SciPy for logsumexp along a chunked axis.  Run on dask's threaded
scheduler and on a ``dask.distributed`` LocalCluster with two worker processes.
Skipped when dask is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import scipy.special
from hypothesis import given
from hypothesis import strategies as st

import npsoftmax as nps

da = pytest.importorskip("dask.array")
import dask  # noqa: E402  (after the skip: dask is optional)

ROW_OPS = [nps.softmax, nps.log_softmax]


def _edge_rows(dtype: type = np.float64) -> np.ndarray:
    """Random rows plus the policy's edge rows: all -inf, some -inf, +inf, NaN, huge."""
    x = np.random.default_rng(0).standard_normal((9, 14)).astype(dtype)
    x[0] = -np.inf
    x[1, ::2] = -np.inf
    x[2, 3] = np.inf
    x[3, 5] = np.nan
    x[4] = np.finfo(dtype).max
    x[5, 1] = np.inf
    x[5, 2] = np.nan
    return x


@pytest.fixture(scope="module")
def cluster_client() -> Iterator[object]:
    """A LocalCluster with two single-threaded worker processes, shared by this module."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


# --- row-wise ops: softmax, log_softmax ---------------------------------------------------


@pytest.mark.parametrize("op", ROW_OPS)
@pytest.mark.parametrize("chunks", [(2, 14), (4, 5), (9, 3)])
def test_row_ops_match_numpy_path_threaded(op, chunks, backend) -> None:
    # (2, 14): rows split, classes whole; (4, 5) and (9, 3): the class axis needs a rechunk.
    x = _edge_rows()
    d = da.from_array(x, chunks=chunks)
    y = op(d)
    assert isinstance(y, da.Array)
    assert y.shape == x.shape and y.dtype == x.dtype
    np.testing.assert_array_equal(y.compute(scheduler="threads"), op(x))


@pytest.mark.parametrize("op", ROW_OPS)
@pytest.mark.parametrize("axis", [0, 1, -2, (0, 2), None])
def test_row_ops_any_axis(op, axis) -> None:
    x = np.random.default_rng(1).standard_normal((4, 5, 6)).astype(np.float32)
    d = da.from_array(x, chunks=(2, 2, 3))
    np.testing.assert_array_equal(op(d, axis=axis).compute(), op(x, axis=axis))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int32, np.bool_])
def test_dtype_policy_is_the_numpy_paths(dtype) -> None:
    x = (np.arange(24).reshape(4, 6) % 5).astype(dtype)
    d = da.from_array(x, chunks=(2, 3))
    for op in ROW_OPS:
        y = op(d)
        assert y.dtype == op(x).dtype  # known before computing, from the graph's meta
        np.testing.assert_array_equal(y.compute(), op(x))
    assert nps.logsumexp(d).dtype == nps.logsumexp(x).dtype


def test_row_ops_are_lazy_and_keep_rows_chunked() -> None:
    x = da.zeros((1000, 64), chunks=(100, 16), dtype=np.float32)
    y = nps.softmax(x)
    assert y.chunks[1] == (64,)  # the class axis in one chunk
    np.testing.assert_allclose(y[:3].compute(), np.full((3, 64), 1 / 64, np.float32))


@given(
    rows=st.integers(1, 12),
    classes=st.integers(1, 12),
    row_chunk=st.integers(1, 12),
    class_chunk=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_softmax_property_any_chunking(rows, classes, row_chunk, class_chunk, seed) -> None:
    x = 10 * np.random.default_rng(seed).standard_normal((rows, classes))
    d = da.from_array(x, chunks=(row_chunk, class_chunk))
    y = nps.softmax(d).compute(scheduler="sync")
    np.testing.assert_array_equal(y, nps.softmax(x))
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-12)


# --- logsumexp: exact merge along a chunked axis -------------------------------------------


@pytest.mark.parametrize("axis", [-1, 0, (0, 1), None])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_chunked_axis_matches_scipy(axis, keepdims, backend) -> None:
    x = 30 * np.random.default_rng(2).standard_normal((9, 14))
    d = da.from_array(x, chunks=(4, 3))  # every reduced axis spans several chunks
    got = nps.logsumexp(d, axis=axis, keepdims=keepdims)
    assert got.shape == nps.logsumexp(x, axis=axis, keepdims=keepdims).shape
    want = scipy.special.logsumexp(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(got.compute(scheduler="threads"), want, rtol=1e-14)


def test_logsumexp_edge_rows_across_chunks() -> None:
    # -inf partials add nothing; +inf gives +inf; NaN wins over +inf, whichever block holds it.
    x = _edge_rows()
    d = da.from_array(x, chunks=(3, 4))
    got = nps.logsumexp(d).compute()
    want = nps.logsumexp(x)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert got[0] == -np.inf and got[2] == np.inf and np.isnan(got[3]) and np.isnan(got[5])


def test_logsumexp_split_every_merges_many_partials() -> None:
    # 64 chunks along the axis, merged two at a time: many levels of the online merge.
    x = np.random.default_rng(3).standard_normal((3, 640)) * 50
    d = da.from_array(x, chunks=(3, 10))
    got = nps.logsumexp(d)
    assert got.npartitions == 1
    np.testing.assert_allclose(got.compute(), scipy.special.logsumexp(x, axis=-1), rtol=1e-14)


def test_logsumexp_float16_partials_in_float32() -> None:
    x = np.linspace(-3, 3, 4000, dtype=np.float16).reshape(2, 2000)
    got = nps.logsumexp(da.from_array(x, chunks=(2, 100)))
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got.compute(), nps.logsumexp(x))


# --- on a distributed cluster with two worker processes ------------------------------------


def test_distributed_cluster_matches_numpy_path(cluster_client) -> None:
    x = _edge_rows(np.float32)
    d = da.from_array(x, chunks=(3, 5))
    y, l, lse = dask.compute(nps.softmax(d), nps.log_softmax(d), nps.logsumexp(d, axis=0))
    np.testing.assert_array_equal(y, nps.softmax(x))
    np.testing.assert_array_equal(l, nps.log_softmax(x))
    np.testing.assert_allclose(lse, nps.logsumexp(x, axis=0), rtol=1e-6)


def test_distributed_uses_the_graph_builders_backend(cluster_client) -> None:
    x = np.random.default_rng(4).standard_normal((40, 30))
    d = da.from_array(x, chunks=(10, 30))
    with nps.use_backend("numpy"):
        y = nps.softmax(d)  # built here, computed in workers whose default is numba
    with nps.use_backend("numpy"):
        want = nps.softmax(x)
    np.testing.assert_array_equal(y.compute(), want)


# --- what is refused ----------------------------------------------------------------------


def test_out_is_refused() -> None:
    d = da.zeros((2, 3), chunks=1)
    with pytest.raises(TypeError, match="out= is not supported for dask"):
        nps.softmax(d, out=np.empty((2, 3)))


def test_tensor_and_dask_together_are_refused() -> None:
    d = da.zeros((2, 3), chunks=1)
    with pytest.raises(TypeError, match="Tensors are not dask-aware"):
        nps.add(nps.tensor(np.zeros((2, 3))), d)


def test_other_ops_are_refused() -> None:
    d = da.zeros((2, 3), chunks=1)
    with pytest.raises(TypeError, match="exp does not accept dask arrays"):
        nps.exp(d)
    with pytest.raises(TypeError, match="sum does not accept dask arrays"):
        nps.sum(d, axis=-1)


def test_bad_axis_and_dtype_raise_at_graph_build() -> None:
    d = da.zeros((2, 3), chunks=1)
    with pytest.raises(np.exceptions.AxisError, match="axis 2 is out of bounds"):
        nps.softmax(d, axis=2)
    with pytest.raises(TypeError, match="complex"):
        nps.softmax(d.astype(np.complex128))


def test_array_valued_parameters_are_refused() -> None:
    from npsoftmax.autograd.dispatch import dispatch
    from npsoftmax.functional.softmax import SoftmaxFunction

    d = da.zeros((2, 3), chunks=1)
    with pytest.raises(TypeError, match=r"array-valued parameter\(s\) \['mask'\]"):
        dispatch(SoftmaxFunction, d, axis=-1, mask=np.ones((2, 3), bool))


# --- composites: an elementwise map, then a row-wise softmax, with scalar parameters -----------


def _lazy(x: np.ndarray, chunks: tuple[int, ...]) -> tuple[object, list[int]]:
    """``x`` as a dask array whose blocks count how often they are computed."""
    calls: list[int] = []

    def block(b: np.ndarray) -> np.ndarray:
        calls.append(1)
        return b

    meta = np.empty((0,) * x.ndim, dtype=x.dtype)  # else dask probes block() at build time
    return da.from_array(x, chunks=chunks).map_blocks(block, dtype=x.dtype, meta=meta), calls


COMPOSITES = {
    "softmin": nps.softmin,
    "temp_softmax": lambda a, axis=-1: nps.temp_softmax(a, 2.5, axis=axis),
    "temp_softmax_negative": lambda a, axis=-1: nps.temp_softmax(a, -0.5, axis=axis),
    "logit_scaled_softmax": lambda a, axis=-1: nps.logit_scaled_softmax(a, 3.0, axis=axis),
    "norm_exp_softmax": lambda a, axis=-1: nps.norm_exp_softmax(a, np.float32(0.25), axis=axis),
    "selu_softmax": nps.selu_softmax,
    "local_softmax": lambda a, axis=-1: nps.local_softmax(a, 3, axis=axis),
}


@pytest.mark.parametrize("name", COMPOSITES)
@pytest.mark.parametrize("chunks", [(2, 14), (4, 5)])
def test_composites_map_over_blocks(name, chunks) -> None:
    f = COMPOSITES[name]
    x = _edge_rows()[[0, 1, 3, 6, 7, 8]]  # masks, NaN and finite rows (+inf: softmin's mask)
    d, calls = _lazy(x, chunks)
    y = f(d)
    assert isinstance(y, da.Array) and not calls  # lazy: nothing computed yet
    assert y.shape == x.shape and y.dtype == f(x).dtype
    np.testing.assert_array_equal(y.compute(scheduler="threads"), f(x))


@pytest.mark.parametrize("name", COMPOSITES)
@pytest.mark.parametrize("axis", [0, -2])
def test_composites_any_axis(name, axis) -> None:
    f = COMPOSITES[name]
    x = np.random.default_rng(5).standard_normal((6, 4, 5)).astype(np.float32)
    y = f(da.from_array(x, chunks=(2, 2, 3)), axis=axis)
    np.testing.assert_array_equal(y.compute(scheduler="threads"), f(x, axis=axis))
    if name not in ("local_softmax",):  # local_softmax splits one axis only
        y = f(da.from_array(x, chunks=(2, 2, 3)), axis=(0, 2))
        np.testing.assert_array_equal(y.compute(scheduler="threads"), f(x, axis=(0, 2)))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int32, np.bool_])
def test_composites_keep_the_dtype_policy(dtype) -> None:
    x = (np.arange(24).reshape(4, 6) % 5).astype(dtype)
    d = da.from_array(x, chunks=(2, 3))
    for f in COMPOSITES.values():
        y = f(d)
        assert y.dtype == f(x).dtype  # known before computing
        np.testing.assert_array_equal(y.compute(scheduler="threads"), f(x))


def test_composites_scale_overflow_and_errors_at_graph_build() -> None:
    x = np.array([[1e308, -1e308], [1.0, 2.0]])
    got = nps.temp_softmax(da.from_array(x, chunks=1), 1e308).compute(scheduler="threads")
    np.testing.assert_allclose(got[0], scipy.special.softmax([1.0, -1.0]), rtol=1e-15)
    d = da.zeros((4, 6), chunks=2)
    with pytest.raises(ValueError, match="num_chunks must be between 1 and"):
        nps.local_softmax(d, 7)
    with pytest.raises(ValueError, match="temperature must be a finite, non-zero number"):
        nps.temp_softmax(d, 0.0)
    with pytest.raises(TypeError, match="softmin: out= is not supported for dask"):
        nps.softmin(d, out=np.empty((4, 6)))
    with pytest.raises(TypeError, match="complex"):
        nps.selu_softmax(d.astype(np.complex128))


def test_composites_on_a_distributed_cluster(cluster_client) -> None:
    x = _edge_rows(np.float32)
    d = da.from_array(x, chunks=(3, 5))
    got = dask.compute(nps.temp_softmax(d, 0.5), nps.local_softmax(d, 2), nps.selu_softmax(d))
    for y, want in zip(got, (nps.temp_softmax(x, 0.5), nps.local_softmax(x, 2),
                             nps.selu_softmax(x))):  # fmt: skip
        np.testing.assert_array_equal(y, want)


# --- refused before anything is computed, naming the public function -------------------------


REFUSED = {
    "gumbel_softmax": (lambda d: nps.gumbel_softmax(d, rng=0), "SeedSequence"),
    "gumbelmax": (lambda d: nps.gumbelmax(d, rng=0), "Compute the array first"),
    "mm_softmax": (lambda d: nps.mm_softmax(d, np.ones(6)), r"logit_scaled_softmax\(x \* y"),
    "cross_entropy": (lambda d: nps.cross_entropy(d, np.zeros(4, int)), "whole batch"),
    "nll_loss": (lambda d: nps.nll_loss(d, np.zeros(4, int)), "whole batch"),
    "sparsemax_loss": (lambda d: nps.sparsemax_loss(d, np.zeros(4, int)), "whole batch"),
    "entmax15_loss": (lambda d: nps.entmax15_loss(d, np.zeros(4, int)), "whole batch"),
    "temp_softmax": (lambda d: nps.temp_softmax(d, nps.tensor(2.0)), "Tensor temperature"),
    "logit_scaled_softmax": (lambda d: nps.logit_scaled_softmax(d, nps.tensor(2.0)), "Tensor"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_refused_with_a_type_error_naming_the_function(name) -> None:
    f, advice = REFUSED[name]
    d, calls = _lazy(np.zeros((4, 6)), (2, 3))
    with pytest.raises(TypeError, match=rf"^{name}[ :].*{advice}"):
        f(d)
    assert not calls  # refused before anything was computed


def test_a_dask_target_is_refused_too() -> None:
    t, calls = _lazy(np.zeros(4, dtype=np.int64), (2,))
    with pytest.raises(TypeError, match="cross_entropy does not accept dask arrays"):
        nps.cross_entropy(np.zeros((4, 3)), t)
    assert not calls


def test_tuple_valued_parameters_are_refused_clearly() -> None:
    # A loss's Target (a NamedTuple of arrays) is one parameter per row: np.ndim of it raised
    # an unrelated ValueError ("inhomogeneous shape") before.
    from npsoftmax.autograd.dispatch import dispatch
    from npsoftmax.functional.softmax import SoftmaxFunction

    d = da.zeros((2, 3), chunks=1)
    ragged = (np.zeros(2, np.intp), np.ones(2, bool), (2,))
    with pytest.raises(TypeError, match=r"array-valued parameter\(s\) \['target'\]"):
        dispatch(SoftmaxFunction, d, axis=-1, target=ragged)
