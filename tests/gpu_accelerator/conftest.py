import os
import sys

# The float64 oracles and their error bounds (gpu_oracles.py) beside these tests.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
