"""Closed means closed: call every public member of a closed object, each in its own process.

Usage from a test::

    from closed_harness import assert_closed_everywhere

    def test_timer_closed():
        assert_closed_everywhere('''
    from superinstance.realtime_core import Timer
    def make():
        return Timer(rate_hz=100)
    ARGS = {"set_rate": (50,)}          # arguments for members that need some
    ''')

The snippet defines ``make()`` (a fresh, open object) and optionally ``ARGS``
(name -> positional args; for a settable property, the value to set) and
``SKIP`` (name -> reason; only for members that are valid after close by
design, e.g. a classmethod ``load``), ``close(obj)`` (how to close it, when
that is not ``obj.close()``: a writer's ``abort``) and ``ALSO_VALID`` (more
names that must succeed after close). A subprocess imports the snippet, lists
the object's public methods and properties (every name not starting with ``_``
plus the context-manager and iteration dunders), and for each one forks a
child that makes the object, closes it, and calls the member. The member must
raise ClosedError; a crash (segfault, abort) is reported by name and fails the
test instead of killing the run. ``close`` (idempotent), ``closed`` (True),
``__exit__`` and ``__repr__`` must succeed instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

# Valid in every state, and checked to be so.
ALWAYS_VALID = ("close", "closed", "__exit__", "__repr__")
DUNDERS = ("__enter__", "__exit__", "__iter__", "__next__", "__len__", "__repr__", "__aiter__")

_CHILD = r'''
import inspect, json, os, signal, sys
from superinstance.errors import ClosedError
ns = {}
exec(compile(SNIPPET, "<closed snippet>", "exec"), ns)
make, ARGS, SKIP = ns["make"], ns.get("ARGS", {}), ns.get("SKIP", {})
close = ns.get("close", lambda obj: obj.close())

def members(obj):
    cls = type(obj)
    out = []
    for name in sorted(set(dir(cls))):
        if name.startswith("_") and name not in DUNDERS:
            continue
        attr = inspect.getattr_static(cls, name, None)
        if attr is None or isinstance(attr, (staticmethod, classmethod)) or inspect.isclass(attr):
            continue
        if isinstance(attr, property) or type(attr).__name__ in ("getset_descriptor", "member_descriptor"):
            out.append((name, "property", getattr(attr, "fset", None) is not None))
        elif callable(attr) or hasattr(attr, "__get__"):
            out.append((name, "method", False))
    return out

def call(name, kind, settable):
    obj = make()
    close(obj)
    if kind == "property":
        value = getattr(obj, name)
        if name == "closed":
            assert value is True, f"closed is {value!r} after close"
        if settable and name in ARGS:
            setattr(obj, name, ARGS[name])
        return "returned"
    args = ARGS.get(name, ())
    if name == "__exit__":
        args = (None, None, None)
    result = getattr(obj, name)(*args)
    if inspect.isgenerator(result):
        next(result)
    elif hasattr(result, "__anext__"):
        import asyncio
        asyncio.new_event_loop().run_until_complete(result.__anext__())
    elif inspect.iscoroutine(result):
        import asyncio
        asyncio.new_event_loop().run_until_complete(result)
    return "returned"

results = {}
probe = make()
found = members(probe)
close(probe)
for name, kind, settable in found:
    if name in SKIP:
        results[name] = "skipped: " + SKIP[name]
        continue
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            outcome = call(name, kind, settable)
        except ClosedError as e:
            outcome = "ClosedError: " + str(e)
        except BaseException as e:
            outcome = "other: " + type(e).__name__ + ": " + str(e)[:300]
        os.write(w, outcome.encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        results[name] = "crashed: signal " + signal.Signals(os.WTERMSIG(status)).name
    else:
        results[name] = data.decode() or "child died without a word"
print("RESULTS " + json.dumps(results))
'''


def run_closed_calls(snippet: str, timeout: float = 300.0) -> dict:
    """Name -> outcome of calling that member on a closed object (see module doc)."""
    prog = (f"SNIPPET = {textwrap.dedent(snippet)!r}\nALWAYS = {ALWAYS_VALID!r}\nDUNDERS = {DUNDERS!r}\n"
            + _CHILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=timeout, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULTS "):
            return json.loads(line[len("RESULTS "):])
    raise AssertionError(f"the closed-call runner failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")


def assert_closed_everywhere(snippet: str, also_valid: tuple = ()) -> dict:
    """Every public member of the closed object raises ClosedError; close/closed/__exit__/__repr__
    (and `also_valid`) work."""
    results = run_closed_calls(snippet)
    assert results, "no public members found"
    bad = {}
    for name, outcome in results.items():
        if outcome.startswith("skipped: "):
            continue
        if name in ALWAYS_VALID or name in also_valid:
            if outcome != "returned":
                bad[name] = outcome
        elif not outcome.startswith("ClosedError: "):
            bad[name] = outcome
    assert not bad, "after close():\n" + "\n".join(f"  {k}: {v}" for k, v in sorted(bad.items()))
    return results
