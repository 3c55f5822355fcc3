import os

import pytest


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
