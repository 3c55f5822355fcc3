import os
import sys

import pytest

# Shared test helpers (closed_harness, fuzz_helpers) live beside this file; the
# suite runs in importlib mode, which does not put tests/ on sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:  # property-based fuzzing profiles (see tests/fuzz_helpers.py)
    from hypothesis import HealthCheck, settings

    _common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                          HealthCheck.filter_too_much])
    # "ci": bounded and repeatable (derandomized), the default for the suite.
    settings.register_profile("ci", max_examples=60, derandomize=True, print_blob=True, **_common)
    # "long": random and ~30x more cases; one command:
    #   SUPERINSTANCE_FUZZ=long python -m pytest -m fuzz
    settings.register_profile("long", max_examples=2000, print_blob=True, **_common)
    settings.load_profile(os.environ.get("SUPERINSTANCE_FUZZ", "ci"))
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass


def pytest_report_header(config):
    try:
        import superinstance

        caps = superinstance.capabilities()
        return (f"superinstance {superinstance.__version__} from {os.path.dirname(superinstance.__file__)}; "
                f"SIMD {caps['simd_level']} (available: {', '.join(caps['simd_available'])}); "
                f"CUDA module {'built' if caps['cuda_built'] else 'not built'}")
    except Exception as e:  # pragma: no cover - shown in the header only
        return f"superinstance not importable: {e}"


@pytest.fixture
def simd_levels():
    """Every SIMD level this machine can run, scalar first."""
    import superinstance

    return superinstance.capabilities()["simd_available"]
