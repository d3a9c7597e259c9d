"""Annotation keys come from content: ids, order and the box convention of the loader play no part."""

import numpy as np
import pytest

from noisy_seg.noise import annotation_keys, content_keys

XYXY, XYWH = 0, 1  # detectron2 BoxMode values


def anns():
    return [
        {"id": 7, "category_id": 2, "bbox": [10.5, 20.0, 30.0, 40.0], "iscrowd": 0},
        {"id": 3, "category_id": 0, "bbox": [0.0, 0.0, 5.0, 5.0]},
        {"id": 9, "category_id": 2, "bbox": [60.0, 20.0, 30.0, 40.0], "iscrowd": 1},
    ]


def test_ids_order_and_box_mode_do_not_change_keys():
    keys = annotation_keys(anns())
    without_ids = [{k: v for k, v in a.items() if k != "id"} for a in anns()]
    np.testing.assert_array_equal(annotation_keys(without_ids), keys)
    np.testing.assert_array_equal(annotation_keys(anns()[::-1]), keys[::-1])
    as_xyxy = [
        {
            **a,
            "bbox": [a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]],
            "bbox_mode": XYXY,
        }
        for a in anns()
    ]
    np.testing.assert_array_equal(annotation_keys(as_xyxy), keys)
    np.testing.assert_array_equal(annotation_keys([{**a, "bbox_mode": XYWH} for a in anns()]), keys)
    negative_zero = [{**anns()[1], "bbox": [-0.0, 0.0, 5.0, 5.0]}]
    assert annotation_keys(negative_zero)[0] == keys[1]


def test_class_crowd_and_box_each_change_the_key():
    base = anns()[0]
    keys = annotation_keys(
        [base, {**base, "category_id": 1}, {**base, "iscrowd": 1}, {**base, "bbox": [10.5, 20.0, 30.0, 40.01]}]
    )
    assert len(set(keys.tolist())) == 4


def test_exact_duplicates_are_told_apart_by_their_rank():
    same = [dict(anns()[0], id=1) for _ in range(50)]
    keys = annotation_keys(same)
    assert len(set(keys.tolist())) == 50
    assert keys[0] == annotation_keys(same[:1])[0]  # the first of them keeps the plain content key
    np.testing.assert_array_equal(annotation_keys(same[:10]), keys[:10])


def test_dataset_wide_keys_equal_per_image_keys():
    rng = np.random.default_rng(0)
    n = 300
    images = rng.integers(0, 20, n)
    labels = rng.integers(0, 8, n)
    boxes = np.round(rng.uniform(0, 50, (n, 4)), 1)
    boxes[5:9] = boxes[4]  # duplicates in one image and across images
    labels[5:9] = labels[4]
    images[5], images[6] = images[4], images[4]
    crowd = rng.random(n) < 0.1
    keys = content_keys(labels, crowd, boxes, groups=images)
    for image in np.unique(images):
        members = np.flatnonzero(images == image)
        per_image = annotation_keys(
            [{"category_id": int(labels[i]), "bbox": boxes[i].tolist(), "iscrowd": int(crowd[i])} for i in members]
        )
        np.testing.assert_array_equal(per_image, keys[members])


def test_an_annotation_without_a_box_is_a_clear_error():
    with pytest.raises(ValueError, match="annotation 1 needs a 'bbox'"):
        annotation_keys([anns()[0], {"category_id": 1}])


def test_shared_ids_and_exact_duplicates_are_not_noised_in_lockstep():
    from noisy_seg.noise import build_noise

    pipeline = build_noise({"type": "drop", "rate": 0.5, "seed": 0}, 8)
    shared_id = [{"id": 1, "category_id": 3, "bbox": [float(i), 2.0, 10.0, 10.0]} for i in range(50)]
    duplicates = [{"id": 1, "category_id": 3, "bbox": [4.0, 2.0, 10.0, 10.0]} for _ in range(50)]
    for annotations in (shared_id, duplicates):
        kept = len(pipeline.apply_to_annotations(annotations, image_id=5))
        assert 10 < kept < 40


def test_the_per_image_fast_path_gives_the_array_paths_bits():
    rng = np.random.default_rng(3)
    for trial in range(100):
        n = int(rng.integers(1, 20))
        labels, crowd = rng.integers(0, 80, n), rng.random(n) < 0.2
        boxes = np.round(rng.uniform(-5, 500, (n, 4)), int(rng.integers(0, 3)))
        boxes[rng.random(n) < 0.3] = boxes[0]  # some exact duplicates
        labels[rng.random(n) < 0.3] = labels[0]
        annotations = [
            {"category_id": int(c), "bbox": b.tolist(), "iscrowd": int(k)} for c, b, k in zip(labels, boxes, crowd)
        ]
        np.testing.assert_array_equal(annotation_keys(annotations), content_keys(labels, crowd, boxes))
