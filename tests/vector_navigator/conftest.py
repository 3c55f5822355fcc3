import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for vn_helpers (importlib mode)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
