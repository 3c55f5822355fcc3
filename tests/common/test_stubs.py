"""The .pyi stubs must stay true to the compiled modules: every public name in one is in the
other (_core.pyi always; _cuda.pyi when the CUDA module is built)."""

import ast
import importlib
from pathlib import Path

import pytest

import superinstance

MODULES = ["_core", "_cuda"]


def _module(name):
    if name == "_cuda" and not superinstance.capabilities()["cuda_built"]:
        pytest.skip("CUDA module not built")
    return importlib.import_module(f"superinstance.{name}")


def _stub_names(name):
    tree = ast.parse((Path(superinstance.__file__).parent / f"{name}.pyi").read_text())
    top, members = set(), {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top.add(node.target.id)
        if isinstance(node, ast.ClassDef):
            members[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)} | {
                n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
    return {n for n in top if not n.startswith("_") or n == "__version__"}, members


@pytest.mark.parametrize("name", MODULES)
def test_stub_matches_module(name):
    mod = _module(name)
    top, members = _stub_names(name)
    public = {n for n in dir(mod) if not n.startswith("_")} | ({"__version__"} if hasattr(mod, "__version__") else set())
    assert top == public, f"only in stub: {top - public}; only in module: {public - top}"
    for cls, names in members.items():
        actual = {n for n in dir(getattr(mod, cls)) if not n.startswith("_") or n == "__init__" or n == "__len__"}
        missing = {n for n in names if not hasattr(getattr(mod, cls), n)}
        assert not missing, f"{cls}: stub names missing from module: {missing}"
        extra = {n for n in actual - names if not n.startswith("__")}
        assert not extra, f"{cls}: module names missing from stub: {extra}"


def test_package_ships_type_markers():
    root = Path(superinstance.__file__).parent
    assert (root / "py.typed").exists() and (root / "_core.pyi").exists() and (root / "_cuda.pyi").exists()
