"""The numerical policy of design.md, case by case, for softmax, log_softmax and logsumexp.

Expected values come from SciPy, from closed forms (log 2, 1/n) or from the policy's own words
(all-NaN rows); none is copied from npsoftmax's output.
"""

import warnings

import numpy as np
import pytest
import scipy.special as sp

import npsoftmax as nps

NAN, INF = np.nan, np.inf


@pytest.fixture(autouse=True)
def _no_runtime_warnings():
    # The policy says no RuntimeWarning escapes; make any one a failure here, whatever the
    # pytest configuration.
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


ROWS = [
    # row, expected softmax, expected log_softmax, expected logsumexp
    ([-INF, 1.0], [0.0, 1.0], [-INF, 0.0], 1.0),
    ([-INF, -INF], [NAN, NAN], [NAN, NAN], -INF),
    ([INF, 1.0], [NAN, NAN], [NAN, NAN], INF),
    ([INF, INF], [NAN, NAN], [NAN, NAN], INF),
    ([NAN, 1.0], [NAN, NAN], [NAN, NAN], NAN),
    ([NAN, INF], [NAN, NAN], [NAN, NAN], NAN),
    ([-INF, NAN], [NAN, NAN], [NAN, NAN], NAN),
    ([0.0, 0.0], [0.5, 0.5], [-np.log(2), -np.log(2)], np.log(2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("row", "p", "lp", "lse"), ROWS)
def test_edge_rows(backend, dtype, row, p, lp, lse):
    x = np.array(row, dtype=dtype)
    np.testing.assert_array_equal(nps.softmax(x), np.array(p, dtype=dtype))
    np.testing.assert_allclose(nps.log_softmax(x), np.array(lp, dtype=dtype), rtol=1e-6)
    np.testing.assert_allclose(nps.logsumexp(x), dtype(lse), rtol=1e-6)
    for f in (nps.softmax, nps.log_softmax, nps.logsumexp):
        assert f(x).dtype == dtype


def test_edge_rows_mixed_in_one_batch(backend):
    # Each row follows its own rule; a bad row never contaminates a good one.
    x = np.array([r for r, *_ in ROWS])
    y = nps.softmax(x)
    for i, (_, p, _, _) in enumerate(ROWS):
        np.testing.assert_array_equal(y[i], p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_magnitudes(backend, dtype):
    big = 1e308 if dtype == np.float64 else 3e38
    x = np.array([[big, -big], [big, big], [-big, -big]], dtype=dtype)
    np.testing.assert_array_equal(nps.softmax(x), np.array([[1, 0], [0.5, 0.5], [0.5, 0.5]]))
    log2 = dtype(np.log(2.0))
    ls = nps.log_softmax(x)
    np.testing.assert_array_equal(ls[0], [0.0, -INF])
    np.testing.assert_allclose(ls[1:], -log2, rtol=2 * np.finfo(dtype).eps)
    lse = nps.logsumexp(x)
    assert np.all(np.isfinite(lse))
    np.testing.assert_array_equal(lse[:2], dtype(big))  # log 2 is below big's ulp


def test_log_softmax_is_not_x_minus_logsumexp(backend):
    # x - logsumexp(x) would give [0, 0] - here it must be -log 2 exactly.
    np.testing.assert_allclose(nps.log_softmax(np.array([1e308, 1e308])), -np.log(2.0), rtol=0)
    np.testing.assert_allclose(nps.log_softmax(np.array([1000.0, 1.0])), [0.0, -999.0], rtol=0)


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4), (2, 0, 3)])
def test_empty_axis(backend, shape):
    x = np.zeros(shape)
    assert nps.softmax(x).shape == shape
    assert nps.log_softmax(x).shape == shape
    lse = nps.logsumexp(x)
    assert lse.shape == shape[:-1]
    np.testing.assert_array_equal(lse, np.full(shape[:-1], -INF))
    np.testing.assert_array_equal(lse, sp.logsumexp(x, axis=-1))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_ints_and_bools_promote_to_float64(backend, dtype):
    x = np.array([[1, 0, 1]], dtype=dtype)
    for f, ref in [
        (nps.softmax, sp.softmax),
        (nps.log_softmax, sp.log_softmax),
        (nps.logsumexp, sp.logsumexp),
    ]:
        y = f(x)
        assert y.dtype == np.float64
        np.testing.assert_allclose(y, ref(x.astype(np.float64), axis=-1), rtol=1e-15)


