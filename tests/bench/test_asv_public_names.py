"""asv_bench drives the library and superinstance.bench through public names only."""

import ast
import pathlib

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "asv_bench" / "benchmarks"


def _private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(source, filename="<string>"):
    """(line, text) of every private name taken from superinstance: an ``_``-prefixed module in
    an import path, an ``_``-prefixed imported name, or an ``_``-prefixed attribute read from
    a name that an import from superinstance bound."""
    tree = ast.parse(source, filename)
    found, bound = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "superinstance":
                    if any(_private(part) for part in a.name.split(".")):
                        found.append((node.lineno, f"import {a.name}"))
                    bound.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "superinstance":
            if any(_private(part) for part in node.module.split(".")):
                found.append((node.lineno, f"from {node.module} import ..."))
            for a in node.names:
                if _private(a.name):
                    found.append((node.lineno, f"from {node.module} import {a.name}"))
                bound.add(a.asname or a.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):  # superinstance.x._y
                base = base.value
            if isinstance(base, ast.Name) and base.id in bound:
                found.append((node.lineno, f"{ast.unparse(node) if hasattr(ast, 'unparse') else node.attr}"))
    return found


FILES = sorted(BENCHMARKS.glob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_asv_benchmark_uses_no_private_name(path):
    assert private_uses(path.read_text(), str(path)) == []


def test_the_asv_files_are_there():
    assert len([p for p in FILES if p.name.startswith("bench_")]) >= 7


@pytest.mark.parametrize("source, expected", [
    ("from superinstance import _core", 1),
    ("import superinstance._core", 1),
    ("from superinstance.gpu_accelerator._dp_common import gpu_reason", 1),
    ("from superinstance.bench.frozen_model_rl import _VW, NumpyLinUCB", 1),
    ("from superinstance.bench import realtime_core as rt\nrt._callback_chunk(1, 2)", 1),
    ("import superinstance\nsuperinstance._core.vector_dot_rows", 1),
    ("import superinstance.gpu_accelerator as ga\nga.devices()\nga.__name__", 0),
    ("from superinstance.bench.gpu_accelerator import launch_chain\nimport numpy as np\nnp._x", 0),
    ("def f(self):\n    self._private = 1", 0),
])
def test_the_check_finds_every_kind_of_private_use(source, expected):
    assert len(private_uses(source)) == expected
