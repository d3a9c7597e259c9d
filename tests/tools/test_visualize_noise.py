import cv2
import numpy as np
import pytest

from detectron2.data import DatasetCatalog, Metadata

from noisy_seg.cli import visualize_noise


@pytest.fixture
def drawn(monkeypatch):
    """Every Visualizer the tool makes, and its overlay_instances / draw_binary_mask calls."""
    made = []

    class Recording(visualize_noise.Visualizer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.overlays, self.masks = [], []
            made.append(self)

        def overlay_instances(self, **kwargs):
            self.overlays.append(kwargs)
            return super().overlay_instances(**kwargs)

        def draw_binary_mask(self, binary_mask, color=None, **kwargs):
            self.masks.append((binary_mask, color, kwargs.get("text")))
            return super().draw_binary_mask(binary_mask, color, **kwargs)

    monkeypatch.setattr(visualize_noise, "Visualizer", Recording)
    return made


def test_writes_side_by_side_png_with_titled_panels(tiny_toy, tmp_path, drawn):
    out = tmp_path / "noise.png"
    assert (
        visualize_noise.main(["--dataset", "toy_tiny_train", "--noise", "sym80", "--images", "2", "--output", str(out)])
        == 0
    )
    image = cv2.imread(str(out))
    assert len(drawn) == 4  # 2 rows of (clean | noisy), each panel the 96 px image on a margin, drawn at scale 2
    canvas = drawn[0].output
    assert image.shape == (2 * canvas.height * 2, 2 * canvas.width * 2, 3) and canvas.width > 96
    titles = [[t.get_text() for t in vis.output.ax.texts][-1] for vis in drawn]
    assert titles == ["clean", "noisy: sym80"] * 2
    assert not list(tmp_path.glob(".*"))  # no temp file left


def test_an_object_keeps_its_colour_and_a_flip_says_clean_to_noisy(tiny_toy, tmp_path, drawn):
    visualize_noise.main(
        ["--dataset", "toy_tiny_train", "--noise", "sym80", "--images", "3", "--output", str(tmp_path / "x.png")]
    )
    flips = 0
    for clean_vis, noisy_vis in zip(drawn[::2], drawn[1::2]):
        (clean,), (noisy,) = clean_vis.overlays, noisy_vis.overlays
        # the same annotation: the same box (class noise moves nothing), so the same colour in both panels
        colour_of = {tuple(box): tuple(c) for box, c in zip(clean["boxes"].tolist(), clean["assigned_colors"])}
        for box, colour in zip(noisy["boxes"].tolist(), noisy["assigned_colors"]):
            assert colour_of[tuple(box)] == tuple(colour)
        flips += sum(" -> " in label for label in noisy["labels"])
        assert not any(" -> " in label for label in clean["labels"])
    assert flips > 0


def test_no_label_is_cut_at_the_image_edges(tiny_toy, tmp_path, drawn):
    visualize_noise.main(
        ["--dataset", "toy_tiny_train", "--noise", "coco_n_hard", "--images", "6", "--output", str(tmp_path / "x.png")]
    )
    outside = []
    for vis in drawn:
        figure = vis.output.fig
        renderer = figure.canvas.get_renderer()
        width, height = figure.get_size_inches() * figure.dpi
        for text in vis.output.ax.texts:
            box = text.get_window_extent(renderer)
            if box.x0 < 0 or box.y0 < 0 or box.x1 > width + 1 or box.y1 > height + 1:
                outside.append(text.get_text())
    assert sum(len(vis.output.ax.texts) for vis in drawn) > 12 and not outside


def test_dropped_and_moved_annotations_are_marked(tiny_toy, tmp_path):
    names = ["circle", "square"]
    square = [10.0, 10.0, 40.0, 10.0, 40.0, 40.0, 10.0, 40.0]
    clean = [
        {"category_id": 0, "bbox": [10, 10, 30, 30], "bbox_mode": 1, "segmentation": [square], "_i": 0},
        {
            "category_id": 1,
            "bbox": [50, 50, 20, 20],
            "bbox_mode": 1,
            "segmentation": [[50.0, 50, 70, 50, 70, 70]],
            "_i": 1,
        },
    ]
    clean = [{**a, visualize_noise._SOURCE: a.pop("_i")} for a in clean]
    moved = {
        **clean[0],
        "segmentation": [[12.0, 12, 44, 12, 44, 44, 12, 44]],
        "bbox": [12, 12, 32, 32],
        "clean_category_id": 0,
        "category_id": 1,
        "noise": "class_flip+dilate",
    }
    clean_texts, noisy_texts, moved_ids, dropped = visualize_noise.instance_texts(clean, [moved], names)
    assert noisy_texts == {0: "circle -> square (dilate)", 1: "square (dropped)"}
    assert moved_ids == {0} and dropped == {1} and clean_texts == {0: "circle", 1: "square"}
    image = np.zeros((96, 96, 3), dtype=np.uint8)
    row = visualize_noise.draw_instance_pair(image, clean, [moved], Metadata(thing_classes=names), "x", 30)
    left, right = np.split(row, 2, axis=1)
    assert not np.array_equal(left, right)
    red = (right[:, :, 0] > 200) & (right[:, :, 1] < 80) & (right[:, :, 2] < 80)  # the dashed box of a change
    assert red.sum() > 20 and not ((left[:, :, 0] > 200) & (left[:, :, 1] < 80) & (left[:, :, 2] < 80)).any()


def test_semantic_datasets_are_drawn_with_changed_pixels_highlighted(tiny_toy, tmp_path, drawn):
    out = tmp_path / "sem.png"
    assert (
        visualize_noise.main(
            [
                "--dataset",
                "toy_tiny_cityscapes_sem_seg_train",
                "--noise",
                "semrelabel60",
                "--background-label",
                "0",
                "--images",
                "2",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert cv2.imread(str(out)) is not None and len(drawn) == 4
    for clean_vis, noisy_vis in zip(drawn[::2], drawn[1::2]):
        assert all(color != visualize_noise.CHANGED for _, color, _ in clean_vis.masks)
        highlighted = [mask for mask, color, _ in noisy_vis.masks if color == visualize_noise.CHANGED]
        assert len(highlighted) == 1 and 0 < highlighted[0].sum() < highlighted[0].size
        # a class has one colour in both panels
        clean_colours = {text: tuple(color) for _, color, text in clean_vis.masks}
        noisy_colours = {text: tuple(color) for _, color, text in noisy_vis.masks if text}
        assert "road" in clean_colours and all(
            clean_colours[t] == c for t, c in noisy_colours.items() if t in clean_colours
        )
    titles = [vis.output.ax.texts[-1].get_text() for vis in drawn]
    assert titles == ["clean", "noisy: semrelabel60"] * 2
    # issue 25: the noisy panel names each changed component's op ("relabel: <new class>"), the clean one none
    texts = [[t.get_text() for t in vis.output.ax.texts] for vis in drawn]
    assert all(not any(t.startswith("relabel: ") for t in clean) for clean in texts[::2])
    assert any(t.startswith("relabel: ") for noisy in texts[1::2] for t in noisy)


def test_semantic_default_noise_and_a_wrong_kind_of_noise(tiny_toy, tmp_path):
    out = tmp_path / "x.png"
    assert (
        visualize_noise.main(["--dataset", "toy_tiny_cityscapes_sem_seg_train", "--images", "1", "--output", str(out)])
        == 0
    )
    assert "is for instance annotations" in _error(
        ["--dataset", "toy_tiny_cityscapes_sem_seg_train", "--noise", "sym40", "--output", str(tmp_path / "y.png")]
    )


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
    assert f"could not write {blocked}/sub/x.png: " in _error(base + ["--output", str(blocked / "sub" / "x.png")])


def test_datasets_it_cannot_draw_are_refused(tiny_toy, tmp_path):
    out = str(tmp_path / "x.png")
    if "visualize_noise_unlabelled" not in DatasetCatalog.list():
        DatasetCatalog.register("visualize_noise_unlabelled", lambda: [{"file_name": "a.png", "image_id": 0}])
    assert "has neither instance annotations nor semantic label maps" in _error(
        ["--dataset", "visualize_noise_unlabelled", "--output", out]
    )
    assert "dataset 'nope' is not registered" in _error(["--dataset", "nope", "--output", out])
    assert "preset 'coco' has 80 classes" in _error(
        ["--dataset", "toy_tiny_train", "--noise", "asym40_coco", "--output", out]
    )
