"""_core.pyi must stay true to the compiled module: every public name in one is in the other."""

import ast
from pathlib import Path

import superinstance
from superinstance import _core


def _stub_names():
    tree = ast.parse((Path(superinstance.__file__).parent / "_core.pyi").read_text())
    top, members = set(), {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top.add(node.target.id)
        if isinstance(node, ast.ClassDef):
            members[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)} | {
                n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
    return top, members


def test_stub_matches_module():
    top, members = _stub_names()
    public = {n for n in dir(_core) if not n.startswith("_")} | {"__version__"}
    assert top == public, f"only in stub: {top - public}; only in module: {public - top}"
    for cls, names in members.items():
        actual = {n for n in dir(getattr(_core, cls)) if not n.startswith("_") or n == "__init__" or n == "__len__"}
        missing = {n for n in names if not hasattr(getattr(_core, cls), n)}
        assert not missing, f"{cls}: stub names missing from module: {missing}"
        extra = {n for n in actual - names if not n.startswith("__")}
        assert not extra, f"{cls}: module names missing from stub: {extra}"


def test_package_ships_type_markers():
    root = Path(superinstance.__file__).parent
    assert (root / "py.typed").exists() and (root / "_core.pyi").exists()
