"""Shared test configuration: Hypothesis profiles and a few fixtures.

Hypothesis profiles, chosen with the environment variable ``HYPOTHESIS_PROFILE``:

* ``dev`` (default on a workstation): 50 examples per property, no deadline.
* ``ci`` (default when ``CI`` is set): derandomized, so every CI run tests the same examples and a
  red run is reproducible; 60 examples; failures print the reproduction blob.
* ``thorough``: 1000 examples per property, for a long run before a release.

Every profile has ``deadline=None`` because the first call of a Numba kernel compiles it, which
takes far longer than any deadline, and suppresses the ``function_scoped_fixture`` health check
because the ``backend`` fixture below is meant to be combined with ``@given`` (the backend stays
the same for every example, so sharing the fixture across examples is correct).
Do not use the ``rng`` fixture inside a ``@given`` test: draw randomness from a strategy there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_SUPPRESSED = [HealthCheck.function_scoped_fixture]

settings.register_profile("dev", max_examples=50, deadline=None, suppress_health_check=_SUPPRESSED)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,  # derandomized runs neither need nor should write the example database
    print_blob=True,
    suppress_health_check=[*_SUPPRESSED, HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[*_SUPPRESSED, HealthCheck.too_slow],
)


def _default_profile() -> str:
    on_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return "ci" if on_ci else "dev"


PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or _default_profile()
settings.load_profile(PROFILE)

BACKENDS = ("numpy", "numba")


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Show the Hypothesis profile and the environment's kernel backend in pytest's header."""
    chosen = os.environ.get("NPSOFTMAX_BACKEND") or "unset (numba)"
    return [
        f"hypothesis profile: {PROFILE}",
        f"npsoftmax backend from NPSOFTMAX_BACKEND: {chosen}",
    ]


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh NumPy generator seeded with 0, so every test draws the same numbers."""
    return np.random.default_rng(0)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once per kernel backend, with that backend active; yields its name."""
    from npsoftmax._backend import use_backend  # imported late: collection must not need it

    with use_backend(request.param):
        yield request.param
