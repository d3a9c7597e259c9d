"""The one implementation of per-class connected components, against scipy's labelling of each class. OpenCV numbers
the components of one class in its own order, so both sides are compared renumbered in raster order of their first
pixels (class by class, in the order the classes were given)."""

import numpy as np
from scipy import ndimage

from noisy_seg.utils.components import class_components


def canonical(labels, classes, boxes, class_order):
    """(labels, classes, boxes) renumbered: class by class in `class_order`, within a class by first pixel."""
    values, first = np.unique(labels.ravel(), return_index=True)
    keep = values > 0
    values, first = values[keep], first[keep]
    rank = {cls: i for i, cls in enumerate(class_order)}
    order = sorted(range(len(values)), key=lambda i: (rank[int(classes[values[i] - 1])], first[i]))
    renumber = np.zeros(labels.max() + 1, np.int32)
    renumber[values[order]] = np.arange(1, len(order) + 1, dtype=np.int32)
    chosen = values[order] - 1
    return renumber[labels], np.asarray(classes)[chosen], np.asarray(boxes)[chosen]


def reference(label_map, classes):
    """scipy.ndimage.label per class (8-connected) on the whole map."""
    labels, found, boxes = np.zeros(label_map.shape, np.int32), [], []
    for cls in classes:
        local, count = ndimage.label(label_map == cls, structure=np.ones((3, 3)))
        for value, window in enumerate(ndimage.find_objects(local), start=1):
            labels[local == value] = len(found) + 1
            found.append(cls)
            boxes.append(
                [window[1].start, window[0].start, window[1].stop - window[1].start, window[0].stop - window[0].start]
            )
    return labels, np.asarray(found, np.int64), np.asarray(boxes, np.int64).reshape(-1, 4)


def test_components_equal_a_per_class_labelling():
    rng = np.random.default_rng(0)
    for trial in range(8):
        label_map = rng.integers(0, 4, (23, 31)).astype(np.uint8)
        if trial % 2:  # blocks: few, large components
            label_map = np.kron(rng.integers(0, 4, (4, 5)), np.ones((6, 7), np.uint8)).astype(np.uint8)
        label_map[rng.random(label_map.shape) < 0.1] = 255  # ignore pixels belong to none
        classes = [3, 0, 2]  # in the order given; class 1 is not asked for
        found = class_components(label_map, classes)
        assert np.all(np.diff([classes.index(c) for c in found.classes]) >= 0)  # numbered class by class
        ours = canonical(found.labels, found.classes, found.boxes, classes)
        theirs = canonical(*reference(label_map, classes), classes)
        for a, b in zip(ours, theirs):
            assert np.array_equal(a, b)


def test_absent_classes_and_empty_maps_have_no_components():
    found = class_components(np.full((5, 6), 7, np.uint8), [0, 1])
    assert not found.labels.any() and found.classes.shape == (0,) and found.boxes.shape == (0, 4)
