"""noisy_seg.utils.files: the one atomic-write helper every tool writes its outputs with, the checked image
writer, and the removal of a killed writer's temp files."""

import errno
import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from noisy_seg.utils.files import (
    TEMP_PREFIX,
    atomic_output,
    load_json,
    png_is_complete,
    remove_stale_temp_files,
    save_json_atomic,
    save_json_streamed,
    write_atomic,
    write_image,
)


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
    data = {
        "ints": np.arange(3),
        "floats": np.array([[0.5, 1.25]], dtype=np.float32),
        "scalar": np.int64(7),
        "text": "x",
    }
    save_json_atomic(data, target)
    assert load_json(target) == {"ints": [0, 1, 2], "floats": [[0.5, 1.25]], "scalar": 7, "text": "x"}
    save_json_atomic({"b": [1]}, target, indent=True)
    assert target.read_text() == '{\n  "b": [\n    1\n  ]\n}'
    assert load_json(target) == {"b": [1]}


# ------------------------------------------------------------------------- nothing half-written (issue 21, item 3)
def whole_files(folder: Path) -> dict:
    """name -> whether the file is a whole PNG, for every file under `folder` (temp files included)."""
    return {str(p.relative_to(folder)): png_is_complete(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_write_image_on_a_full_disk_raises_naming_the_file_and_commits_nothing_partial(small_disk):
    """The probe: small PNGs onto a tmpfs until it is full. cv2.imwrite returns True there for 0-byte files (its
    final flush fails unseen); write_image raises, and every file under a final name is whole."""
    disk = small_disk.mount("64k")
    label_map = np.zeros((64, 64), np.uint8)
    label_map[20:40] = 3
    with pytest.raises(OSError) as error:
        for index in range(100):
            write_image(disk / f"{index:03d}.png", label_map)
    assert error.value.errno == errno.ENOSPC
    assert str(error.value) == f"could not write {disk / f'{index:03d}.png'}: No space left on device"
    written = whole_files(disk)
    assert 0 < len(written) == index and all(written.values()), written  # no temp file, none empty or cut off
    small_disk.resize("1m")
    write_image(disk / f"{index:03d}.png", label_map)
    np.testing.assert_array_equal(cv2.imread(str(disk / f"{index:03d}.png"), cv2.IMREAD_UNCHANGED), label_map)


@pytest.mark.parametrize("lie", ["raises", "writes nothing", "writes half"])
def test_write_image_with_a_failing_writer_leaves_no_file(tmp_path, monkeypatch, lie):
    """A writer that fails, or says it wrote what it did not (as cv2.imwrite does on a full disk): an OSError
    naming the target, nothing under its name, no temp file."""
    real_write_bytes = Path.write_bytes

    def failing_write_bytes(path, data):
        if lie == "raises":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write_bytes(path, bytes(memoryview(data))[: len(data) // 2 if lie == "writes half" else 0])
        return len(data)

    monkeypatch.setattr(Path, "write_bytes", failing_write_bytes)
    target = tmp_path / "map.png"
    with pytest.raises(OSError, match=f"^could not write {target}: "):
        write_image(target, np.ones((32, 32), np.uint8))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name, image",
    [
        ("map.png", np.ones((0, 8), np.uint8)),  # an empty image
        ("map.nope", np.ones((8, 8), np.uint8)),
    ],
)  # no encoder for the suffix
def test_write_image_refuses_what_opencv_cannot_encode(tmp_path, name, image):
    with pytest.raises(OSError, match=f"^could not write {tmp_path / name}: OpenCV cannot encode"):
        write_image(tmp_path / name, image)
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_errors_name_the_target_not_the_temp_file(tmp_path):
    blocked = tmp_path / "a_file"
    blocked.write_text("x")
    with pytest.raises(NotADirectoryError, match=f"^could not write {blocked}/sub/out.json: Not a directory$"):
        save_json_atomic({}, blocked / "sub" / "out.json")


def test_png_is_complete_tells_whole_files_from_empty_cut_off_or_other_ones(tmp_path):
    whole = write_image(tmp_path / "whole.png", np.arange(64, dtype=np.uint8).reshape(8, 8))
    data = whole.read_bytes()
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "cut.png").write_bytes(data[:-1])
    (tmp_path / "tiny.png").write_bytes(data[:4])
    (tmp_path / "text.png").write_text("not a png, but long enough to seek into")
    assert whole_files(tmp_path) == {
        "cut.png": False,
        "empty.png": False,
        "text.png": False,
        "tiny.png": False,
        "whole.png": True,
    }
    assert not png_is_complete(tmp_path / "missing.png")


def test_a_killed_writers_temp_file_is_removed_by_the_next_write_there_a_live_ones_is_kept(
    tmp_path, writer_in_another_process
):
    """The probe: SIGKILL a writer mid-write; its hidden temp file stays. The next write into that folder (another
    process: here this one, which has not written there yet) removes it; the temp file of a writer that still
    runs, and files that are not temp files, stay."""
    live, busy = writer_in_another_process(tmp_path / "live.png")
    killed, stale = writer_in_another_process(tmp_path / "killed.png")  # its first write there left `busy` alone
    killed.kill()
    killed.wait()
    (tmp_path / ".hidden_user_file.png").write_text("mine")
    (tmp_path / f"{TEMP_PREFIX}folder").mkdir()
    assert stale.is_file() and stale.name.startswith(f"{TEMP_PREFIX}killed.png.") and stale.stat().st_size > 0

    save_json_atomic({"a": 1}, tmp_path / "next.json")
    assert not stale.exists()
    assert busy.is_file() and live.poll() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".hidden_user_file.png", f"{TEMP_PREFIX}folder", busy.name, "next.json"]
    )
    live.kill()
    live.wait()
    assert remove_stale_temp_files(tmp_path) == [busy]  # dead now: the explicit sweep takes it


@pytest.mark.parametrize("indent", [False, True])
def test_save_json_streamed_writes_the_bytes_of_save_json_atomic(tmp_path, indent):
    rows = [{"k": 1, "v": [1.5, np.float32(0.25)]}, {"k": 2, "nested": {"a": None}}]
    cases = [
        (
            {"settings": {"x": [1, 2]}, "rows": rows, "empty": [], "n": 3},
            lambda: {"settings": {"x": [1, 2]}, "rows": iter(rows), "empty": iter([]), "n": 3},
        ),
        (rows, lambda: iter(rows)),
        ([], lambda: iter([])),
        ({}, lambda: {}),
    ]
    for whole, streamed in cases:
        save_json_atomic(whole, tmp_path / "whole.json", indent=indent)
        save_json_streamed(streamed(), tmp_path / "streamed.json", indent=indent)
        assert (tmp_path / "streamed.json").read_bytes() == (tmp_path / "whole.json").read_bytes()


def test_save_json_streamed_leaves_the_old_file_when_a_row_fails(tmp_path):
    target = tmp_path / "out.json"
    save_json_atomic({"rows": [1]}, target)

    def rows():
        yield 1
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError, match="killed mid-write"):
        save_json_streamed({"rows": rows()}, target)
    assert load_json(target) == {"rows": [1]} and [p.name for p in tmp_path.iterdir()] == ["out.json"]
