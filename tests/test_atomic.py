import numpy as np
import pytest

from intermask.atomic import atomic_path, temporaries, write_text_atomic


@pytest.mark.parametrize("durable", [False, True])
def test_a_completed_write_replaces_the_file_and_leaves_no_temporary(tmp_path, durable):
    target = tmp_path / "sub" / "stats.npy"
    with atomic_path(target, durable=durable) as temporary:
        assert temporary.parent == target.parent and temporary.name.endswith(".npy") and temporary != target
        np.save(temporary, np.arange(3))  # np.save keeps a name that already ends in .npy
    assert np.load(target).tolist() == [0, 1, 2]
    assert temporaries(target.parent) == [] and sorted(p.name for p in target.parent.iterdir()) == ["stats.npy"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    target = write_text_atomic(tmp_path / "table.md", "old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and temporaries(tmp_path) == []


def test_temporaries_of_a_killed_writer_are_found_by_name(tmp_path):
    with atomic_path(tmp_path / "last.pt") as temporary:
        left = temporary.with_name(temporary.name.replace(".last.pt.", ".last.pt.99999."))
        left.write_bytes(b"half")  # what a writer killed at this point leaves
        temporary.write_bytes(b"whole")
    (tmp_path / "best.pt.tmp").write_bytes(b"not ours")
    assert temporaries(tmp_path, "last.pt") == [left] and temporaries(tmp_path, "best.pt") == []
