"""Atomic, versioned, checksummed files: round trips, damage, and killed writers."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from superinstance import storage
from superinstance.errors import (ClosedError, CorruptFileError, FormatError, SuperinstanceError,
                                  UnsupportedVersionError, WrongFileKindError)


def test_round_trip_bytes_and_numpy(tmp_path):
    p = tmp_path / "a.bin"
    arr = np.arange(1000, dtype=np.float32)
    storage.write_atomic(p, "test", 2, arr, flags=5)
    header, payload = storage.read_verified(p, "test", 2)
    assert header == {"kind": "test", "version": 2, "payload_size": 4000,
                      "payload_crc32c": storage.crc32c(arr), "flags": 5}
    np.testing.assert_array_equal(np.frombuffer(payload, np.float32), arr)
    assert storage.read_header(p)["version"] == 2


def test_crc32c_check_value():
    assert storage.crc32c(b"123456789") == 0xE3069283


def test_streaming_writer_context_manager(tmp_path):
    p = tmp_path / "s.bin"
    with storage.AtomicWriter(p, "test", 1) as w:
        for i in range(10):
            w.write(bytes([i]) * 1000)
        assert w.bytes_written == 10_000
    _, payload = storage.read_verified(p, "test", 1)
    assert payload == b"".join(bytes([i]) * 1000 for i in range(10))
    assert w.closed
    with pytest.raises(ClosedError, match="already committed"):
        w.write(b"x")


def test_exception_in_block_keeps_old_file(tmp_path):
    p = tmp_path / "s.bin"
    storage.write_atomic(p, "test", 1, b"old")
    with pytest.raises(RuntimeError):
        with storage.AtomicWriter(p, "test", 1) as w:
            w.write(b"new data")
            raise RuntimeError("boom")
    assert storage.read_verified(p, "test", 1)[1] == b"old"
    assert os.listdir(tmp_path) == ["s.bin"]


def _damaged(tmp_path, good, mutate):
    data = bytearray(good)
    data = mutate(data)
    p = tmp_path / "damaged.bin"
    p.write_bytes(bytes(data))
    return p


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d[:0], "truncated"),
    (lambda d: d[:63], "truncated"),
    (lambda d: d[:-1], "truncated"),
    (lambda d: d + b"x", "unexpected bytes"),
    (lambda d: d.__setitem__(0, 0x00) or d, "bad magic"),
    (lambda d: d.__setitem__(30, d[30] ^ 1) or d, "header"),
    (lambda d: d.__setitem__(100, d[100] ^ 0x10) or d, "payload checksum"),
])
def test_damaged_files_raise_corrupt(tmp_path, mutate, match):
    good_path = tmp_path / "good.bin"
    storage.write_atomic(good_path, "test", 1, bytes(range(256)) * 4)
    p = _damaged(tmp_path, good_path.read_bytes(), mutate)
    with pytest.raises(CorruptFileError, match=match) as info:
        storage.read_verified(p, "test", 1)
    assert isinstance(info.value, (FormatError, ValueError, SuperinstanceError))


def test_newer_version_and_wrong_kind(tmp_path):
    p = tmp_path / "v.bin"
    storage.write_atomic(p, "test", 7, b"abc")
    with pytest.raises(UnsupportedVersionError, match="version 7 is newer.*up to 3"):
        storage.read_verified(p, "test", 3)
    with pytest.raises(WrongFileKindError, match="holds a 'test', expected a 'index'"):
        storage.read_verified(p, "index", 7)


def test_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        storage.read_verified(tmp_path / "missing", "test", 1)
    with pytest.raises(FileNotFoundError):
        storage.write_atomic(tmp_path / "no" / "such" / "dir", "test", 1, b"")
    with pytest.raises(OSError):
        storage.read_verified(tmp_path, "test", 1)  # a directory


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        storage.write_atomic(tmp_path / "x", "", 1, b"")
    with pytest.raises(ValueError, match="version"):
        storage.write_atomic(tmp_path / "x", "test", 0, b"")
    with pytest.raises(ValueError, match="contiguous"):
        storage.write_atomic(tmp_path / "x", "test", 1, np.zeros((4, 4))[:, ::2])
    assert not (tmp_path / "x").exists()


# ---- interrupted writers ---------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys
    from superinstance import storage
    path, first, pause = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "pause"
    chunk = 256 * 1024
    def stage(name):
        print(name, flush=True)
        if pause:
            sys.stdin.readline()   # the parent kills us here
    k = first
    while True:
        w = storage.AtomicWriter(path, "killtest", 1)
        stage("created")
        for i in range(8):
            w.write(k.to_bytes(8, "little") * (chunk // 8))
            if i == 3:
                stage("half")
        stage("written")
        w.commit()
        stage("committed")
        k += 1
""")


def _check_consistent(path):
    _, payload = storage.read_verified(path, "killtest", 1)
    arr = np.frombuffer(payload, dtype="<u8")
    assert arr.size == 8 * 256 * 1024 // 8
    assert np.all(arr == arr[0]), "payload mixes two versions"
    return int(arr[0])


