"""512-bit vectors on AVX-512 CPUs: the rule in the kernel sources, and the code it gives."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import subprocess
import sys
import textwrap

import pytest

from npsoftmax.kernels import numba_vectors

SKYLAKE_SP = "+avx,+avx2,+fma,+avx512f,+avx512dq,+avx512bw,+avx512vl,+avx512cd"
COMPILED = ["numba_cpu", "numba_rows", "numba_reduce", "numba_exp", "numba_sparse", "numba_mixture"]


def test_the_narrow_string_adds_the_flag_once():
    narrow = numba_vectors.narrow_vector_features(SKYLAKE_SP)
    assert narrow == SKYLAKE_SP + ",+prefer-256-bit"
    assert numba_vectors.narrow_vector_features(narrow) == narrow  # idempotent
    # A -prefer-256-bit (the old opt-in) is replaced, not contradicted.
    assert numba_vectors.narrow_vector_features("+avx512f,-prefer-256-bit") == (
        "+avx512f,+prefer-256-bit"
    )
    assert numba_vectors.narrow_vector_features().startswith(
        numba_vectors.host_features().rstrip(",")
    )


def test_only_the_plus_flag_asks_for_narrow_vectors():
    assert numba_vectors.narrow_requested(SKYLAKE_SP + ",+prefer-256-bit")
    assert not numba_vectors.narrow_requested(SKYLAKE_SP)
    assert not numba_vectors.narrow_requested(SKYLAKE_SP + ",-prefer-256-bit")
    assert not numba_vectors.narrow_requested("")


def test_this_process_reports_its_width():
    width = numba_vectors.vector_width()
    has_avx512 = "+avx512f" in numba_vectors.host_features().split(",")
    if "NUMBA_CPU_FEATURES" not in os.environ:
        assert width.startswith("512-bit") == has_avx512


def _calls_wide_vectors_first(body: list[ast.stmt]) -> bool:
    """Whether a body's first statement (after a docstring) is ``wide_vectors()``."""
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    first = body[0] if body else None
    return (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Call)
        and getattr(first.value.func, "id", None) == "wide_vectors"
    )


def _loop_functions():
    """(module, name, function object, AST) of every module-level function holding a loop."""
    for name in COMPILED:
        module = importlib.import_module(f"npsoftmax.kernels.{name}")
        for node in ast.parse(inspect.getsource(module)).body:
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(n, ast.For) for n in ast.walk(node)
            ):
                yield name, node.name, getattr(module, node.name), node


def test_every_compiled_loop_asks_for_wide_vectors():
    """The rule of numba_vectors: a function compiled on its own with a loop calls
    ``wide_vectors()`` first, and so does every ``prange`` body; Numba-inlined helpers don't."""
    missing, checked = [], 0
    for module, name, obj, node in _loop_functions():
        options = getattr(obj, "targetoptions", {})
        if options.get("inline") == "always":
            continue  # its code becomes part of a caller that follows the rule
        if options.get("parallel"):
            bodies = [
                loop.body
                for loop in ast.walk(node)
                if isinstance(loop, ast.For)
                and isinstance(loop.iter, ast.Call)
                and getattr(loop.iter.func, "id", None) == "prange"
            ]
            assert bodies, f"{module}.{name} is parallel without a prange loop"
        else:
            bodies = [node.body]  # a serial kernel, a helper of its own, an overload's code
        checked += len(bodies)
        missing += [f"{module}.{name}" for body in bodies if not _calls_wide_vectors_first(body)]
    assert checked >= 30  # the kernels of numba_cpu, numba_sparse, numba_mixture and helpers
    assert not missing, f"loops compiled without wide_vectors(): {missing}"


def _register_uses(features: str, tmp_path) -> dict[str, list[int]]:
    """Compile (never run) some kernels for Skylake-SP; their (ymm, zmm) register counts."""
    script = textwrap.dedent(
        """
        import json
        from numba import types
        from npsoftmax.kernels import numba_cpu, numba_mixture
        f32, f64 = types.float32, types.float64
        cases = {
            "softmax f32": (numba_cpu._softmax_par, (f32[:, ::1], f32[:, ::1])),
            "softmax f32 serial": (numba_cpu._softmax_ser, (f32[:, ::1], f32[:, ::1])),
            "softmax f64": (numba_cpu._softmax_par, (f64[:, ::1], f64[:, ::1])),
            "log_softmax f32": (numba_cpu._log_softmax_par, (f32[:, ::1], f32[:, ::1])),
            "mixture f32": (numba_mixture._mixture_par,
                            (f32[:, ::1], f32[:, :, ::1], f32[:, :, ::1], f32[:, ::1])),
        }
        counts = {}
        for label, (kernel, sig) in cases.items():
            kernel.compile(sig)
            asm = kernel.inspect_asm(sig)
            counts[label] = [asm.count("ymm"), asm.count("zmm")]
        print(json.dumps(counts))
        """
    )
    env = {
        **os.environ,
        "NUMBA_CPU_NAME": "skylake-avx512",
        "NUMBA_CPU_FEATURES": features,
        "NUMBA_CACHE_DIR": str(tmp_path / features.split(",")[-1]),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
def test_the_kernels_use_zmm_registers_unless_told_not_to(tmp_path):
    """LLVM's own tuning for Skylake-SP stays at 256 bits; the kernels' attribute goes to 512,
    and ``+prefer-256-bit`` in Numba's features takes it back (counted on the machine code)."""
    wide = _register_uses(SKYLAKE_SP, tmp_path)
    narrow = _register_uses(numba_vectors.narrow_vector_features(SKYLAKE_SP), tmp_path)
    for label, (ymm, zmm) in wide.items():
        # A few ymm stay: the Python wrapper's copies, float64 -> float32 conversions.
        assert zmm > 4 * ymm, (label, ymm, zmm)
    for label, (ymm, zmm) in narrow.items():
        assert ymm > 4 * zmm, (label, ymm, zmm)
