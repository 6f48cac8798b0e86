"""Errors name the public function the user called, and its arguments follow the conventions.

Every public function of :mod:`npsoftmax.functional` (re-exported at the top level) refuses a
non-numeric input and an out-of-range axis with a message that starts with its own name, not
that of the graph op it runs (``SparsemaxFunction``) or of the function it delegates to
(``softmax``, ``temp_softmax``).  Also here: logsumexp's keyword-only ``keepdims`` (SciPy's
third positional argument is ``b``), the Fenchel-Young losses' ``reduction`` check, the
Gumbel-softmax temperature's error class, and big-endian input.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

import npsoftmax as nps
import npsoftmax.functional as F
import npsoftmax.functional._rows as rows_module
from npsoftmax.autograd.dispatch import _op_name
from npsoftmax.functional import LogSumExpFunction
from npsoftmax.functional.sparse import (
    Entmax15Function,
    EntmaxBisectFunction,
    SparsemaxFunction,
    SparseSoftmaxFunction,
)

X = np.arange(8.0).reshape(2, 4) / 4
TARGET = np.array([0, 1])
COMPLEX = X + 1j
STRINGS = np.full((2, 4), "a")


def _call(name):
    """``name``'s top-level function as ``f(x, **kwargs)``, other required arguments filled in."""
    f = getattr(nps, name)
    assert f is getattr(F, name)
    extra = {
        "cross_entropy": lambda x, **kw: f(x, TARGET, **kw),
        "nll_loss": lambda x, **kw: f(x, TARGET, **kw),
        "sparsemax_loss": lambda x, **kw: f(x, TARGET, **kw),
        "entmax15_loss": lambda x, **kw: f(x, TARGET, **kw),
        "masked_softmax": lambda x, **kw: f(x, np.ones((2, 4), bool), **kw),
        "mm_softmax": lambda x, **kw: f(x, x, **kw),
        "unified_max_softmax": lambda x, **kw: f(x, phi=0.0, **kw),
    }
    return extra.get(name, f)


PUBLIC = sorted(n for n in F.__all__ if not n[0].isupper())  # the functions, not the classes


@pytest.mark.parametrize("name", PUBLIC)
@pytest.mark.parametrize("bad", [COMPLEX, STRINGS], ids=["complex", "str"])
def test_non_numeric_input_names_the_public_function(name, bad):
    with pytest.raises(TypeError, match=rf"^{name}'s input must be a numeric array or Tensor"):
        _call(name)(bad)


@pytest.mark.parametrize(
    "name",
    [n for n in PUBLIC if n != "gumbelmax"],
)
def test_bad_axis_names_the_public_function(name):
    with pytest.raises(np.exceptions.AxisError, match=rf"^{name}: axis 5 is out of bounds"):
        _call(name)(X, axis=5)


@pytest.mark.parametrize("name", ["standard_softmax", "fast_softmax", "selu_softmax"])
def test_delegating_functions_name_themselves_for_tensors(name):
    with pytest.raises(np.exceptions.AxisError, match=rf"^{name}: axis -3 is out of bounds"):
        getattr(nps, name)(nps.tensor(X), axis=-3)


@pytest.mark.parametrize(
    "cls, name",
    [
        (SparsemaxFunction, "sparsemax"),
        (Entmax15Function, "entmax15"),
        (EntmaxBisectFunction, "entmax_bisect"),
        (SparseSoftmaxFunction, "sparse_softmax"),
    ],
)
def test_graph_ops_carry_the_public_name(cls, name):
    # The name dispatch gives the op's errors (its class's ``op``), for the NumPy path and for
    # Function.apply on a Tensor, whose forward names the axis error alike.
    assert _op_name(cls) == name
    with pytest.raises(np.exceptions.AxisError, match=rf"^{name}: axis 2"):
        cls.apply(nps.tensor(X), axis=2)


# --- logsumexp: keepdims and out are keyword-only (SciPy's third argument is b) -------------


