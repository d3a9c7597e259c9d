"""noisy_seg.utils.files: the one atomic-write helper every tool writes its outputs with."""
import os
import stat

import numpy as np
import pytest

from noisy_seg.utils.files import atomic_output, load_json, save_json_atomic, write_atomic


def current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_whole_file_written_with_the_usual_mode_and_no_temp_left(tmp_path):
    target = tmp_path / "new" / "folder" / "out.bin"
    payload = os.urandom(1 << 20)
    with atomic_output(target, suffix=".bin") as temp:
        assert temp.parent == target.parent and temp.suffix == ".bin" and temp != target
        temp.write_bytes(payload)
        assert not target.exists(), "the target takes its name only when the block ends"
    assert target.read_bytes() == payload
    # mkstemp makes 0600 files; outputs get what open() would give: 0666 less the umask
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()
    assert [p.name for p in target.parent.iterdir()] == ["out.bin"]


@pytest.mark.parametrize("error", [RuntimeError("writer failed"), KeyboardInterrupt()])
def test_an_error_inside_leaves_the_existing_target_and_no_temp_file(tmp_path, error):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(type(error)):
        with atomic_output(target) as temp:
            temp.write_text("half of the new")
            raise error
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_write_atomic_takes_bytes_text_or_a_writer(tmp_path):
    assert write_atomic(tmp_path / "a.bin", b"\x00\x01") == tmp_path / "a.bin"
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    write_atomic(str(tmp_path / "b.txt"), "text\n")
    assert (tmp_path / "b.txt").read_text() == "text\n"

    def writer(path):
        assert path.suffix == ".png"  # the target's suffix, for writers that pick the format from it
        path.write_bytes(b"written by the callable")

    write_atomic(tmp_path / "c.png", writer)
    assert (tmp_path / "c.png").read_bytes() == b"written by the callable"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.txt", "c.png"]


def test_save_json_atomic_round_trips_numpy_through_load_json(tmp_path):
    target = tmp_path / "out.json"
    data = {"ints": np.arange(3), "floats": np.array([[0.5, 1.25]], dtype=np.float32), "scalar": np.int64(7),
            "text": "x"}
    save_json_atomic(data, target)
    assert load_json(target) == {"ints": [0, 1, 2], "floats": [[0.5, 1.25]], "scalar": 7, "text": "x"}
    save_json_atomic({"b": [1]}, target, indent=True)
    assert target.read_text() == '{\n  "b": [\n    1\n  ]\n}'
    assert load_json(target) == {"b": [1]}
