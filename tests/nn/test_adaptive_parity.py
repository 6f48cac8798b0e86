"""AdaptiveLogSoftmaxWithLoss against torch.nn.AdaptiveLogSoftmaxWithLoss with the same weights:
output, loss, log_prob, predict and every parameter gradient (skipped without torch)."""

import numpy as np
import pytest

from npsoftmax.nn.adaptive import AdaptiveLogSoftmaxWithLoss as ASM

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.parity

CONFIGS = [
    # (in_features, n_classes, cutoffs, div_value, head_bias)
    (16, 20, [5, 10, 15], 2.0, False),
    (16, 20, [5, 10, 15], 2, True),
    (8, 10, [4, 8], 1.5, True),
    (10, 7, [1], 4.0, False),
    (6, 30, [3, 9, 20], 0.5, True),
]


def pair(config, dtype, seed):
    d, n_classes, cutoffs, div, head_bias = config
    torch.manual_seed(seed)
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(d, n_classes, cutoffs, div, head_bias)
    theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = ASM(d, n_classes, cutoffs, div_value=div, head_bias=head_bias, dtype=dtype, rng=0)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def grads(ours, theirs):
    mine = {k: p.grad for k, p in ours.named_parameters()}
    other = {k: p.grad for k, p in theirs.named_parameters()}
    assert mine.keys() == other.keys()
    return [(k, mine[k], other[k]) for k in mine]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_loss_and_gradients_match_torch(config, dtype):
    ours, theirs = pair(config, dtype, seed=1)
    tol = {"rtol": 1e-12, "atol": 1e-14} if dtype == np.float64 else {"rtol": 2e-5, "atol": 2e-6}
    rng = np.random.default_rng(2)
    n_classes = config[1]
    x = rng.standard_normal((9, config[0])).astype(dtype)
    for y in (rng.integers(0, n_classes, 9), np.zeros(9, int), np.full(9, n_classes - 1)):
        ours.zero_grad()
        theirs.zero_grad()
        out, loss = ours(x, y)
        tout, tloss = theirs(torch.tensor(x), torch.tensor(y))
        np.testing.assert_allclose(out.data, tout.detach().numpy(), **tol)
        np.testing.assert_allclose(loss.data, tloss.detach().numpy(), **tol)
        loss.backward()
        tloss.backward()
        for name, g, tg in grads(ours, theirs):
            if tg is None:  # a tail no target reached: no gradient on either side
                assert g is None, name
            else:
                np.testing.assert_allclose(g, tg.numpy(), err_msg=name, **tol)
    # the unbatched form
    out, loss = ours(x[0], int(y[0]))
    tout, tloss = theirs(torch.tensor(x[0]), torch.tensor(int(y[0])))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), **tol)


@pytest.mark.parametrize("config", CONFIGS)
def test_log_prob_gradients_and_predict_match_torch(config):
    ours, theirs = pair(config, np.float64, seed=3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((12, config[0])) * 2
    xt = torch.tensor(x, requires_grad=True)
    lp = ours.log_prob(x)
    tlp = theirs.log_prob(xt)
    np.testing.assert_allclose(lp.data, tlp.detach().numpy(), rtol=1e-12, atol=1e-13)
    u = rng.standard_normal(lp.shape)
    lp.backward(u)
    tlp.backward(torch.tensor(u))
    for name, g, tg in grads(ours, theirs):
        np.testing.assert_allclose(g, tg.numpy(), rtol=1e-11, atol=1e-13, err_msg=name)
    np.testing.assert_array_equal(ours.predict(x), theirs.predict(torch.tensor(x)).numpy())


def test_input_gradient_matches_torch():
    import npsoftmax as nps

    ours, theirs = pair(CONFIGS[2], np.float64, seed=5)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((7, 8))
    y = rng.integers(0, 10, 7)
    xo = nps.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ours(xo, y).loss.backward()
    theirs(xt, torch.tensor(y)).loss.backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_large_logits_example_from_the_notes():
    ours, theirs = pair((4, 6, [2, 4], 1.0, True), np.float64, seed=7)
    for m in (ours, theirs):
        sd = {k: np.asarray(v) for k, v in ours.state_dict().items()}
        sd["head.bias"] = np.array([1000.0, 0.0, -1000.0, 0.0])
        if m is ours:
            m.load_state_dict(sd)
        else:
            m.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    x = np.zeros((1, 4))
    lp = ours.log_prob(x).data
    np.testing.assert_allclose(lp, theirs.log_prob(torch.tensor(x)).detach().numpy(), rtol=1e-14)
    assert lp[0, 0] == 0.0 and lp[0, 1] == -1000.0
