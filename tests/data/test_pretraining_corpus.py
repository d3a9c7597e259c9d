"""The procedural pretraining corpus: keyed (any sample on its own, the same every time), every class drawable at
the smallest size, scenes labelled pixel for pixel."""

import numpy as np
import pytest

from noisy_seg.data.datasets.pretraining_corpus import BACKGROUND, CLASSES, CorpusSettings, render_object, render_scene


def test_many_classes_of_several_kinds():
    kinds = {name.split("_")[0] if "_" in name else name.rstrip("0123456789") for name in CLASSES}
    assert len(CLASSES) >= 48 and len(set(CLASSES)) == len(CLASSES)
    assert {"polygon", "star", "glyph", "texture"} <= kinds


@pytest.mark.parametrize("render", [render_object, render_scene])
def test_a_sample_depends_only_on_its_key(render):
    settings = CorpusSettings(seed=3, image_size=48)
    first = render(settings, "train", 17)
    again = render(settings, "train", 17)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    others = [render(settings, "train", 18), render(settings, "val", 17), render(CorpusSettings(4, 48), "train", 17)]
    assert all(not np.array_equal(first[0], other[0]) for other in others)


def test_objects_are_bgr_images_with_every_class_drawn():
    settings = CorpusSettings(seed=0, image_size=32)  # the smallest size: every class must still be drawn
    labels = []
    for index in range(600):
        image, label = render_object(settings, "train", index)
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
        labels.append(label)
    counts = np.bincount(labels, minlength=len(CLASSES))
    assert counts.min() > 0 and counts.max() < 4 * counts.mean()  # classes drawn uniformly


def test_scene_label_maps_hold_classes_and_background():
    settings = CorpusSettings(seed=0, image_size=64)
    objects = 0
    for index in range(20):
        image, labels = render_scene(settings, "val", index)
        assert image.shape == (64, 64, 3) and labels.shape == (64, 64) and labels.dtype == np.uint8
        values = np.unique(labels)
        assert BACKGROUND in values and set(values.tolist()) <= set(range(len(CLASSES) + 1))
        objects += len(values) - 1
    assert objects >= 40  # 2-6 objects a scene, some occluded away


@pytest.mark.parametrize("bad", [dict(seed=-1), dict(image_size=16), dict(image_size=64.0), dict(seed=True)])
def test_bad_settings_are_one_error(bad):
    with pytest.raises(ValueError, match="must be an int in"):
        CorpusSettings(**bad)


def test_an_unknown_split_is_refused():
    with pytest.raises(ValueError, match="split must be one of train, val"):
        render_object(CorpusSettings(), "test", 0)
