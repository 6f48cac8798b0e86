"""MixtureOfSoftmaxes: the seed's documented behaviour, NumPy oracles, log space, gradients,
validation, PyTorch parity, and a proof that it breaks the softmax bottleneck."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import log_softmax as scipy_log_softmax
from scipy.special import logsumexp as scipy_logsumexp
from scipy.special import softmax as scipy_softmax

import npsoftmax as nps
from npsoftmax.nn import Linear, MixtureOfSoftmaxes
from npsoftmax.testing import check_grads

from ._helpers import as_function


def seed_oracle(mos, x):
    """zeta's formula along the last axis, in NumPy/SciPy: (probabilities, weights)."""
    gate = mos.mixture_weights
    pi = scipy_softmax(x @ gate.weight.data.T + gate.bias.data, axis=-1)
    comps = [scipy_softmax(x @ m.weight.data.T + m.bias.data, axis=-1) for m in mos.softmax_layers]
    return sum(pi[..., k, None] * p for k, p in enumerate(comps)), pi


def paper_oracle(mos, x):
    """Yang et al.'s code (model.py, dropout off) in NumPy, log-probabilities in log space."""
    k, m = mos.num_mixtures, mos.latent_size
    prior = x @ mos.prior.weight.data.T
    latent = np.tanh(x @ mos.latent.weight.data.T + mos.latent.bias.data)
    h = latent.reshape(*x.shape[:-1], k, m)
    logits = h @ mos.decoder.weight.data.T + mos.decoder.bias.data
    log_pi = scipy_log_softmax(prior, axis=-1)
    return scipy_logsumexp(log_pi[..., None] + scipy_log_softmax(logits, axis=-1), axis=-2)


def test_seed_documentation_examples_verbatim():
    x = np.random.default_rng(0).standard_normal((32, 128))
    mos = MixtureOfSoftmaxes(num_mixtures=5, input_size=128, num_classes=10)
    assert mos(x).shape == (32, 10)
    assert MixtureOfSoftmaxes(3, 128, 10)(x).shape == (32, 10)
    big = MixtureOfSoftmaxes(5, 128, 10000, rng=0)(x)
    assert big.shape == (32, 10000)
    np.testing.assert_allclose(big.data.sum(axis=-1), 1.0, rtol=1e-12)


def test_seed_parameters_count_names_and_layout():
    mos = MixtureOfSoftmaxes(5, 128, 10, rng=0)
    assert sum(p.size for p in mos.parameters()) == 7095
    shapes = {name: p.shape for name, p in mos.named_parameters()}
    assert list(shapes)[:4] == [
        "mixture_weights.weight",
        "mixture_weights.bias",
        "softmax_layers.0.weight",
        "softmax_layers.0.bias",
    ]
    assert shapes["mixture_weights.weight"] == (5, 128)
    assert shapes["softmax_layers.4.weight"] == (10, 128) and len(shapes) == 12


@given(
    lead=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3),
    k=st.integers(1, 4),
    d=st.integers(1, 4),
    c=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_seed_matches_the_numpy_oracle_on_any_leading_axes(lead, k, d, c, seed):
    mos = MixtureOfSoftmaxes(k, d, c, rng=seed)
    x = 3 * np.random.default_rng(seed).standard_normal((*lead, d))
    expected, pi = seed_oracle(mos, x)
    out, weights = mos(x, need_weights=True)
    assert out.shape == (*lead, c) and weights.shape == (*lead, k)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(weights.data, pi, rtol=1e-12, atol=1e-300)
    # Invariants: distributions over the last axis, log_prob = log(output).
    assert np.all(out.data >= 0)
    np.testing.assert_allclose(out.data.sum(axis=-1), 1.0, rtol=1e-13)
    np.testing.assert_allclose(weights.data.sum(axis=-1), 1.0, rtol=1e-13)
    np.testing.assert_allclose(mos.log_prob(x).data, np.log(expected), rtol=1e-12, atol=1e-13)


