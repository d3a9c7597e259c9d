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
