"""The Markov boundary model on instance masks (``mask_boundary``, short names ``maskboundary<NN>``): the semantic
model on a binary map of the mask alone, keyed per annotation, every segmentation kind kept."""

import numpy as np
import pytest

from noisy_seg.noise import BoundaryNoise, build_noise, build_semantic_noise, named_noise_spec
from noisy_seg.noise.boundary_noise import MaskBoundaryNoise
from noisy_seg.noise.geometry import bbox_of_segmentation, mask_to_rle, rle_to_mask, segmentation_to_mask
from noisy_seg.noise.keyed_random import pair_key
from noisy_seg.noise.mask_noise import BOUNDARY, CLEAN

HW = (64, 80)
POLYGON = [[20.0, 16.0, 50.0, 16.0, 50.0, 40.0, 35.0, 48.0, 20.0, 40.0]]


def full_mask(segmentation):
    if isinstance(segmentation, np.ndarray):
        return segmentation.astype(bool)
    return segmentation_to_mask(segmentation, *HW)


def test_is_the_semantic_model_on_the_mask_alone_for_every_kind():
    noise = MaskBoundaryNoise(0.1, seed=3, steps=20)
    binary = full_mask(POLYGON).astype(np.uint8)
    expected = BoundaryNoise(0.1, 2, 3, 20, background_label=0).apply(binary, pair_key(7, 11)).astype(bool)
    assert (expected != binary.astype(bool)).sum() > 20  # the walk moved the boundary
    as_rle = mask_to_rle(binary)
    for segmentation in (as_rle, binary, binary.astype(bool)):
        out = noise.apply_op(segmentation, BOUNDARY, HW, 7, 11)
        np.testing.assert_array_equal(full_mask(out) if not isinstance(out, dict) else rle_to_mask(out), expected)
        assert type(out) is type(segmentation)
        if isinstance(out, np.ndarray):
            assert out.dtype == segmentation.dtype
        else:
            assert isinstance(out["counts"], type(as_rle["counts"]))
    # polygons are traced back from the moved raster: the same mask up to the tracing of pixel edges
    traced = full_mask(noise.apply_op(POLYGON, BOUNDARY, HW, 7, 11))
    assert (traced != expected).sum() <= 0.02 * expected.sum()


def test_each_annotation_draws_by_its_own_key_and_the_bbox_follows():
    noise = MaskBoundaryNoise(0.1, seed=0, steps=20)
    first, bbox, name = noise.corrupt(POLYGON, [20, 16, 30, 32], HW, 5, 1, BOUNDARY)
    assert name == "boundary" and bbox == bbox_of_segmentation(first)
    assert noise.corrupt(POLYGON, [20, 16, 30, 32], HW, 5, 1, BOUNDARY)[0] == first
    assert noise.corrupt(POLYGON, [20, 16, 30, 32], HW, 5, 2, BOUNDARY)[0] != first  # another annotation
    assert noise.corrupt(POLYGON, [20, 16, 30, 32], HW, 6, 1, BOUNDARY)[0] != first  # another image
    _, xyxy, _ = noise.corrupt(POLYGON, [20, 16, 50, 48], HW, 5, 1, BOUNDARY, "xyxy")
    x, y, w, h = bbox
    assert xyxy == [x, y, x + w, y + h]


def test_in_the_pipeline_every_annotation_moves_alone_and_crowd_stays():
    pipeline = build_noise("maskboundary10", 3)
    other = {"category_id": 2, "bbox": [55, 5, 15, 15], "segmentation": [[55, 5, 70, 5, 70, 20, 55, 20]]}
    crowd = dict(other, iscrowd=1, segmentation=[[2, 50, 12, 50, 12, 60, 2, 60]], bbox=[2, 50, 10, 10])
    target = {"category_id": 1, "bbox": [20, 16, 30, 32], "segmentation": POLYGON}
    together = pipeline.apply_to_annotations([target, other, crowd], image_id=9, image_hw=HW)
    alone = pipeline.apply_to_annotations([target], image_id=9, image_hw=HW)
    assert [a["noise"] for a in together] == ["boundary", "boundary", "clean"]
    assert together[0]["segmentation"] == alone[0]["segmentation"]  # keyed by its content, not by its neighbours
    assert together[0]["clean_segmentation"] == POLYGON and "clean_segmentation" not in together[2]
    assert build_noise({"type": "mask_boundary", "rate": 0.0}, 3).apply_to_annotations([target], 9, HW)[0]["noise"] == (
        "clean"
    )