def test_logsumexp_refuses_scipys_positional_b():
    b = np.array([0.5, 2.0, 1.0, 1.0])
    with pytest.raises(TypeError, match="positional argument"):
        nps.logsumexp(X, -1, 0.5)
    with pytest.raises(TypeError, match="positional argument"):
        nps.logsumexp(X, -1, b)
    with pytest.raises(TypeError, match="positional argument"):
        nps.logsumexp(X, -1, False, np.empty(2))
    with pytest.raises(TypeError, match="unexpected keyword argument 'b'"):
        nps.logsumexp(X, -1, b=b)
    # The workaround the message gives is SciPy's b for positive weights.
    np.testing.assert_allclose(nps.logsumexp(X + np.log(b), -1), sp.logsumexp(X, -1, b), rtol=1e-15)
    # By keyword, keepdims (a bool or NumPy bool) and out work as before.
    for keepdims in (True, np.True_):
        got = nps.logsumexp(X, -1, keepdims=keepdims)
        np.testing.assert_allclose(got, sp.logsumexp(X, -1, keepdims=True), rtol=1e-15)
    assert nps.logsumexp(X, keepdims=np.False_).shape == (2,)
    out = np.empty((2, 1))
    assert nps.logsumexp(X, keepdims=True, out=out) is out


@pytest.mark.parametrize("keepdims", ["no", 0.5, 1, None, np.array([0.5, 2.0, 1.0, 1.0])])
def test_logsumexp_refuses_a_non_bool_keepdims(keepdims):
    with pytest.raises(
        TypeError,
        match=r"^logsumexp: keepdims must be True or False, got .*SciPy's third argument b"
        r".*nps\.logsumexp\(a \+ np\.log\(b\), axis\)",
    ):
        nps.logsumexp(X, keepdims=keepdims)
    with pytest.raises(TypeError, match="keepdims must be True or False"):
        LogSumExpFunction.apply(nps.tensor(X), axis=-1, keepdims=keepdims)


# --- Fenchel-Young losses: reduction must be a string -----------------------------------------


@pytest.mark.parametrize("loss", [nps.sparsemax_loss, nps.entmax15_loss])
@pytest.mark.parametrize("reduction", [np.ones(4), [1.0, 2.0], None, 1])
def test_fy_loss_refuses_a_non_string_reduction(loss, reduction):
    # A weight array passed positionally (as to cross_entropy) gave NumPy's "truth value of an
    # array ... is ambiguous".
    name = loss.__name__
    with pytest.raises(
        ValueError,
        match=rf"^{name}: reduction must be 'mean', 'sum' or 'none', got .* of type "
        rf"{type(reduction).__name__} \(the third positional argument is reduction",
    ):
        loss(X, TARGET, reduction)


# --- gumbel_softmax ----------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [np.ones(2), np.ones((1, 2)), nps.tensor([1.0, 2.0])])
def test_non_scalar_temperature_is_a_value_error_everywhere(tau):
    # As temp_softmax (and entmax_bisect's alpha): the type is right, the shape is not.
    with pytest.raises(ValueError, match=r"temperature must be a single real number"):
        nps.temp_softmax(X, tau)
    with pytest.raises(ValueError, match=r"^gumbel_softmax: tau must be a single real number"):
        nps.gumbel_softmax(X, tau, rng=0)
    with pytest.raises(ValueError, match=r"^gumbelmax: temp must be a single real number"):
        nps.gumbelmax(X, tau, rng=0)
    with pytest.raises(ValueError, match=r"^GumbelSoftmax: tau must be a single real number"):
        nps.nn.GumbelSoftmax(tau=tau)


def test_gumbel_softmax_refuses_pytorchs_positional_eps():
    # F.gumbel_softmax(logits, tau, hard, eps, dim): npsoftmax takes axis and rng by keyword.
    with pytest.raises(TypeError, match=r"gumbel_softmax\(\) takes from 1 to 3 positional"):
        nps.gumbel_softmax(X, 1.0, False, 1e-10)
    h = nps.gumbel_softmax(X, 1.0, True, axis=0, rng=0)
    np.testing.assert_array_equal(h.sum(axis=0), 1.0)