def _spawn(path, first, mode):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(first), mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("stage", ["created", "half", "written"])
def test_writer_killed_at_each_stage_keeps_previous_file(tmp_path, stage):
    path = tmp_path / "state.bin"
    storage.write_atomic(path, "killtest", 1, (41).to_bytes(8, "little") * (256 * 1024))
    proc = _spawn(path, 42, "pause")
    try:
        while True:
            line = proc.stdout.readline().strip()
            assert line, "writer exited early"
            if line == stage:
                break
            proc.stdin.write("\n")
            proc.stdin.flush()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert _check_consistent(path) == 41


def test_writer_killed_at_random_times_never_leaves_a_torn_file(tmp_path):
    path = tmp_path / "state.bin"
    storage.write_atomic(path, "killtest", 1, (0).to_bytes(8, "little") * (256 * 1024))
    rng = random.Random(1234)
    last = 0
    for attempt in range(12):
        proc = _spawn(path, last + 1, "run")
        assert proc.stdout.readline().strip() == "created"
        time.sleep(rng.uniform(0, 0.08))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        value = _check_consistent(path)
        assert value >= last
        last = value


def test_killed_writers_temps_are_removed_by_the_next_save(tmp_path):
    """A writer killed mid-save leaves its temporary file; the next save to the
    same path removes it (its owner is dead), so killed saves do not pile up."""
    path = tmp_path / "state.bin"
    storage.write_atomic(path, "killtest", 1, (0).to_bytes(8, "little") * (256 * 1024))
    for attempt in range(5):
        proc = _spawn(path, 100 + attempt, "pause")
        try:
            while proc.stdout.readline().strip() != "half":
                proc.stdin.write("\n")
                proc.stdin.flush()
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
        # Each new writer removed its dead predecessor's temp: only the last one's is left.
        leftovers = [n for n in os.listdir(tmp_path) if n != "state.bin"]
        assert len(leftovers) == 1 and leftovers[0].startswith(f".state.bin.tmp-{proc.pid}-"), leftovers
    storage.write_atomic(path, "killtest", 1, (7).to_bytes(8, "little") * (256 * 1024))
    assert os.listdir(tmp_path) == ["state.bin"]
    assert _check_consistent(path) == 7


def test_a_live_writers_temp_is_never_removed(tmp_path):
    path = tmp_path / "state.bin"
    other = tmp_path / "other.bin"
    storage.write_atomic(path, "killtest", 1, (0).to_bytes(8, "little") * (256 * 1024))
    proc = _spawn(path, 50, "pause")
    try:
        assert proc.stdout.readline().strip() == "created"   # paused with its temp open
        live = [n for n in os.listdir(tmp_path) if n.startswith(".state.bin.tmp-")]
        assert len(live) == 1
        # Another save to the same path (and one beside it) must leave the live temp alone.
        storage.write_atomic(path, "killtest", 1, (9).to_bytes(8, "little") * (256 * 1024))
        storage.write_atomic(other, "killtest", 1, b"x")
        assert (tmp_path / live[0]).exists()
        # Let the paused writer finish its first commit: it still works.
        for stage in ("half", "written", "committed"):
            proc.stdin.write("\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == stage
        assert _check_consistent(path) == 50
    finally:
        proc.kill()
        proc.wait()


def test_unrelated_dotfiles_that_look_like_temps_are_kept(tmp_path):
    path = tmp_path / "state.bin"
    keep = [".state.bin.tmp-1-2", ".state.bin.tmp-x-1-2", ".state.bin.tmp-999999999-1-2.bak",
            ".state.bin.tmp-1-2-3.tmp-4-5-6"]
    for name in keep:
        (tmp_path / name).write_bytes(b"mine")
    storage.write_atomic(path, "test", 1, b"data")
    assert sorted(os.listdir(tmp_path)) == sorted(keep + ["state.bin"])


@pytest.mark.parametrize("call", [
    lambda p: storage.write_atomic(p, "test", 1, b"new"),
    lambda p: storage.AtomicWriter(p, "test", 1),
    lambda p: storage.read_verified(p, "test", 1),
    lambda p: storage.read_header(p),
])
def test_a_path_with_a_nul_byte_is_refused(tmp_path, call):
    """The system calls would cut the path at the NUL and overwrite (or read)
    another file: refused with a ValueError, the file named before the NUL untouched."""
    victim = tmp_path / "important"
    storage.write_atomic(victim, "test", 1, b"precious")
    before = victim.read_bytes()
    for path in (str(victim) + "\0.si", os.fsencode(str(victim)) + b"\0.si"):
        with pytest.raises(ValueError, match="NUL byte"):
            call(path)
    assert victim.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["important"]


def test_a_path_of_the_wrong_type_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="str, bytes or os.PathLike"):
        storage.write_atomic(3, "test", 1, b"")