def test_three_d_input_is_normalised_per_time_step_not_over_time():
    # zeta's dim=1 quirk: K = C = T = 3 on (2, 3, 8) gave rows summing to 1.249, 0.917, 0.834.
    mos = MixtureOfSoftmaxes(3, 8, 3, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 3, 8))
    out = mos(x).data
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-13)
    for b in range(2):
        np.testing.assert_array_equal(out[b], mos(x[b]).data)
    np.testing.assert_allclose(mos(x[0, 1]).data, out[0, 1], rtol=1e-15)


def test_weights_on_zero_input_are_softmax_of_the_gate_bias():
    mos = MixtureOfSoftmaxes(4, 6, 3, rng=0)
    _, weights = mos(np.zeros((2, 6)), need_weights=True)
    expected = scipy_softmax(mos.mixture_weights.bias.data)
    np.testing.assert_allclose(weights.data, [expected, expected], rtol=1e-15)


def test_one_mixture_is_exactly_a_softmax_of_one_linear():
    mos = MixtureOfSoftmaxes(1, 5, 7, rng=0)
    x = np.random.default_rng(0).standard_normal((4, 5))
    logits = mos.softmax_layers[0](x)
    np.testing.assert_array_equal(mos(x).data, nps.softmax(logits).data)
    np.testing.assert_array_equal(mos.log_prob(x).data, nps.log_softmax(logits).data)
    single = Linear(5, 7, rng=3)
    mos.softmax_layers[0].load_state_dict(single.state_dict())
    np.testing.assert_array_equal(mos(x).data, nps.softmax(single(x)).data)


def _underflow_model(dtype, gap):
    """Uniform gate; two components giving class 2 a logit ``gap`` and ``gap + 1`` below."""
    mos = MixtureOfSoftmaxes(2, 1, 3, dtype=dtype, rng=0)
    state = {name: np.zeros(p.shape) for name, p in mos.named_parameters()}
    state["softmax_layers.0.bias"] = np.array([0.0, 0.0, -gap])
    state["softmax_layers.1.bias"] = np.array([0.0, 0.0, -gap - 1])
    mos.load_state_dict(state)
    return mos


@pytest.mark.parametrize(("dtype", "gap"), [(np.float64, 800.0), (np.float32, 120.0)])
def test_log_prob_is_finite_where_log_of_the_output_underflows(dtype, gap):
    mos = _underflow_model(dtype, gap)
    x = np.zeros((1, 1), dtype=dtype)
    with np.errstate(divide="ignore"):
        naive = np.log(mos(x).data)
    assert naive[0, 2] == -np.inf
    # P(2) = 1/2 e^-g / (2 + e^-g) + 1/2 e^-(g+1) / (2 + e^-(g+1)); the e^-g in the
    # denominators is below rounding, so log P(2) = -g - 2 log 2 + log(1 + e^-1).
    expected = -gap - 2 * np.log(2.0) + np.log1p(np.exp(-1.0))
    got = mos.log_prob(x)
    assert got.dtype == dtype
    rtol = 1e-15 if dtype == np.float64 else 1e-7
    np.testing.assert_allclose(got.data[0, 2], expected, rtol=rtol)
    np.testing.assert_allclose(got.data[0, :2], np.log(0.5), rtol=rtol)


