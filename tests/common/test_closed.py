"""Closed means closed for the core's own closable object, the streaming AtomicWriter
(committed or aborted = closed): every member raises ClosedError, in a child process each."""

from closed_harness import assert_closed_everywhere

WRITER = '''
import os, tempfile
from superinstance.storage import AtomicWriter
d = tempfile.mkdtemp()
def make():
    return AtomicWriter(os.path.join(d, "f.bin"), kind="x", version=1)
def close(w):
    w.{how}()
ARGS = {{"write": (b"abc",)}}
'''


def test_atomic_writer_after_commit():
    # abort after commit is a no-op (like close twice); bytes_written stays readable.
    assert_closed_everywhere(WRITER.format(how="commit"), also_valid=("abort", "bytes_written"))


def test_atomic_writer_after_abort():
    assert_closed_everywhere(WRITER.format(how="abort"), also_valid=("abort", "bytes_written"))


def test_committing_inside_the_with_block_is_not_an_error(tmp_path):
    from superinstance.storage import AtomicWriter, read_verified

    with AtomicWriter(tmp_path / "f.bin", kind="x", version=1) as w:
        w.write(b"abc")
        w.commit()
    assert read_verified(tmp_path / "f.bin", kind="x", max_version=1)[1] == b"abc"