def test_float16_is_computed_in_float32(backend):
    x16 = np.array([10.0, 20.0, 30.0], dtype=np.float16)
    y = nps.softmax(x16)
    assert y.dtype == np.float16
    # Computed in float16 the smallest entry would flush to 0 (PyTorch gives [0, 4.54e-05, 1]).
    expected = sp.softmax(x16.astype(np.float32)).astype(np.float16)
    np.testing.assert_array_equal(y, expected)
    assert y[1] > 0  # 4.54e-05, a float16 subnormal that a float16 normaliser would lose
    assert nps.logsumexp(x16).dtype == np.float16


def test_scalar_input(backend):
    assert nps.softmax(np.float64(3.0)) == 1.0
    assert nps.log_softmax(3.0) == 0.0
    assert nps.logsumexp(3.0) == 3.0


def test_out_argument(backend):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 7)).astype(np.float32)
    expected = nps.softmax(x)
    out = np.empty_like(x)
    assert nps.softmax(x, out=out) is out
    np.testing.assert_array_equal(out, expected)
    # In place, like NumPy ufuncs with out=x.
    x_copy = x.copy()
    assert nps.softmax(x_copy, out=x_copy) is x_copy
    np.testing.assert_array_equal(x_copy, expected)
    # Another axis, another dtype, a strided out: still right, through a temporary.
    out64 = np.empty((7, 5))
    nps.log_softmax(x.T, axis=0, out=out64)
    np.testing.assert_allclose(out64, sp.log_softmax(x.T.astype(np.float64), axis=0), atol=1e-6)
    wide = np.zeros((5, 14), dtype=np.float32)
    nps.softmax(x, out=wide[:, ::2])
    np.testing.assert_array_equal(wide[:, ::2], expected)
    np.testing.assert_array_equal(wide[:, 1::2], 0)
    lse_out = np.empty(5, dtype=np.float32)
    assert nps.logsumexp(x, out=lse_out) is lse_out
    np.testing.assert_allclose(lse_out, sp.logsumexp(x, axis=-1), rtol=1e-6)


