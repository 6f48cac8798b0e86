"""check_grads: passes on correct ops, fails with a precise AssertionError on a wrong backward,
and refuses what it cannot check."""

import numpy as np
import pytest

import npsoftmax as nps
from npsoftmax.autograd import Function
from npsoftmax.autograd.elementwise import TanhFunction
from npsoftmax.functional import SoftmaxFunction
from npsoftmax.testing import check_grads

RNG = np.random.default_rng(0)


class WrongTanh(TanhFunction):
    """tanh with a deliberately wrong VJP: 1 - y instead of 1 - y^2."""

    def backward(self, g):
        (out,) = self.saved_arrays
        return (g * (1 - out),)


class SlightlyWrongExp(Function):
    """exp whose gradient is off by a relative 1e-3 in one element only."""

    def forward(self, x):
        out = np.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved_arrays
        dx = g * out
        dx.flat[2] *= 1.001
        return (dx,)


class ForgetsSecondInput(Function):
    """x * y whose backward claims y has no influence."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return x * y

    def backward(self, g):
        x, y = self.saved_arrays
        return g * y, np.zeros_like(g * x)


@pytest.mark.parametrize(
    "f",
    [
        lambda x: nps.tanh(x),
        lambda x: nps.sum(nps.exp(x) * x, axis=0),
        lambda x: nps.log(x * x + 1.0).mean(),
        lambda x: x.T @ x,
    ],
)
def test_passes_on_correct_ops(f):
    assert check_grads(f, RNG.normal(size=(3, 2))) is None


def test_passes_on_several_inputs_of_mixed_dtypes_and_kinds():
    a = nps.tensor(RNG.normal(size=(2, 3)), dtype=np.float32)  # checked in float64
    b = RNG.normal(size=(3,)).tolist()
    check_grads(lambda s, t: nps.sigmoid(s) * t, a, b)


def test_passes_when_the_output_ignores_an_input_and_on_empty_inputs():
    check_grads(lambda x, y: x * 2.0, RNG.normal(size=3), RNG.normal(size=2))
    check_grads(lambda x: x * 2.0, np.empty((0, 3)))


def test_passes_on_a_large_input_with_directional_checks_only():
    x = RNG.normal(size=(20, 30))
    check_grads(lambda t: nps.tanh(t) @ np.ones(30), x)


def test_fails_on_a_wrong_backward_naming_input_values_and_tolerance():
    with pytest.raises(AssertionError) as info:
        check_grads(lambda x: WrongTanh.apply(x), RNG.normal(size=(2, 2)))
    message = str(info.value)
    assert "input 0 (shape (2, 2))" in message
    assert "analytic" in message and "numeric" in message and "tolerance" in message


def test_fails_on_a_wrong_backward_for_a_large_input():
    with pytest.raises(AssertionError, match="directional derivative"):
        check_grads(lambda x: WrongTanh.apply(x), RNG.normal(size=(10, 10)))


def test_the_full_jacobian_names_the_worst_entry():
    x = RNG.normal(size=(2, 2))
    with pytest.raises(AssertionError, match=r"Jacobian entry d y\[1, 0\] / d x\[1, 0\]"):
        check_grads(lambda t: SlightlyWrongExp.apply(t), x, n_directions=0)


def test_a_wrong_gradient_of_the_second_input_is_named():
    with pytest.raises(AssertionError, match="input 1"):
        check_grads(ForgetsSecondInput.apply, RNG.normal(size=3), RNG.normal(size=3))


def test_a_large_output_is_checked_through_the_random_cotangent():
    x = RNG.normal(size=3)
    with pytest.raises(AssertionError, match=r"d <u, y> / d x\["):
        check_grads(lambda t: nps.broadcast_to(WrongTanh.apply(t), (30, 3)), x, n_directions=0)


def test_tolerances_are_respected():
    x = RNG.normal(size=4)
    with pytest.raises(AssertionError):
        check_grads(lambda t: SlightlyWrongExp.apply(t), x)
    check_grads(lambda t: SlightlyWrongExp.apply(t), x, rtol=1e-2)


def test_refuses_integer_inputs_and_non_tensor_outputs():
    with pytest.raises(TypeError, match="input 1 must be floating point"):
        check_grads(lambda x, y: x, np.ones(2), np.array([1, 2]))
    with pytest.raises(TypeError, match="must return a floating-point Tensor"):
        check_grads(lambda x: x.data, np.ones(2))
    with pytest.raises(ValueError, match="eps must be positive"):
        check_grads(lambda x: x, np.ones(2), eps=0.0)


def test_does_not_modify_its_inputs():
    x = RNG.normal(size=(2, 3))
    t = nps.tensor(x.copy(), requires_grad=True)
    check_grads(lambda a, b: a * b, x, t)
    np.testing.assert_array_equal(t.data, x)
    assert t.grad is None


class ScaledSum(Function):
    """x.sum() whose gradient is scaled by ``k`` (1 is correct), optionally in one element only."""

    def forward(self, x, k=1.0, one_element=False):
        self.shape, self.k, self.one_element = x.shape, k, one_element
        return np.sum(x)

    def backward(self, g):
        dx = np.full(self.shape, g, dtype=np.float64)
        if self.one_element:
            dx.flat[-1] *= self.k
        else:
            dx *= self.k
        return (dx,)


class NoGradient(Function):
    """exp whose backward returns None: the engine treats the input as not influencing it."""

    def forward(self, x):
        return np.exp(x)

    def backward(self, g):
        return (None,)


def test_works_inside_no_grad_and_restores_the_mode():
    x = RNG.normal(size=(2, 3))
    with nps.no_grad():
        check_grads(nps.softmax, x)
        with pytest.raises(AssertionError, match="wrong gradient"):
            check_grads(lambda t: WrongTanh.apply(t), x)
        assert not nps.is_grad_enabled()
    assert nps.is_grad_enabled()


# Correct functions at magnitudes where an absolute step loses digits to rounding.
LARGE = [
    pytest.param(lambda t: t.sum(), 1e3 + RNG.normal(size=100), id="sum-1e3"),
    pytest.param(lambda t: (t * 1.0).sum(), 1e6 + RNG.normal(size=100), id="sum-1e6"),
    pytest.param(nps.logsumexp, np.array([1e5, 1e5 + 0.5, 1e5 - 1.0]), id="logsumexp-1e5"),
    pytest.param(nps.logsumexp, np.array([1e12, 1e12 + 1.0]), id="logsumexp-1e12"),
    pytest.param(nps.softmax, 1e5 + RNG.normal(size=(2, 4)), id="softmax-1e5"),
    pytest.param(nps.softmax, 1e5 + RNG.normal(size=100), id="softmax-1e5-directional"),
    pytest.param(nps.log_softmax, 1e5 + RNG.normal(size=(2, 4)), id="log_softmax-1e5"),
]


@pytest.mark.parametrize("f, x", LARGE)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_passes_on_correct_ops_at_large_magnitudes(f, x, seed):
    check_grads(f, x, seed=seed)


# A bug is caught when it exceeds the tolerance, whose rounding allowance grows with |y|: a sum
# of 100 values near 1e3 allows about 1e-4 relative, so every bug below is caught there; near
# 1e5 (an output near 1e7) only gross ones can be.
@pytest.mark.parametrize(
    "k, one_element, size, scale",
    [
        (2.0, False, 100, 0.0),
        (2.0, False, 100, 1e3),
        (2.0, False, 100, 1e5),
        (1 + 1e-3, False, 100, 0.0),
        (1 + 1e-3, False, 100, 1e3),
        (1.01, True, 1000, 0.0),
        (1.01, True, 1000, 1.0),
        (1.01, True, 10, 0.0),
        (1.01, True, 10, 1e3),
        (1.01, True, 10, 1e5),
    ],
)
def test_still_catches_wrong_gradients_at_large_magnitudes(k, one_element, size, scale):
    x = scale + RNG.normal(size=size)
    check_grads(lambda t: ScaledSum.apply(t, one_element=one_element), x)
    with pytest.raises(AssertionError, match="wrong gradient"):
        check_grads(lambda t: ScaledSum.apply(t, k=k, one_element=one_element), x)


def test_catches_a_missing_gradient():
    with pytest.raises(AssertionError, match="analytic 0 vs"):
        check_grads(lambda t: NoGradient.apply(t), RNG.normal(size=(3, 4)))


def test_the_message_states_the_rounding_allowance():
    with pytest.raises(AssertionError, match=r"rounding allowance [0-9.e+-]+\)"):
        check_grads(lambda t: WrongTanh.apply(t), RNG.normal(size=3))


def test_infinite_inputs_are_not_stepped_and_need_a_zero_gradient():
    x = np.array([[0.3, -np.inf, -1.2, 2.0]])
    check_grads(nps.softmax, x)  # no NaN step from inf - inf, and no RuntimeWarning
    check_grads(lambda t: t * 0.0 + 1.0, np.array([np.inf, -np.inf]))
    with pytest.raises(AssertionError, match=r"d x\[1\]"):
        check_grads(lambda t: GradientAtMinusInf.apply(t), np.array([0.5, -np.inf]))


class GradientAtMinusInf(Function):
    """sum(exp(x)) whose gradient is wrongly 1 (not exp(-inf) = 0) at -inf entries."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.sum(np.exp(x))

    def backward(self, g):
        (x,) = self.saved_arrays
        return (g * np.exp(x) + (x == -np.inf),)


class DoubledSoftmax(SoftmaxFunction):
    """softmax with its VJP twice too large."""

    def backward(self, g):
        (dx,) = super().backward(g)
        return (2.0 * dx,)


def test_a_large_constant_output_does_not_hide_a_wrong_gradient():
    # A masked_fill(-1e9) beside the outputs: bit-identical at x + d and x - d, so it adds no
    # rounding and must add no allowance (it used to make a 2x error pass).
    x = RNG.normal(size=(8, 16))
    mask = RNG.random((8, 16)) < 0.5
    check_grads(lambda t: nps.where(mask, -1e9, nps.softmax(t)), x)
    with pytest.raises(AssertionError, match="wrong gradient"):
        check_grads(lambda t: nps.where(mask, -1e9, DoubledSoftmax.apply(t)), x)
