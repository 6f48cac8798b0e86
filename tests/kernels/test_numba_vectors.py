"""512-bit vectors on AVX-512 CPUs: the feature string, and the code Numba then generates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from npsoftmax.kernels import numba_vectors

SKYLAKE_SP = "+avx,+avx2,+fma,+avx512f,+avx512dq,+avx512bw,+avx512vl,+avx512cd"


def test_an_avx512_host_gets_the_wide_flag_once():
    wide = numba_vectors.wide_vector_features(SKYLAKE_SP)
    assert wide == SKYLAKE_SP + ",-prefer-256-bit"
    assert numba_vectors.wide_vector_features(wide) == wide  # idempotent
    # A user's explicit +prefer-256-bit is replaced, not contradicted.
    assert numba_vectors.wide_vector_features("+avx512f,+prefer-256-bit") == (
        "+avx512f,-prefer-256-bit"
    )


def test_a_host_without_avx512_is_left_as_it_is():
    assert numba_vectors.wide_vector_features("+avx,+avx2,+fma") == "+avx,+avx2,+fma"
    assert numba_vectors.wide_vector_features("+avx,+avx2,-avx512f") == "+avx,+avx2,-avx512f"


def test_this_machine_keeps_its_own_features():
    host = numba_vectors.host_features()
    wide = numba_vectors.wide_vector_features()
    assert wide.startswith(host.rstrip(","))
    assert (wide != host) == ("+avx512f" in host.split(","))


def _zmm_and_ymm(features: str, tmp_path) -> tuple[int, int]:
    """Compile (never run) the float32 softmax kernel for Skylake-SP with ``features``."""
    script = textwrap.dedent(
        """
        import json
        from numba import types
        from numba.core import config
        from npsoftmax.kernels import numba_cpu, numba_vectors
        sig = (types.float32[:, ::1], types.float32[:, ::1])
        numba_cpu._softmax_ser.compile(sig)
        asm = numba_cpu._softmax_ser.inspect_asm(sig)
        print(json.dumps([asm.count("zmm"), asm.count("ymm"),
                          numba_vectors.wide_vectors_enabled(), config.CPU_NAME]))
        """
    )
    env = {
        **os.environ,
        "NUMBA_CPU_NAME": "skylake-avx512",
        "NUMBA_CPU_FEATURES": features,
        "NUMBA_CACHE_DIR": str(tmp_path / features.split(",")[-1]),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
    zmm, ymm, enabled, cpu = json.loads(done.stdout.splitlines()[-1])
    assert cpu == "skylake-avx512"
    assert enabled == ("-prefer-256-bit" in features)
    return zmm, ymm


@pytest.mark.slow
def test_the_wide_features_make_the_kernels_use_zmm_registers(tmp_path):
    """LLVM's default for Skylake-SP stays at 256 bits; the wide string reaches 512."""
    zmm_default, ymm_default = _zmm_and_ymm(SKYLAKE_SP, tmp_path)
    zmm_wide, ymm_wide = _zmm_and_ymm(numba_vectors.wide_vector_features(SKYLAKE_SP), tmp_path)
    assert zmm_default < ymm_default / 10  # a few zmm at most (constants), the loops in ymm
    assert zmm_wide > 10 * ymm_wide  # the loops in zmm
