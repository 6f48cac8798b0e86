"""PyTorch's side of the module steps, in a process of its own: run by :mod:`benchmarks.peer`.

Why a process of its own: ``import npsoftmax`` loads GNU OpenMP with a short idle spin (see
``npsoftmax/kernels/numba_threads.py``), and a PyTorch imported after it runs on that runtime.
A training step is many short parallel ops, and PyTorch's took 13-17% longer that way than in a
process without npsoftmax (``AdaptiveLogSoftmaxWithLoss(512, 100000, [2000, 10000, 50000])``
step, two cores, measured).  A PyTorch user runs PyTorch without npsoftmax, so it is timed
without: this script imports neither npsoftmax nor the benchmarks package.

Protocol: one JSON request per line on stdin, one JSON reply per line on stdout.

* ``{"op": "setup", "model": "mos" | "adaptive", ..., "inputs": npz, "weights": npz,
  "threads": n}``: build the model (``torch.manual_seed(0)``), read ``x`` and ``target`` from
  ``inputs``, write the model's parameters to ``weights`` (the parent loads them into
  npsoftmax's module), run one step; reply ``{"loss": ..., "npsoftmax_loaded": false}``.
* ``{"op": "block", "n": n}``: one untimed step, then ``n`` timed ones; reply ``{"times": [...]}``
  in seconds.
* ``{"op": "quit"}``: exit.

A request that fails is answered ``{"error": traceback}``.
"""

from __future__ import annotations

import json
import sys
import time
import traceback

import numpy as np
import torch


class TorchMoS(torch.nn.Module):
    """The mixture of softmaxes written with ``torch.nn`` (zeta's layout, npsoftmax's names)."""

    def __init__(self, k: int, d: int, c: int) -> None:
        super().__init__()
        self.mixture_weights = torch.nn.Linear(d, k)
        self.softmax_layers = torch.nn.ModuleList(torch.nn.Linear(d, c) for _ in range(k))

    def forward(self, h):
        gate = torch.softmax(self.mixture_weights(h), -1)  # (N, K)
        parts = torch.stack([torch.softmax(f(h), -1) for f in self.softmax_layers], 1)
        return (gate.unsqueeze(-1) * parts).sum(1)  # (N, C)


def build(request: dict, x: torch.Tensor, target: torch.Tensor):
    """The model named by ``request`` and a function running one training step on it."""
    torch.manual_seed(0)
    if request["model"] == "mos":
        model = TorchMoS(request["k"], request["d"], request["c"])
        picked = target.unsqueeze(1)

        def loss():
            return -torch.log(model(x).gather(1, picked)).mean()

    elif request["model"] == "adaptive":
        model = torch.nn.AdaptiveLogSoftmaxWithLoss(
            request["d"], request["n"], request["cutoffs"], div_value=request["div_value"]
        )

        def loss():
            return model(x, target).loss

    else:
        raise ValueError(f"unknown model {request['model']!r}")

    def step() -> float:
        model.zero_grad(set_to_none=True)
        value = loss()
        value.backward()
        return float(value.detach())

    return model, step


def serve(requests, replies) -> None:
    """Answer ``requests`` (lines of JSON) on ``replies`` until ``quit`` or the end."""
    step = None
    for line in requests:
        request = json.loads(line)
        try:
            if request["op"] == "quit":
                return
            if request["op"] == "setup":
                torch.set_num_threads(request["threads"])
                data = np.load(request["inputs"])
                x, target = torch.from_numpy(data["x"]), torch.from_numpy(data["target"])
                model, step = build(request, x, target)
                params = {k: v.detach().numpy() for k, v in model.state_dict().items()}
                np.savez(request["weights"], **params)
                reply = {"loss": step(), "npsoftmax_loaded": "npsoftmax" in sys.modules}
            elif request["op"] == "block":
                step()  # untimed: it pays for the other process's threads going idle
                times = []
                for _ in range(request["n"]):
                    start = time.perf_counter()
                    step()
                    times.append(time.perf_counter() - start)
                reply = {"times": times}
            else:
                raise ValueError(f"unknown op {request['op']!r}")
        except Exception:
            reply = {"error": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