def test_out_argument_errors(backend):
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"out has shape \(3, 2\), expected \(2, 3\)"):
        nps.softmax(x, out=np.empty((3, 2)))
    with pytest.raises(TypeError, match="float64 result into out of dtype int64"):
        nps.softmax(x, out=np.empty((2, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="out= is only supported for NumPy input"):
        nps.softmax(nps.tensor(x), out=np.empty((2, 3)))


@pytest.mark.parametrize(
    ("f", "shape"),
    [
        (nps.softmax, (2, 3)),
        (nps.log_softmax, (2, 3)),
        (nps.logsumexp, (2,)),
        (nps.softmin, (2, 3)),
    ],
)
def test_read_only_out_is_refused_by_name(backend, f, shape):
    # As NumPy's ufuncs ("output array is read-only"), before any kernel runs: a compiled kernel
    # would fail to compile for a read-only array, with an unreadable Numba TypingError.
    out = np.zeros(shape)
    out.flags.writeable = False
    with pytest.raises(ValueError, match=r"\b(softmax|log_softmax|logsumexp): out is read-only"):
        f(np.ones((2, 3)), out=out)
    np.testing.assert_array_equal(out, 0.0)


@pytest.mark.parametrize(
    ("name", "x", "out", "reference"),
    [
        # float16 in is computed in float32; the float16 result of -60000 overflows to -inf.
        ("log_softmax", np.array([6e4, -6e4], np.float16), None, sp.log_softmax),
        ("logsumexp", np.array([65504.0, 65504.0], np.float16), None, sp.logsumexp),
        # A float64 result written into a float32 out= (NumPy's same_kind cast).
        ("log_softmax", np.array([1e300, -1e300]), np.empty(2, np.float32), sp.log_softmax),
        ("logsumexp", np.array([1e300]), np.empty((), np.float32), sp.logsumexp),
        ("softmax", np.array([1e300, -1e300]), np.empty(2, np.float16), sp.softmax),
    ],
)
def test_down_casts_that_overflow_raise_no_warning(backend, name, x, out, reference):
    # The cast rounds a finite value past the smaller dtype's range to +-inf, which is the
    # rounded value (the kernels' own float32 rounding does the same, silently); the autouse
    # fixture turns any RuntimeWarning into a failure.
    y = getattr(nps, name)(x, out=out)
    dtype = x.dtype if out is None else out.dtype
    with np.errstate(over="ignore"):
        expected = np.asarray(reference(x.astype(np.float64), axis=-1)).astype(dtype)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, expected)
    if out is not None:
        assert y is out


# A 0-d input is one row of one class.  Each op and the gradient of its own float64 twin, a
# (1,)-shaped input on the NumPy backend (so the expected value owes nothing to the path tested).
ZERO_D_OPS = {
    "softmax": nps.softmax,
    "log_softmax": nps.log_softmax,
    "logsumexp": nps.logsumexp,
    "online_softmax": nps.online_softmax,
    "softmax1": nps.softmax1,
    "temp_softmax": lambda t: nps.temp_softmax(t, 0.5),
    "masked_softmax": lambda t: nps.masked_softmax(t, np.ones(t.shape, bool)),
    "softmin": nps.softmin,
}


@pytest.mark.parametrize("name", sorted(ZERO_D_OPS))
def test_float16_0d_backward_gives_a_float16_gradient(backend, name):
    f = ZERO_D_OPS[name]
    t = nps.tensor(np.float16(0.75), requires_grad=True)
    f(t).backward(np.float16(3.0))  # used to raise NotImplementedError(float16) from Numba
    assert t.grad.shape == () and t.grad.dtype == np.float16
    from npsoftmax._backend import use_backend

    with use_backend("numpy"):
        t64 = nps.tensor(np.array([0.75]), requires_grad=True)
        y = f(t64)
        y.backward(np.full(y.shape, 3.0))
    np.testing.assert_allclose(t.grad, t64.grad[0].astype(np.float16), rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize("f", [nps.softmax, nps.log_softmax, nps.logsumexp, nps.softmin])
def test_bad_input_types(f):
    with pytest.raises(TypeError, match="numeric"):
        f(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="numeric"):
        f([object(), object()])
    with pytest.raises(TypeError, match=rf"^{f.__name__}'s input .* \(dtype complex128\)"):
        f(np.array([1 + 2j, 3j]))


def test_non_numeric_input_error_names_the_op():
    # The one dispatch point names the public function whose graph op refused the input.
    with pytest.raises(TypeError, match=r"^log_softmax's input must be a numeric array"):
        nps.log_softmax(np.array([1 + 2j, 3j]))
    with pytest.raises(TypeError, match=r"^logsumexp's input .* got list \(dtype <U1\)"):
        nps.logsumexp(["a", "b"])
    with pytest.raises(TypeError, match=r"^cross_entropy's input must be a numeric array"):
        nps.cross_entropy(np.array([[1 + 2j, 3j]]), np.array([0]))
    with pytest.raises(TypeError, match=r"^temp_softmax's input must be a numeric array"):
        nps.temp_softmax(np.array(["a", "b"]), 2.0)
    with pytest.raises(TypeError, match=r"^softmin's input must be a numeric array"):
        nps.softmin(np.array([1 + 2j, 3j]))


@pytest.mark.parametrize("f", [nps.softmax, nps.log_softmax, nps.logsumexp, nps.temp_softmax])
def test_axis_out_of_range_names_axis_and_ndim(f):
    with pytest.raises(np.exceptions.AxisError, match=r"axis 2 .* dimension 2"):
        f(np.zeros((2, 3)), axis=2)
    with pytest.raises(IndexError, match=r"axis -3 .* dimension 2"):
        f(np.zeros((2, 3)), axis=-3)
    with pytest.raises(TypeError, match="axis must be an integer"):
        f(np.zeros((2, 3)), axis=1.5)


@pytest.mark.parametrize("f", [nps.softmax, nps.log_softmax, nps.logsumexp, nps.temp_softmax])
@pytest.mark.parametrize("axis", [True, np.True_, False, (False, True), (0, np.True_)])
def test_bool_axis_is_refused(f, axis):
    # True.__index__() is 1, but NumPy and SciPy refuse axis=True: so do we, naming the value.
    x = np.zeros((2, 3))
    for reference in (np.sum, sp.logsumexp):
        with pytest.raises(TypeError, match="integer"):
            reference(x, axis=axis)
    with pytest.raises(
        TypeError, match=r"axis must be an integer, got the bool (np\.)?(True|False)"
    ):
        f(x, axis=axis)
