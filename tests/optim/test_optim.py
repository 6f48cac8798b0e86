"""SGD and Adam: hand-computed steps, state rules, dtypes, validation, and PyTorch's steps."""

import numpy as np
import pytest

import npsoftmax as nps
from npsoftmax.optim import SGD, Adam


def run(opt_cls, p0, grads, **options):
    """Apply ``opt_cls`` to one parameter starting at ``p0`` with the given gradient sequence."""
    p = nps.tensor(p0, requires_grad=True)
    opt = opt_cls([p], **options)
    trajectory = []
    for g in grads:
        p.grad = np.array(g, dtype=p.dtype)
        opt.step()
        trajectory.append(p.data.copy())
    return trajectory


P0 = np.array([1.0, -2.0, 0.5])
GRADS = [np.array([0.3, -1.0, 2.0]), np.array([-0.5, 0.25, 1.0]), np.array([0.1, 0.1, -3.0])]


def test_plain_sgd_with_weight_decay():
    got = run(SGD, P0, GRADS, lr=0.1, weight_decay=0.01)
    p = P0.copy()
    for g, q in zip(GRADS, got):
        p = p - 0.1 * (g + 0.01 * p)
        np.testing.assert_allclose(q, p, rtol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_buffer_starts_at_the_gradient(nesterov):
    mu, tau = 0.9, 0.0 if nesterov else 0.3
    got = run(SGD, P0, GRADS, lr=0.1, momentum=mu, dampening=tau, nesterov=nesterov)
    p, b = P0.copy(), None
    for g, q in zip(GRADS, got):
        b = g.copy() if b is None else mu * b + (1 - tau) * g  # first buffer: undamped g
        p = p - 0.1 * (g + mu * b if nesterov else b)
        np.testing.assert_allclose(q, p, rtol=1e-15)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_matches_the_paper_with_bias_correction(amsgrad):
    lr, b1, b2, eps, wd = 0.01, 0.8, 0.95, 1e-6, 0.1
    options = {"betas": (b1, b2), "eps": eps, "weight_decay": wd, "amsgrad": amsgrad}
    got = run(Adam, P0, GRADS, lr=lr, **options)
    p, m, v, vmax = P0.copy(), 0.0, 0.0, 0.0
    for k, (g, q) in enumerate(zip(GRADS, got), start=1):
        d = g + wd * p
        m = b1 * m + (1 - b1) * d
        v = b2 * v + (1 - b2) * d**2
        vmax = np.maximum(vmax, v)
        m_hat, v_hat = m / (1 - b1**k), (vmax if amsgrad else v) / (1 - b2**k)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(q, p, rtol=1e-14)


def test_first_adam_step_is_lr_times_sign():
    (p,) = run(Adam, P0, GRADS[:1], lr=0.05, eps=0.0)
    np.testing.assert_allclose(p, P0 - 0.05 * np.sign(GRADS[0]), rtol=1e-15)


@pytest.mark.parametrize("opt_cls", [SGD, Adam])
def test_state_rules_generator_params_and_dtype(opt_cls):
    model_w = nps.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    frozen = nps.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = (
        opt_cls((t for t in (model_w, frozen)), lr=0.1, momentum=0.5)
        if opt_cls is SGD
        else (opt_cls((t for t in (model_w, frozen)), lr=0.1))
    )
    for _ in range(3):
        opt.zero_grad()
        (model_w * model_w).sum().backward()
        opt.step()
    assert model_w.dtype == np.float32 and model_w.grad.dtype == np.float32
    assert np.all(model_w.data < 1)
    np.testing.assert_array_equal(frozen.data, 1.0)  # grad None: skipped, no state
    assert opt.state[frozen] == {}
    opt.zero_grad()
    assert model_w.grad is None
    model_w.grad = np.ones(2, dtype=np.float32)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(model_w.grad, 0.0)


def test_step_runs_the_closure_and_returns_its_loss():
    w = nps.tensor([3.0], requires_grad=True)
    opt = SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 9.0
    np.testing.assert_allclose(w.data, [1.5])  # 3 - 0.25 * 6


def test_optimisers_minimise_a_quadratic():
    rng = np.random.default_rng(0)
    target = rng.standard_normal(5)
    for opt_cls, options in ((SGD, {"lr": 0.1, "momentum": 0.9}), (Adam, {"lr": 0.05})):
        w = nps.tensor(np.zeros(5), requires_grad=True)
        opt = opt_cls([w], **options)
        for _ in range(300):
            opt.zero_grad()
            ((w - target) * (w - target)).sum().backward()
            opt.step()
        np.testing.assert_allclose(w.data, target, atol=1e-3)


def test_bad_arguments():
    w = nps.tensor([1.0], requires_grad=True)
    for bad in (
        {"lr": -0.1},
        {"lr": np.nan},
        {"lr": 0.1, "momentum": -1},
        {"lr": 1, "weight_decay": -1},
    ):
        with pytest.raises(ValueError, match=next(iter(k for k in bad if k != "lr"), "lr")):
            SGD([w], **bad)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="dampening = 0"):
        SGD([w], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(TypeError, match="lr must be a real number"):
        SGD([w], lr="0.1")
    with pytest.raises(ValueError, match=r"betas\[1\] must be finite, at least 0.0 and below 1.0"):
        Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match=r"betas\[0\]"):
        Adam([w], betas=(-0.1, 0.9))
    with pytest.raises(TypeError, match="betas must be a pair"):
        Adam([w], betas=0.9)
    with pytest.raises(ValueError, match="eps"):
        Adam([w], eps=-1e-8)
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])
    with pytest.raises(TypeError, match="single Tensor"):
        Adam(w)
    with pytest.raises(TypeError, match=r"params\[1\] must be a floating-point Tensor"):
        Adam([w, np.ones(2)])
    with pytest.raises(
        TypeError, match=r"params\[0\] must be a floating-point Tensor, got a Tensor of dtype int64"
    ):
        Adam([nps.tensor([1, 2])])
    with pytest.raises(ValueError, match=r"params\[1\] appears more than once"):
        SGD([w, w], lr=0.1)
    for flag in ("nesterov", "maximize"):
        with pytest.raises(TypeError, match=f"SGD: {flag} must be True or False, got 'False'"):
            SGD([w], lr=0.1, momentum=0.9, **{flag: "False"})  # a truthy string
    for flag in ("amsgrad", "maximize"):
        with pytest.raises(TypeError, match=f"Adam: {flag} must be True or False, got 0"):
            Adam([w], **{flag: 0})
    with pytest.raises(ValueError, match=r"params\[0\] is not a leaf Tensor"):
        SGD([w * 2], lr=0.1)  # its update would be lost at the next forward