def test_huge_logits_do_not_overflow():
    mos = MixtureOfSoftmaxes(3, 4, 5, rng=0)
    mos.load_state_dict({k: v * 1e6 for k, v in mos.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((6, 4))
    out, weights = mos(x, need_weights=True)  # a RuntimeWarning here would fail the test
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(weights.data))
    np.testing.assert_allclose(out.data.sum(axis=-1), 1.0, rtol=1e-13)
    log_p = mos.log_prob(x).data
    assert np.all(log_p <= 0) and not np.any(np.isnan(log_p))


def test_float32_model():
    mos = MixtureOfSoftmaxes(3, 4, 5, dtype=np.float32, rng=0)
    assert all(p.dtype == np.float32 for p in mos.parameters())
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    out = mos(x)
    assert out.dtype == np.float32 and mos.log_prob(x).dtype == np.float32
    np.testing.assert_allclose(out.data.sum(axis=-1), 1.0, rtol=1e-6)
    assert mos(x.astype(np.float64)).dtype == np.float64  # promoted, never cast down


@pytest.mark.parametrize("shape", [(2, 2), (2, 3, 2), (2,)])
@pytest.mark.parametrize("parameterization", ["seed", "paper"])
@pytest.mark.parametrize("method", ["forward", "log_prob"])
def test_gradients_match_finite_differences(parameterization, method, shape):
    # forward is the fused mixture op: its batched products over any leading axes, and none.
    kwargs = {"latent_size": 2} if parameterization == "paper" else {}
    mos = MixtureOfSoftmaxes(2, 2, 3, parameterization=parameterization, rng=0, **kwargs)
    f, params = as_function(mos, lambda m, x: getattr(m, method)(x))
    x = np.random.default_rng(1).standard_normal(shape)
    check_grads(f, x, *params)


def test_gradient_of_the_weights_output():
    mos = MixtureOfSoftmaxes(3, 2, 2, rng=0)
    f, params = as_function(mos, lambda m, x: m(x, need_weights=True)[1])
    check_grads(f, np.array([[0.3, -1.2]]), *params)


def test_every_parameter_gets_a_finite_nonzero_gradient_from_the_nll():
    # What zeta's test_parameter_update should have checked (mos.md, quirk 6).
    mos = MixtureOfSoftmaxes(5, 16, 10, rng=0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 16)), rng.integers(0, 10, 32)
    loss = -nps.take_along_axis(mos.log_prob(x), y[:, None], axis=-1).mean()
    loss.backward()
    for name, p in mos.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert np.all(np.isfinite(p.grad)) and np.any(p.grad != 0), name


