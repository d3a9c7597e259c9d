import cv2
import pytest

import visualize_noise


def test_writes_side_by_side_png(tiny_toy, tmp_path):
    out = tmp_path / "noise.png"
    assert visualize_noise.main(["--dataset", "toy_tiny_train", "--noise", "sym80", "--images", "2",
                                 "--output", str(out)]) == 0
    image = cv2.imread(str(out))
    # 2 rows of (clean | noisy), each panel the 96 px toy image drawn at scale 2
    assert image.shape == (2 * 192, 2 * 192, 3)
    assert not list(tmp_path.glob("*.tmp.png"))


def test_unknown_noise_name_is_one_line(tiny_toy, tmp_path):
    with pytest.raises(SystemExit, match="error: unknown noise name 'sym-40'"):
        visualize_noise.main(["--dataset", "toy_tiny_train", "--noise", "sym-40", "--output", str(tmp_path / "x.png")])


def _error(argv):
    with pytest.raises(SystemExit) as exit_info:
        visualize_noise.main(argv)
    message = str(exit_info.value)
    assert message.startswith("error: ") and "\n" not in message
    return message


@pytest.mark.parametrize("images", ["0", "-3", "1000"])
def test_absurd_sizes_are_refused(tiny_toy, tmp_path, images):
    message = _error(["--dataset", "toy_tiny_train", "--images", images, "--output", str(tmp_path / "x.png")])
    assert "--images must be between 1 and 64" in message


def test_bad_outputs_are_refused_and_nothing_is_lost(tiny_toy, tmp_path):
    base = ["--dataset", "toy_tiny_train", "--images", "1"]
    assert "is a directory" in _error(base + ["--output", str(tmp_path)])
    assert "must end in .png" in _error(base + ["--output", str(tmp_path / "figure.jpg")])
    existing = tmp_path / "keep.png"
    existing.write_bytes(b"not an image")
    assert "exists; pass --overwrite" in _error(base + ["--output", str(existing)])
    assert existing.read_bytes() == b"not an image"
    assert visualize_noise.main(base + ["--output", str(existing), "--overwrite"]) == 0
    assert cv2.imread(str(existing)) is not None
    blocked = tmp_path / "a_file"
    blocked.write_text("x")
    assert "cannot write --output" in _error(base + ["--output", str(blocked / "sub" / "x.png")])


def test_datasets_it_cannot_draw_are_refused(tiny_toy, tmp_path):
    out = str(tmp_path / "x.png")
    assert "no instance annotations to draw" in _error(["--dataset", "toy_tiny_cityscapes_sem_seg_train",
                                                        "--output", out])
    assert "dataset 'nope' is not registered" in _error(["--dataset", "nope", "--output", out])
    assert "preset 'coco' has 80 classes" in _error(["--dataset", "toy_tiny_train", "--noise", "asym40_coco",
                                                     "--output", out])