def test_the_masks_of_one_image_walked_at_once_are_the_masks_walked_one_by_one():
    masks = rectangles(8)  # overlapping: each walks on a map holding it alone
    masks[3] = np.zeros(HW, dtype=np.uint8)  # no pixel: None, as apply_op gives
    masks[4][40:44, 60:70] = 1  # two parts: two components of one annotation
    segmentations = [POLYGON, *masks[:4], mask_to_rle(masks[4]), *masks[5:]]
    keys = list(range(10, 10 + len(segmentations)))
    for noise in (MaskBoundaryNoise(0.1, seed=2, steps=15), MaskBoundaryNoise(0.05, steps=10, flip_rate=0.01)):
        together = noise.apply_ops(segmentations, [BOUNDARY] * len(segmentations), HW, 4, keys)
        for segmentation, key, out in zip(segmentations, keys, together):
            alone = noise.apply_op(segmentation, BOUNDARY, HW, 4, key)
            if isinstance(alone, np.ndarray):
                np.testing.assert_array_equal(out, alone)
            else:
                assert out == alone
        assert together[4] is None and sum(out is not None for out in together) == len(segmentations) - 1


def rectangles(count=24):
    rng = np.random.default_rng(0)
    masks = []
    for _ in range(count):
        mask = np.zeros(HW, dtype=np.uint8)
        y, x = rng.integers(10, 30), rng.integers(10, 45)
        mask[y : y + rng.integers(8, 20), x : x + rng.integers(8, 25)] = 1
        masks.append(mask)
    return masks


@pytest.mark.parametrize("grow_prob, sign", [(0.8, 1), (0.2, -1)])
def test_grow_and_shrink_move_the_area_their_way_within_steps_of_the_boundary(grow_prob, sign):
    steps = 15
    noise = MaskBoundaryNoise(0.1, seed=1, steps=steps, grow_prob=grow_prob)
    growth = []
    for index, mask in enumerate(rectangles()):
        moved = noise.apply_op(mask, BOUNDARY, HW, 0, index)
        growth.append(int(moved.sum()) - int(mask.sum()))
        changed = np.argwhere(moved != mask)
        ys, xs = np.nonzero(mask)
        # a pixel moves at most one step a step: every change lies within `steps` px (Chebyshev) of the box
        assert (changed[:, 0] >= ys.min() - steps).all() and (changed[:, 0] <= ys.max() + steps).all()
        assert (changed[:, 1] >= xs.min() - steps).all() and (changed[:, 1] <= xs.max() + steps).all()
    assert sign * np.mean(growth) > 5 and sum(sign * g > 0 for g in growth) >= 18


def test_a_mask_shrunk_away_is_skipped_and_left_as_it_was():
    dot = np.zeros(HW, dtype=np.uint8)
    dot[30, 30] = 1
    noise = MaskBoundaryNoise(1.0, steps=3, grow_prob=0.0)
    assert noise.apply_op(dot, BOUNDARY, HW, 0, 0) is None
    segmentation, bbox, name = noise.corrupt(dot, [30, 30, 1, 1], HW, 0, 0, BOUNDARY)
    assert name == "boundary_skipped" and segmentation is dot and bbox == [30, 30, 1, 1]
    pipeline_out = build_noise({"type": "mask_boundary", "rate": 1.0, "steps": 3, "grow_prob": 0.0}, 2)
    out = pipeline_out.apply_to_annotations([{"category_id": 0, "bbox": [30, 30, 1, 1], "segmentation": dot}], 0, HW)
    assert out[0]["noise"] == "boundary_skipped" and "clean_segmentation" not in out[0]


def test_names_and_bad_specs():
    assert named_noise_spec("maskboundary5") == {"type": "mask_boundary", "rate": 0.05, "seed": 0}
    assert named_noise_spec("maskboundarygrow2_s3") == {
        "type": "mask_boundary",
        "grow_prob": 0.8,
        "rate": 0.02,
        "seed": 3,
    }
    assert named_noise_spec("boundary5")["type"] == "markov_boundary"  # the label-map model keeps its name
    assert MaskBoundaryNoise(0.05).choose_ops(0, np.arange(3)).tolist() == [BOUNDARY] * 3
    assert MaskBoundaryNoise(0.05, steps=0).choose_ops(0, np.arange(2)).tolist() == [CLEAN] * 2
    for spec, words in [
        ({"type": "mask_boundary", "rate": 1.5}, "rate"),
        ({"type": "mask_boundary", "rate": 0.1, "steps": -1}, "steps"),
        ({"type": "mask_boundary", "rate": 0.1, "grow_prob": 2}, "grow_prob"),
        ({"type": "mask_boundary", "rate": 0.1, "background_label": 0}, "unknown key"),
    ]:
        with pytest.raises(ValueError, match=words) as err:
            build_noise(spec, 3)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="instance annotations"):
        build_semantic_noise("maskboundary5", 3)
    with pytest.raises(ValueError, match=f"must be {BOUNDARY}"):
        MaskBoundaryNoise(0.1).apply_op(POLYGON, 1, HW, 0, 0)