def test_paper_parameterisation_matches_the_original_code():
    mos = MixtureOfSoftmaxes(3, 4, 6, parameterization="paper", latent_size=2, rng=0)
    shapes = {name: p.shape for name, p in mos.named_parameters()}
    assert shapes == {
        "prior.weight": (3, 4),
        "latent.weight": (6, 4),
        "latent.bias": (6,),
        "decoder.weight": (6, 2),
        "decoder.bias": (6,),
    }
    x = np.random.default_rng(0).standard_normal((2, 5, 4))
    expected = paper_oracle(mos, x)
    np.testing.assert_allclose(mos.log_prob(x).data, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(mos(x).data, np.exp(expected), rtol=1e-12)
    assert MixtureOfSoftmaxes(2, 4, 3, parameterization="paper").latent_size == 4


def test_paper_with_one_mixture_is_not_a_linear_softmax_but_is_normalised():
    mos = MixtureOfSoftmaxes(1, 3, 4, parameterization="paper", rng=0)
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(mos(x).data.sum(axis=-1), 1.0, rtol=1e-13)
    np.testing.assert_allclose(mos.log_prob(x).data, paper_oracle(mos, x), rtol=1e-12)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((0, 4, 3), {}, ValueError, "num_mixtures must be an integer >= 1, got 0"),
        ((-1, 4, 3), {}, ValueError, "num_mixtures must be an integer >= 1, got -1"),
        ((2, 0, 3), {}, ValueError, "input_size must be an integer >= 1, got 0"),
        ((2, 4, 0), {}, ValueError, "num_classes must be an integer >= 1, got 0"),
        ((2.5, 4, 3), {}, TypeError, "num_mixtures must be an integer, got 2.5"),
        ((True, 4, 3), {}, TypeError, "num_mixtures must be an integer, got True"),
        ((2, "4", 3), {}, TypeError, "input_size must be an integer"),
        ((2, 4, 3), {"parameterization": "zeta"}, ValueError, "'seed' or 'paper', got 'zeta'"),
        ((2, 4, 3), {"parameterization": 1}, TypeError, "parameterization must be"),
        ((2, 4, 3), {"latent_size": 2}, ValueError, "latent_size is only used"),
        (
            (2, 4, 3),
            {"parameterization": "paper", "latent_size": 0},
            ValueError,
            "latent_size must be an integer >= 1",
        ),
        ((2, 4, 3), {"dtype": np.float16}, TypeError, "dtype must be numpy.float64"),
        ((2, 4, 3), {"rng": "0"}, TypeError, "rng must be"),
    ],
)
def test_invalid_arguments_name_the_argument(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        MixtureOfSoftmaxes(*args, **kwargs)


def test_invalid_input():
    mos = MixtureOfSoftmaxes(2, 4, 3, rng=0)
    with pytest.raises(
        ValueError, match=r"last axis has size 5 \(shape \(2, 5\)\).*input_size is 4"
    ):
        mos(np.ones((2, 5)))
    with pytest.raises(ValueError, match="input_size"):
        mos.log_prob(np.ones(3))
    with pytest.raises(TypeError, match="need_weights must be True or False"):
        mos(np.ones(4), need_weights="yes")


def test_repr():
    mos = MixtureOfSoftmaxes(2, 4, 3, rng=0)
    assert repr(mos).startswith(
        "MixtureOfSoftmaxes(\n  num_mixtures=2, input_size=4, num_classes=3\n"
        "  (mixture_weights): Linear(in_features=4, out_features=2, bias=True)\n"
        "  (softmax_layers): ModuleList(\n"
    )
    paper = MixtureOfSoftmaxes(2, 4, 3, parameterization="paper", latent_size=5)
    assert "parameterization='paper', latent_size=5" in repr(paper)


def _train(num_mixtures, x, q, steps=300):
    """Adam on the cross-entropy of the target distributions ``q``; returns (KL, log P)."""
    mos = MixtureOfSoftmaxes(num_mixtures, x.shape[1], q.shape[1], rng=1)
    opt = nps.optim.Adam(mos.parameters(), lr=0.05)
    with nps.use_backend("numpy"):  # tiny arrays: the serial twins are the quick ones
        for _ in range(steps):
            opt.zero_grad()
            loss = -(mos.log_prob(x) * q).sum() / len(x)
            loss.backward()
            opt.step()
        log_p = mos.log_prob(x).data
    kl = float(np.mean(np.sum(q * (np.log(q) - log_p), axis=-1)))
    return kl, log_p


def test_mixture_breaks_the_softmax_bottleneck():
    # 32 contexts with 3-dimensional inputs and 16 classes; the target log-probability matrix
    # is random, so of rank 16 (full), far above input_size + 2 = 5, the most a softmax of an
    # affine map can reach.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3))
    q = scipy_softmax(2.0 * rng.standard_normal((32, 16)), axis=-1)
    assert np.linalg.matrix_rank(np.log(q)) == 16
    kl_softmax, log_p_softmax = _train(1, x, q)
    kl_mos, log_p_mos = _train(4, x, q)
    # The same optimiser, steps and seed: the mixture gets much closer to the targets.
    assert kl_mos < 0.5 * kl_softmax, (kl_mos, kl_softmax)
    # The bottleneck itself: log_softmax(X W^T + 1 b^T) = [X 1] [W b]^T - lse 1^T has rank at
    # most d + 2 = 5 (d + 1 without the bias, as in the paper); the mixture's is not limited.
    assert np.linalg.matrix_rank(log_p_softmax, tol=1e-8) <= 5
    assert np.linalg.matrix_rank(log_p_mos, tol=1e-8) > 5


def _torch_seed_module(torch, k, d, c):
    """zeta's MixtureOfSoftmaxes, with the softmax on the last axis (dim=1 for 2-D input)."""

    class TorchMoS(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mixture_weights = torch.nn.Linear(d, k, dtype=torch.float64)
            self.softmax_layers = torch.nn.ModuleList(
                [torch.nn.Linear(d, c, dtype=torch.float64) for _ in range(k)]
            )

        def forward(self, x):
            pi = torch.softmax(self.mixture_weights(x), dim=-1)
            comps = torch.stack([torch.softmax(m(x), dim=-1) for m in self.softmax_layers], -2)
            return torch.sum(pi.unsqueeze(-1) * comps, dim=-2)

    return TorchMoS()


@pytest.mark.parity
def test_pytorch_state_dict_loads_and_everything_agrees():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = _torch_seed_module(torch, 3, 4, 5)
    mos = MixtureOfSoftmaxes(3, 4, 5, rng=0)
    mos.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 5, 6)
    xt = torch.tensor(x)
    out_t = ref(xt)
    torch.nn.functional.nll_loss(torch.log(out_t), torch.tensor(y)).backward()
    out = mos(x)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-14, atol=1e-16)
    loss = -nps.take_along_axis(mos.log_prob(x), y[:, None], axis=-1).mean()
    loss.backward()
    grads = {k: v.grad.numpy() for k, v in ref.named_parameters()}
    for name, p in mos.named_parameters():
        np.testing.assert_allclose(p.grad, grads[name], rtol=1e-10, atol=1e-14, err_msg=name)