def test_gumbel_softmax_checks_the_axis_before_drawing():
    gen = np.random.default_rng(0)
    state = gen.bit_generator.state
    with pytest.raises(np.exceptions.AxisError, match=r"^gumbel_softmax: axis 2"):
        nps.gumbel_softmax(X, axis=2, rng=gen)
    with pytest.raises(TypeError, match=r"^gumbel_softmax: axis must be an integer, got 1e-10"):
        nps.gumbel_softmax(X, axis=1e-10, rng=gen)
    assert gen.bit_generator.state == state  # no noise drawn for a call that fails


# --- Big-endian input --------------------------------------------------------------------------

ROW_WISE = [
    nps.softmax,
    nps.log_softmax,
    nps.logsumexp,
    nps.sparsemax,
    nps.entmax15,
    nps.entmax_bisect,
    nps.sparse_softmax,
    nps.softmax1,
    nps.standard_softmax,
]


@pytest.mark.parametrize("f", ROW_WISE, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", ["f8", "f4", "f2"])
def test_big_endian_input_gives_native_output(f, dtype):
    # As NumPy's ufuncs and scipy.special.softmax do: the result is in the native byte order.
    little, big = X.astype("<" + dtype), X.astype(">" + dtype)
    got = f(big)
    assert got.dtype.isnative
    assert got.dtype == f(little).dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, f(little))
    assert sp.softmax(big).dtype.isnative and np.exp(big).dtype.isnative


def test_compute_dtype_is_native():
    for dtype in (">f8", "<f8", ">f4", ">f2", ">i4", "?"):
        work, result = rows_module.compute_dtype(np.dtype(dtype), "softmax")
        assert work.isnative and result.isnative
        assert work in (np.dtype(np.float32), np.dtype(np.float64))


def test_big_endian_input_runs_on_the_fast_kernels(monkeypatch):
    # Only extended precision falls back to the NumPy kernels (run_kernel's use_backend).
    def refuse(name):
        raise AssertionError(f"the slow path ran (use_backend({name!r}))")

    monkeypatch.setattr(rows_module, "use_backend", refuse)
    with nps.use_backend("numba"):
        for dtype in (">f8", ">f4"):
            big = X.astype(dtype)
            np.testing.assert_array_equal(nps.softmax(big), nps.softmax(X.astype(dtype[1:])))
            nps.logsumexp(big)
            nps.sparsemax(big)


@pytest.mark.parametrize(
    "name",
    [
        "exp",
        "log",
        "tanh",
        "sigmoid",
        "relu",
        "selu",
        "sum",
        "mean",
        "max",
        "negative",
        "add",
        "subtract",
        "multiply",
        "divide",
        "matmul",
        "transpose",
    ],
)
def test_autograd_ops_name_themselves_for_non_numeric_input(name):
    # They named their graph classes (ExpFunction's input ...).
    op = getattr(nps, name)
    args = (
        (STRINGS, np.ones(3))
        if name in {"add", "subtract", "multiply", "divide", "matmul"}
        else (STRINGS,)
    )
    with pytest.raises(TypeError, match=rf"^{name}'s input must be a numeric array or Tensor"):
        op(*args)


@pytest.mark.parametrize("code", [">f4", ">f2"])
@pytest.mark.parametrize("fn", [nps.temp_softmax, nps.logit_scaled_softmax])
def test_scaled_softmaxes_return_native_byte_order(fn, code):
    x = np.array([[1.0, 2.0, 0.5]], dtype=code)
    y = fn(x, 0.7)
    assert y.dtype == np.dtype(code).newbyteorder("=")
    np.testing.assert_array_equal(y, fn(x.astype(y.dtype), 0.7))