@pytest.mark.parity
def test_positional_arguments_mean_what_they_mean_in_torch():
    # torch.optim.SGD(params, lr, momentum, dampening, weight_decay, nesterov) and
    # Adam(params, lr, betas, eps, weight_decay, amsgrad): the same values by position.
    torch = pytest.importorskip("torch")
    w = nps.tensor([1.0], requires_grad=True)
    tw = torch.tensor([1.0], requires_grad=True)
    for ours, theirs, args in (
        (SGD, torch.optim.SGD, (0.1, 0.9, 0.2, 0.01, False)),
        (Adam, torch.optim.Adam, (0.1, (0.8, 0.9), 1e-6, 0.01, True)),
    ):
        mine = ours([w], *args).defaults
        ref = theirs([tw], *args).defaults
        assert mine == {k: ref[k] for k in mine}
    assert SGD([w]).lr == torch.optim.SGD([tw]).defaults["lr"] == 1e-3


TORCH_CASES = [
    (SGD, "SGD", {"lr": 0.1}),
    (SGD, "SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.2, "weight_decay": 0.01}),
    (SGD, "SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    (Adam, "Adam", {"lr": 0.01}),
    (Adam, "Adam", {"lr": 0.02, "betas": (0.3, 0.7), "eps": 1e-4, "weight_decay": 0.05}),
    (Adam, "Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
    (SGD, "SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1, "maximize": True}),
    (Adam, "Adam", {"lr": 0.01, "weight_decay": 0.01, "amsgrad": True, "maximize": True}),
]


@pytest.mark.parity
@pytest.mark.parametrize(("ours", "name", "options"), TORCH_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parity_with_torch_optim(ours, name, options, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    shapes = [(3, 4), (4,)]
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    mine = [nps.tensor(a, requires_grad=True) for a in init]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    opt = ours(mine, **options)
    topt = getattr(torch.optim, name)(theirs, foreach=False, **options)
    for step in range(6):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        for i, (a, b, g) in enumerate(zip(mine, theirs, grads)):
            # the second parameter misses every third gradient: it must be skipped alike
            skip = i == 1 and step % 3 == 2
            a.grad = None if skip else g.copy()
            b.grad = None if skip else torch.tensor(g)
        opt.step()
        topt.step()
    # PyTorch's vectorised add/addcmul use fused multiply-adds (its scalar tail does not), so
    # where an update cancels a parameter to near 0 the two differ by a few ulps of the
    # operands, not of the result: hence an absolute tolerance at the parameters' scale.
    ulp = np.finfo(dtype).eps
    for a, b in zip(mine, theirs):
        assert a.dtype == dtype
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=4 * ulp, atol=8 * ulp)
