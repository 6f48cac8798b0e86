"""PyTorch's module steps in a child process without npsoftmax (why: ``torch_steps.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).with_name("torch_steps.py")


class TorchSteps:
    """One PyTorch model in a child process, stepped on request.

    ``TorchSteps(spec, x, target, threads)`` starts ``torch_steps.py``, which builds the model
    of ``spec`` (``{"model": "mos", "k": .., "d": .., "c": ..}`` or ``{"model": "adaptive",
    "d": .., "n": .., "cutoffs": [..], "div_value": ..}``) on ``threads`` threads and runs one
    step on ``x`` and ``target``.  Then ``loss`` is that step's loss, ``weights`` its parameters
    by name (NumPy arrays), ``npsoftmax_loaded`` whether the child has npsoftmax (it should not),
    and :meth:`timed_block` times steps there, as
    :func:`benchmarks.timing.block_medians` asks.  A context manager: leaving it ends the child.
    """

    def __init__(self, spec: dict, x: np.ndarray, target: np.ndarray, threads: int) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="npsoftmax-bench-")
        inputs, weights = Path(self._dir.name, "inputs.npz"), Path(self._dir.name, "weights.npz")
        np.savez(inputs, x=x, target=target)
        self._proc = subprocess.Popen(
            [sys.executable, str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            request = {"op": "setup", **spec, "threads": threads}
            reply = self._ask({**request, "inputs": str(inputs), "weights": str(weights)})
            self.loss = float(reply["loss"])
            self.npsoftmax_loaded = bool(reply["npsoftmax_loaded"])
            with np.load(weights) as saved:
                self.weights = {name: saved[name] for name in saved.files}
        except BaseException:
            self.close()
            raise

    def _ask(self, request: dict) -> dict:
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the PyTorch step process ended (exit code {self._proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"the PyTorch step process failed:\n{reply['error']}")
        return reply

    def timed_block(self, per_block: int) -> list[float]:
        """One untimed step, then ``per_block`` timed ones, in the child: their times (s)."""
        return self._ask({"op": "block", "n": per_block})["times"]

    def close(self) -> None:
        """End the child process and remove its files."""
        if self._proc.poll() is None:
            try:
                self._proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self._proc.stdin.close()
                self._proc.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._proc.stdout.close()
        self._dir.cleanup()

    def __enter__(self) -> TorchSteps:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
