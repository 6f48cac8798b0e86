"""What the benchmarks ran on: CPU model, cores, memory and library versions."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else lscpu, else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> list[str]:
    """The SIMD extensions that matter for the kernels (AVX2, AVX-512 F), when known."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln.split(":", 1)[1].split() for ln in f if ln.startswith("flags")), [])
    except OSError:
        return []
    return [f for f in ("avx2", "fma", "avx512f") if f in flags]


def microarchitecture() -> str | None:
    """LLVM's name for this CPU (e.g. ``znver3``, ``skylake-avx512``): what Numba compiles for."""
    try:
        import llvmlite.binding as llvm

        return llvm.get_host_cpu_name()
    except Exception:  # llvmlite absent or unable to tell: the report just omits it
        return None


def memory_gib() -> float | None:
    """Total memory in GiB, from /proc/meminfo."""
    try:
        with open("/proc/meminfo") as f:
            kib = next(int(ln.split()[1]) for ln in f if ln.startswith("MemTotal"))
        return round(kib / 2**20, 1)
    except (OSError, StopIteration):
        return None


def versions() -> dict[str, str | None]:
    """Versions of Python and of every library the suite compares, None when absent."""
    names = ["numpy", "scipy", "numba", "torch", "entmax", "dask"]
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def numba_vectors() -> str:
    """Which vectors the kernels' loops use here (npsoftmax.kernels.numba_vectors)."""
    from npsoftmax.kernels.numba_vectors import vector_width

    return vector_width()


def describe() -> dict[str, object]:
    """Everything above as one JSON-ready dict."""
    return {
        "cpu": cpu_model(),
        "microarchitecture": microarchitecture(),
        "simd": cpu_flags(),
        "numba_vectors": numba_vectors(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions(),
    }
