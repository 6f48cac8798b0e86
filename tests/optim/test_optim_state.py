"""Parameter groups, live hyperparameters, state_dict/load_state_dict (and PyTorch's layout)."""

import numpy as np
import pytest

import npsoftmax as nps
from npsoftmax.optim import SGD, Adam

CONFIGS = [
    (SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    (SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    (Adam, {"lr": 0.01, "weight_decay": 0.01}),
    (Adam, {"lr": 0.01, "amsgrad": True, "betas": (0.8, 0.9)}),
]


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [nps.tensor(rng.standard_normal(s), requires_grad=True) for s in ((3, 4), (4,), (2,))]


def grads_for(step, params):
    rng = np.random.default_rng(100 + step)
    grads = [rng.standard_normal(p.shape) for p in params]
    if step % 3 == 1:
        grads[2] = None  # the last parameter misses some gradients: its state lags
    return grads


def run_steps(opt, params, steps):
    for step in steps:
        for p, g in zip(params, grads_for(step, params)):
            p.grad = g
        opt.step()


def test_live_lr_and_repr_follow_the_param_groups():
    w = nps.tensor([1.0, -2.0], requires_grad=True)
    opt = SGD([w], lr=0.1)
    for group in opt.param_groups:  # what an LR scheduler does
        group["lr"] = 0.5
    w.grad = np.array([1.0, 1.0])
    opt.step()
    np.testing.assert_array_equal(w.data, [0.5, -2.5])
    assert "lr=0.5" in repr(opt) and opt.lr == 0.5
    opt.lr = 0.25  # attribute access writes the same place (and is checked)
    assert opt.param_groups[0]["lr"] == 0.25 and "lr=0.25" in repr(opt)
    w.grad = np.array([1.0, 1.0])
    opt.step()
    np.testing.assert_array_equal(w.data, [0.25, -2.75])
    with pytest.raises(ValueError, match=r"SGD: param_groups\[0\]: lr must be finite"):
        opt.lr = -1.0
    assert opt.lr == 0.25 and opt.defaults["lr"] == 0.1  # defaults: the template for new groups
    assert repr(opt) == (
        "SGD(1 parameter, lr=0.25, momentum=0.0, dampening=0.0, weight_decay=0.0, "
        "nesterov=False, maximize=False)"
    )
    with pytest.raises(AttributeError, match="no attribute 'lrr'"):
        _ = opt.lrr


def test_parameter_groups_like_torch():
    w, b = nps.tensor([1.0, 2.0], requires_grad=True), nps.tensor([3.0], requires_grad=True)
    opt = SGD([{"params": [w]}, {"params": b, "lr": 0.5, "name": "bias"}], lr=0.1, momentum=0.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["name"] == "bias"
    assert repr(opt).startswith("SGD(group 0: 1 parameter, lr=0.1, ")
    assert "; group 1: 1 parameter, lr=0.5, " in repr(opt)
    with pytest.raises(AttributeError, match=r"the parameter groups differ \(\[0.1, 0.5\]\)"):
        _ = opt.lr
    w.grad, b.grad = np.array([1.0, 1.0]), np.array([1.0])
    opt.step()
    np.testing.assert_allclose(w.data, [0.9, 1.9])
    np.testing.assert_allclose(b.data, [2.5])
    opt.lr = 0.0  # every group
    assert [g["lr"] for g in opt.param_groups] == [0.0, 0.0]
    c = nps.tensor([5.0], requires_grad=True)
    opt.add_param_group({"params": [c], "momentum": 0.9})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.state[c] == {}  # filled from defaults
    opt.zero_grad()
    assert w.grad is None and b.grad is None


def test_bad_parameter_groups():
    w, b = nps.tensor([1.0], requires_grad=True), nps.tensor([2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"SGD: param_groups\[1\]: lr must be finite"):
        SGD([{"params": [w]}, {"params": [b], "lr": -1.0}])
    with pytest.raises(
        ValueError, match=r"SGD: param_groups\[1\]: params\[0\] is already in param_groups\[0\]"
    ):
        SGD([{"params": [w]}, {"params": [w]}])
    with pytest.raises(ValueError, match=r"Adam: param_groups\[0\] has no 'params' entry"):
        Adam([{"lr": 0.1}])
    with pytest.raises(TypeError, match="not a set"):
        Adam([{"params": {w}}])
    with pytest.raises(TypeError, match=r"param_groups\[1\]: params\[0\] must be a floating-point"):
        Adam([{"params": [w]}, {"params": [nps.tensor([1, 2])]}])
    with pytest.raises(ValueError, match=r"param_groups\[1\]: nesterov=True needs momentum > 0"):
        SGD([{"params": [w]}, {"params": [b], "momentum": 0.0}], momentum=0.9, nesterov=True)
    with pytest.raises(ValueError, match=r"decoupled_weight_decay=True is a torch\.optim option"):
        Adam([{"params": [w], "decoupled_weight_decay": True}])
    opt = Adam([w])
    with pytest.raises(TypeError, match=r"Adam: param_groups\[1\] must be a dict"):
        opt.add_param_group([b])


@pytest.mark.parametrize(("opt_cls", "options"), CONFIGS)
def test_resuming_from_a_state_dict_is_bitwise_identical(opt_cls, options):
    params = make_params()
    opt = opt_cls([{"params": params[:2]}, {"params": params[2:], "lr": 0.02}], **options)
    run_steps(opt, params, range(4))
    saved_params = [p.data.copy() for p in params]
    saved = opt.state_dict()
    run_steps(opt, params, range(4, 10))  # must not change `saved` (copies)

    fresh = [nps.tensor(a, requires_grad=True) for a in saved_params]
    opt2 = opt_cls([{"params": fresh[:2]}, {"params": fresh[2:]}], lr=123.0)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == 0.02 and opt2.param_groups[0]["lr"] == options["lr"]
    run_steps(opt2, fresh, range(4, 10))
    for a, b in zip(params, fresh):
        np.testing.assert_array_equal(a.data, b.data)
    assert opt_cls is SGD or opt2.state[fresh[0]]["step"] == 10


def test_state_dict_layout_and_copies():
    params = make_params()
    opt = Adam(params, lr=0.01, amsgrad=True)
    run_steps(opt, params, range(2))  # params[2] misses step 1: its count is 1
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sd["param_groups"] == [
        {
            "lr": 0.01,
            "betas": (0.9, 0.999),
            "eps": 1e-8,
            "weight_decay": 0.0,
            "amsgrad": True,
            "maximize": False,
            "params": [0, 1, 2],
        }
    ]
    assert sorted(sd["state"]) == [0, 1, 2]
    assert sd["state"][0]["step"] == 2 and sd["state"][2]["step"] == 1
    assert set(sd["state"][1]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    buf = sd["state"][0]["exp_avg"]
    assert isinstance(buf, np.ndarray) and not np.shares_memory(
        buf, opt.state[params[0]]["exp_avg"]
    )
    sd["param_groups"][0]["lr"] = 1.0
    assert opt.lr == 0.01
    # loading copies too: changing the dict afterwards changes nothing
    opt2 = Adam(make_params())
    opt2.load_state_dict(sd)
    sd["state"][0]["exp_avg"][...] = 7.0
    sd["param_groups"][0]["betas"] = (0.1, 0.1)
    assert not np.any(opt2.state[opt2.param_groups[0]["params"][0]]["exp_avg"] == 7.0)
    assert opt2.param_groups[0]["betas"] == (0.9, 0.999) and opt2.lr == 1.0
    # SGD without momentum has no state; a parameter not in "state" starts afresh
    sgd = SGD(params, lr=0.1, momentum=0.9)
    assert sgd.state_dict()["state"] == {}
    run_steps(sgd, params, range(1))
    assert sorted(sgd.state_dict()["state"]) == [0, 1, 2]
    sgd.load_state_dict(SGD(params, lr=0.1, momentum=0.9).state_dict())
    assert all(s == {} for s in sgd.state.values())


def test_load_state_dict_float32_buffers_and_step_forms():
    w = nps.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = Adam([w])
    entry = {
        "step": np.array(3.0, dtype=np.float32),
        "exp_avg": np.ones(3),
        "exp_avg_sq": [1, 2, 3],
    }
    sd = {"state": {0: entry}, "param_groups": [{**opt.state_dict()["param_groups"][0]}]}
    opt.load_state_dict(sd)
    state = opt.state[w]
    assert state["step"] == 3 and type(state["step"]) is int
    assert state["exp_avg"].dtype == np.float32 and state["exp_avg_sq"].dtype == np.float32


def test_load_state_dict_validates_and_names_the_bad_entry():
    params = make_params()
    opt = Adam(params, lr=0.01)
    run_steps(opt, params, range(2))
    good = opt.state_dict()
    before = [
        {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in s.items()}
        for s in opt.state.values()
    ]

    def broken(change):
        sd = opt.state_dict()
        change(sd)
        return sd

    cases = [
        (
            lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])),
            ValueError,
            "has 2 parameter groups, this optimizer 1",
        ),
        (
            lambda sd: sd["param_groups"][0]["params"].pop(),
            ValueError,
            r"param_groups\[0\] has 2 parameters, this optimizer's group 0 has 3",
        ),
        (
            lambda sd: sd["param_groups"][0].pop("eps"),
            ValueError,
            r"param_groups\[0\] lacks the hyperparameter\(s\) eps",
        ),
        (
            lambda sd: sd["param_groups"][0].update(lr=-1.0),
            ValueError,
            r"param_groups\[0\]: lr must be finite",
        ),
        (
            lambda sd: sd["param_groups"][0].update(params=[0, 0, 1]),
            ValueError,
            "parameter index 0 appears more than once",
        ),
        (lambda sd: sd["state"].update({7: {}}), ValueError, r"state\[7\] is for no parameter"),
        (
            lambda sd: sd["state"][1].update(exp_avg=np.zeros(5)),
            ValueError,
            r"state\[1\]\['exp_avg'\] must be a real array of its parameter's shape \(4,\)",
        ),
        (
            lambda sd: sd["state"][1].pop("exp_avg_sq"),
            ValueError,
            r"state\[1\] has missing \['exp_avg_sq'\] entries",
        ),
        (
            lambda sd: sd["state"][0].update(momentum_buffer=np.zeros((3, 4))),
            ValueError,
            r"state\[0\] has unknown \['momentum_buffer'\]",
        ),
        (
            lambda sd: sd["state"][0].update(step=2.5),
            ValueError,
            r"state\[0\]\['step'\] must be a whole number",
        ),
        (lambda sd: sd.pop("state"), TypeError, "keys 'state' and 'param_groups'"),
    ]
    for change, error, message in cases:
        with pytest.raises(error, match=message):
            opt.load_state_dict(broken(change))
    # nothing changed by a refused load
    for s, old in zip(opt.state.values(), before):
        assert s.keys() == old.keys()
        for k in s:
            np.testing.assert_array_equal(s[k], old[k])
    assert opt.state_dict()["param_groups"] == good["param_groups"]


TORCH_STATE_CASES = [
    (SGD, "SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    (Adam, "Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
]


@pytest.mark.parity
@pytest.mark.parametrize(("ours", "name", "options"), TORCH_STATE_CASES)
def test_state_dict_matches_torch_and_loads_its_state(ours, name, options):
    torch = pytest.importorskip("torch")
    params = make_params()
    tparams = [torch.tensor(p.data, requires_grad=True) for p in params]
    opt = ours([{"params": params[:2]}, {"params": params[2:], "lr": 0.02}], **options)
    topt = getattr(torch.optim, name)(
        [{"params": tparams[:2]}, {"params": tparams[2:], "lr": 0.02}], foreach=False, **options
    )
    for step in range(3):
        for p, t, g in zip(params, tparams, grads_for(step, params)):
            p.grad, t.grad = g, None if g is None else torch.tensor(g)
        opt.step()
        topt.step()
    mine, theirs = opt.state_dict(), topt.state_dict()
    # the same structure: indices, state entries, and our hyperparameters with torch's values
    assert mine["state"].keys() == theirs["state"].keys()
    for i, s in mine["state"].items():
        assert s.keys() == theirs["state"][i].keys()
        for k, v in s.items():
            np.testing.assert_allclose(v, np.asarray(theirs["state"][i][k]), rtol=1e-12)
    assert len(mine["param_groups"]) == len(theirs["param_groups"])
    for g, tg in zip(mine["param_groups"], theirs["param_groups"]):
        assert g == {k: tg[k] for k in g}
        assert set(tg) - set(g) <= {
            "foreach",
            "fused",
            "capturable",
            "differentiable",
            "decoupled_weight_decay",
        }

    # torch's state dict, tensors turned into arrays, continues exactly as torch does
    def to_numpy(x):
        return x.numpy() if isinstance(x, torch.Tensor) else x

    converted = {
        "state": {i: {k: to_numpy(v) for k, v in s.items()} for i, s in theirs["state"].items()},
        "param_groups": theirs["param_groups"],
    }
    fresh = [nps.tensor(t.detach().numpy().copy(), requires_grad=True) for t in tparams]
    opt2 = ours([{"params": fresh[:2]}, {"params": fresh[2:]}])
    opt2.load_state_dict(converted)
    for step in range(3, 8):
        for p, t, g in zip(fresh, tparams, grads_for(step, fresh)):
            p.grad, t.grad = g, None if g is None else torch.tensor(g)
        opt2.step()
        topt.step()
    ulp = np.finfo(np.float64).eps
    for p, t in zip(fresh, tparams):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=4 * ulp, atol=8 * ulp)