@pytest.mark.parity
def test_pytorch_paper_module_agrees():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    k, d, m, c = 3, 4, 2, 5
    prior = torch.nn.Linear(d, k, bias=False, dtype=torch.float64)
    latent = torch.nn.Linear(d, k * m, dtype=torch.float64)
    decoder = torch.nn.Linear(m, c, dtype=torch.float64)
    mos = MixtureOfSoftmaxes(k, d, c, parameterization="paper", latent_size=m, rng=0)
    state = {
        f"{n}.{key}": v.detach().numpy()
        for n, mod in [("prior", prior), ("latent", latent), ("decoder", decoder)]
        for key, v in mod.state_dict().items()
    }
    mos.load_state_dict(state)
    x = np.random.default_rng(0).standard_normal((6, d))
    xt = torch.tensor(x)
    # model.py: h = tanh(latent(g)).view(-1, K, d); prob = sum_k pi_k softmax(decoder(h_k)).
    h = torch.tanh(latent(xt)).view(-1, k, m)
    probs = torch.softmax(decoder(h), dim=-1)
    pi = torch.softmax(prior(xt), dim=-1)
    expected = (pi.unsqueeze(-1) * probs).sum(1).detach().numpy()
    np.testing.assert_allclose(mos(x).data, expected, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("lead", [(), (4,), (2, 3)])
def test_fused_mixture_equals_its_composite_twin_in_value_and_gradient(lead):
    # MixtureFunction against sum_k pi_k softmax(z_k) through the engine (design.md).
    from npsoftmax.nn.mixture import MixtureFunction

    rng = np.random.default_rng(6)
    pi = nps.softmax(nps.tensor(rng.standard_normal((*lead, 3)), requires_grad=True), axis=-1)
    z = nps.tensor(3 * rng.standard_normal((*lead, 3, 5)), requires_grad=True)
    g = rng.standard_normal((*lead, 5))
    fused = MixtureFunction.apply(pi, z)
    twin = nps.sum(nps.reshape(pi, (*pi.shape, 1)) * nps.softmax(z, axis=-1), axis=-2)
    np.testing.assert_allclose(fused.data, twin.data, rtol=1e-14, atol=1e-15)
    grads = []
    for y in (fused, twin):
        z.grad = None
        pi.retain_grad()
        pi.grad = None
        y.backward(g)
        grads.append((pi.grad.copy(), z.grad.copy()))
    for a, c in zip(*grads):
        np.testing.assert_allclose(a, c, rtol=1e-13, atol=1e-15)
