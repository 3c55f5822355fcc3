"""The saved index format does not drift: files written by main before the
index's save/load moved to index_io.cpp and common/byte_io.hpp (#17;
data/make_v2_index_fixtures.py) load and are saved back byte for byte."""

import pathlib

import pytest

from superinstance import _core

DATA = pathlib.Path(__file__).parent / "data"
CASES = ["flat_f32", "hnsw_f16", "hnsw_i8"]
ATTACHMENT = b"attachment bytes \x00\x01\x02"


@pytest.mark.parametrize("mmap", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_index_file_is_saved_back_byte_for_byte(case, mmap, tmp_path):
    src = DATA / f"index_v2_{case}.sif"
    core = _core.VectorIndex.load(str(src), mmap, 0)
    assert core.attachment == ATTACHMENT
    out = tmp_path / "again.sif"
    core.save(str(out))  # keeps the loaded attachment
    core.close()
    assert out.read_bytes() == src.read_bytes()
