"""Every Python code block in README.md and docs/*.md runs as written.

One test per block, named by file and line (``docs/realtime_core.md:8``). Each block
runs alone in a fresh interpreter (a subprocess) whose working directory is an empty
temporary folder, so a block must bring its own imports and data.

Conventions in the markdown:

* Only fences whose info string starts with ``python`` run; ``bash``, plain and other
  fences are not run.
* A block that needs a CUDA device is fenced as ```` ```python gpu ````; it is skipped
  (with the reason) where ``superinstance.gpu_accelerator.default_backend()`` is not
  ``"cuda"``.
* A block that imports an optional dependency (numba, matplotlib, ...) is skipped
  where that package is not installed.

A block that fails because of a library bug is listed in KNOWN_BUGS (by file and a
line of the block) and expected to fail strictly, so the test turns red once the bug
is fixed and the entry can go.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List, NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A fence as CommonMark has it: up to 3 spaces, 3+ backticks (or tildes), an info string
# (without backticks after backticks); closed by the same character, at least as many.
FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}(?!.*`)|~{3,})[ \t]*(?P<info>.*?)\s*$")
OPTIONAL_MODULES = {"numba", "matplotlib", "pyarrow", "parasail", "cupy", "torch", "faiss", "hnswlib", "tqdm", "ray"}
TIMEOUT_S = 120

# (file, a line of the block) -> the library bug that makes the block fail as written.
KNOWN_BUGS = {}


class Block(NamedTuple):
    file: str
    line: int  # of the opening fence
    code: str
    gpu: bool


def markdown_files() -> List[Path]:
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def python_blocks(path: Path) -> List[Block]:
    rel = path.relative_to(ROOT).as_posix() if ROOT in path.parents else path.name
    blocks: List[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence = m.group("fence")
        closing = re.compile(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}\s*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        words = m.group("info").lower().split()
        if words and words[0] in ("python", "py"):
            blocks.append(Block(rel, i + 1, "\n".join(lines[i + 1:j]) + "\n", "gpu" in words[1:]))
        i = j + 1
    return blocks


def all_blocks() -> List[Block]:
    return [b for f in markdown_files() if f.exists() for b in python_blocks(f)]


def _known_bug(block: Block):
    for (file, needle), reason in KNOWN_BUGS.items():
        if block.file == file and needle in block.code:
            return reason
    return None


def _params():
    out = []
    for b in all_blocks():
        marks = [pytest.mark.gpu] if b.gpu else []
        reason = _known_bug(b)
        if reason:
            marks.append(pytest.mark.xfail(reason=reason, strict=True))
        out.append(pytest.param(b, id=f"{b.file}:{b.line}", marks=marks))
    return out


def _gpu_usable() -> bool:
    from superinstance.gpu_accelerator import default_backend

    return default_backend() == "cuda"


def _env() -> dict:
    """The environment of this test process, with the superinstance it imports first on the
    path (PYTHONPATH=python in a checkout is relative and would break in the temp folder)."""
    import superinstance

    env = dict(os.environ)
    paths = [str(Path(superinstance.__file__).resolve().parent.parent)]
    paths += [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONWARNINGS"] = "default"
    return env


def test_blocks_are_found_as_markdown_renders_them(tmp_path):
    md = tmp_path / "x.md"
    md.write_text("\n".join([
        "Fence a GPU example as ```` ```python gpu ```` (inline code, not a fence).",
        "```python", "a = 1", "```",
        "```bash", "echo no", "```",
        "````python gpu", 's = """', "```", '"""', "````",
        "   ~~~py", "b = 2", "~~~",
        "```text", "```python", "```",
    ]) + "\n")
    got = [(b.line, b.code, b.gpu) for b in python_blocks(md)]
    assert got == [(2, "a = 1\n", False), (8, 's = """\n```\n"""\n', True), (13, "b = 2\n", False)]


def test_the_docs_have_python_examples():
    blocks = all_blocks()
    assert len(blocks) >= 10, [f"{b.file}:{b.line}" for b in blocks]
    assert {b.file for b in blocks} >= {"docs/realtime_core.md", "docs/vector_navigator.md",
                                         "docs/frozen_model_rl.md", "docs/equilibrium.md"}


@pytest.mark.parametrize("block", _params())
def test_example_runs(block: Block, tmp_path):
    if block.gpu and not _gpu_usable():
        from superinstance.gpu_accelerator import backend_reason

        pytest.skip(f"needs a CUDA device: {backend_reason()}")
    script = tmp_path / "example.py"
    script.write_text(block.code, encoding="utf-8")
    res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                         timeout=TIMEOUT_S)
    missing = re.search(r"ModuleNotFoundError: No module named '([\w.]+)'", res.stderr)
    if res.returncode and missing and missing.group(1).split(".")[0] in OPTIONAL_MODULES:
        pytest.skip(f"optional dependency {missing.group(1)} is not installed")
    assert res.returncode == 0, f"{block.file}:{block.line} failed:\n{block.code}\n{res.stdout[-3000:]}{res.stderr[-3000:]}"
