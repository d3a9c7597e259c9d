import cv2
import numpy as np
import pytest
from shapely.geometry import Polygon

from noisy_seg.noise.geometry import (
    bbox_of_segmentation,
    mask_to_rle,
    polygon_arrays,
    rasterize_polygons,
    rle_to_mask,
    segmentation_area,
)
from noisy_seg.noise.keyed_random import keyed_standard_normal
from noisy_seg.noise.mask_noise import (
    COCO_N_PRESETS,
    DILATE,
    ERODE,
    JITTER,
    JITTER_STREAM,
    OP_NAMES,
    SIMPLIFY,
    SpatialNoise,
)
from noisy_seg.noise.missing_annotations import MissingAnnotationNoise
from noisy_seg.noise.presets import spatial_preset

HW = (120, 160)
RECT = [[20.0, 30.0, 100.0, 30.0, 100.0, 90.0, 20.0, 90.0]]  # 80 x 60 px


def circle(cx=80.0, cy=60.0, radius=40.0, vertices=120):
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    return [np.round(np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1), 2).reshape(-1).tolist()]


def raster(segmentation, hw=HW):
    if isinstance(segmentation, dict):
        return rle_to_mask(segmentation).astype(bool)
    if isinstance(segmentation, np.ndarray):
        return segmentation.astype(bool)
    return rasterize_polygons(polygon_arrays(segmentation), *hw).astype(bool)


def iou(a, b):
    a, b = raster(a), raster(b)
    return (a & b).sum() / (a | b).sum()


def test_presets_have_the_published_parameters():
    assert spatial_preset("easy") == COCO_N_PRESETS["easy"]
    table = {
        name: (lv.p, lv.simplify_tolerance, lv.jitter_sigma, lv.kernel, lv.class_noise_rate)
        for name, lv in COCO_N_PRESETS.items()
    }
    assert table == {"easy": (0.2, 5, 2, 3, 0.2), "medium": (0.25, 10, 3, 5, 0.3), "hard": (0.3, 15, 4, 7, 0.4)}
    noise = SpatialNoise.from_preset("hard", seed=3)
    assert (noise.p, noise.kernel, noise.jitter_sigma, noise.simplify_tolerance, noise.seed) == (0.3, 7, 4.0, 15.0, 3)
    with pytest.raises(ValueError, match="unknown spatial preset"):
        spatial_preset("extreme")


@pytest.mark.parametrize("level", ["easy", "medium", "hard"])
def test_op_fractions_are_the_benchmarks(level):
    """noise_annotations.py draws one op with weights approximation p, localization p, rand p, none 1-3p."""
    n = 40_000
    noise = SpatialNoise.from_preset(level, seed=1)
    p = spatial_preset(level).p
    ops = noise.choose_ops(np.arange(n) // 5, np.arange(n))
    fractions = np.bincount(ops, minlength=5) / n
    # clean, dilate + erode (rand, 50/50), jitter (localization), simplify (approximation)
    expected = {"corrupted": 3 * p, "dilate": p / 2, "erode": p / 2, "jitter": p, "simplify": p}
    observed = {"corrupted": 1 - fractions[0], **{OP_NAMES[i]: fractions[i] for i in range(1, 5)}}
    for name, q in expected.items():
        assert abs(observed[name] - q) < 4 * np.sqrt(q * (1 - q) / n), (name, observed[name], q)
    assert noise.corrupted_probability == pytest.approx(3 * p)
    assert {"easy": 0.6, "medium": 0.75, "hard": 0.9}[level] == pytest.approx(3 * p)


def test_corrupted_set_is_nested_across_p():
    n = 5000
    low = SpatialNoise(0.2, 3, 2, 5, seed=2).choose_ops(7, np.arange(n))
    high = SpatialNoise(0.3, 3, 2, 5, seed=2).choose_ops(7, np.arange(n))
    assert ((low == 0) | (high == low)).all() and (high != 0).sum() > (low != 0).sum()


def test_dilation_and_erosion_grow_and_shrink_polygons_by_the_kernel_radius():
    noise = SpatialNoise(0.3, 3, 2, 5)
    area = segmentation_area(RECT, HW)
    assert area == 80 * 60
    dilated = noise.apply_op(RECT, DILATE, HW, 0, 0)
    eroded = noise.apply_op(RECT, ERODE, HW, 0, 0)
    assert isinstance(dilated, list) and isinstance(eroded, list)
    assert segmentation_area(dilated, HW) == pytest.approx(82 * 62, rel=0.01)
    assert segmentation_area(eroded, HW) == pytest.approx(78 * 58, rel=0.01)
    assert raster(eroded).sum() < raster(RECT).sum() < raster(dilated).sum()
    assert (raster(dilated) >= raster(RECT)).all() and (raster(eroded) <= raster(RECT)).all()
    # traced on a 4x raster: within 0.5 / 4 px of the exact pixel boundary on each side
    np.testing.assert_allclose(bbox_of_segmentation(dilated), [19, 29, 82, 62], atol=0.26)
    big = SpatialNoise(0.3, 7, 2, 5).apply_op(RECT, DILATE, HW, 0, 0)
    assert segmentation_area(big, HW) == pytest.approx(86 * 66, rel=0.01)


def _benchmark_localization(mask, normals, sigma):
    """noise_annotations.py's add_localization_noise, with its np.random.normal draws given."""
    out = np.zeros(mask.shape, np.uint8)
    start = 0
    for contour in cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]:
        vertices = contour[:, 0, :]
        noise = normals[start : start + vertices.size].reshape(vertices.shape) * sigma
        start += vertices.size
        polygon_mask = np.zeros(mask.shape, np.uint8)
        cv2.fillPoly(polygon_mask, [np.round(vertices + noise).astype(np.int32)], 1)
        out = np.maximum(out, polygon_mask)
    return out


def _benchmark_approximation(mask, tolerance):
    """noise_annotations.py's add_approximation_noise."""
    out = np.zeros(mask.shape, np.uint8)
    for contour in cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]:
        polygon = contour[:, 0, :]
        if len(polygon) < 4:
            continue
        simplified = Polygon(polygon).simplify(tolerance, preserve_topology=True)
        polygon_mask = np.zeros(mask.shape, np.uint8)
        cv2.fillPoly(polygon_mask, [np.array(simplified.exterior.coords).reshape((-1, 1, 2)).astype(np.int32)], 1)
        out = np.maximum(out, polygon_mask)
    return out


@pytest.mark.parametrize("shape", [circle(), circle(30.0, 40.0, 25.0, 40), RECT])
def test_jitter_is_the_benchmarks_localization_on_the_raster(shape):
    noise = SpatialNoise(0.3, 3, 3.0, 5, seed=4)
    mask = raster(shape).astype(np.uint8)
    out = noise.apply_op(mask, JITTER, HW, 1, 2)
    points = sum(c.size for c in cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0])
    normals = keyed_standard_normal(4, 1, 2, JITTER_STREAM, np.arange(points))
    np.testing.assert_array_equal(out, _benchmark_localization(mask, normals, 3.0))
    assert 0.5 < iou(out, mask) < 0.99
    np.testing.assert_array_equal(out, noise.apply_op(mask, JITTER, HW, 1, 2))  # keyed: same every time
    assert not np.array_equal(out, noise.apply_op(mask, JITTER, HW, 1, 3))
    # polygons are jittered on their raster and traced back
    assert iou(noise.apply_op(shape, JITTER, HW, 1, 2), out) > 0.97


def test_jitter_stays_inside_the_image():
    corner = [[0.0, 0.0, 30.0, 0.0, 30.0, 30.0, 0.0, 30.0]]
    jittered = SpatialNoise(0.3, 3, 10.0, 5).apply_op(corner, JITTER, HW, 0, 5)
    points = np.asarray(jittered[0]).reshape(-1, 2)
    assert (points >= 0).all() and (points[:, 0] <= HW[1]).all() and (points[:, 1] <= HW[0]).all()


@pytest.mark.parametrize("tolerance", [5.0, 15.0])
def test_simplify_is_the_benchmarks_approximation_on_the_raster(tolerance):
    mask = raster(circle()).astype(np.uint8)
    out = SpatialNoise(0.3, 3, 2, tolerance).apply_op(mask, SIMPLIFY, HW, 0, 0)
    np.testing.assert_array_equal(out, _benchmark_approximation(mask, tolerance))
    assert {5.0: 0.85, 15.0: 0.5}[tolerance] < iou(out, mask) < 0.99
    polygons = SpatialNoise(0.3, 3, 2, tolerance).apply_op(circle(), SIMPLIFY, HW, 0, 0)
    assert iou(polygons, out) > 0.97


@pytest.mark.parametrize("op", [DILATE, ERODE, JITTER, SIMPLIFY])
def test_rle_and_mask_inputs_keep_their_kind(op):
    noise = SpatialNoise(0.3, 5, 3.0, 10.0, seed=1)
    mask = raster(circle())
    rle = mask_to_rle(mask)
    out_rle = noise.apply_op(rle, op, HW, 3, 4)
    out_mask = noise.apply_op(mask, op, HW, 3, 4)
    assert isinstance(out_rle, dict) and isinstance(out_rle["counts"], str) and out_rle["size"] == list(HW)
    assert isinstance(out_mask, np.ndarray) and out_mask.dtype == bool and out_mask.shape == HW
    np.testing.assert_array_equal(raster(out_rle), out_mask)  # same op on the same pixels
    assert 0.7 < iou(out_mask, mask) <= 1.0
    if op == DILATE:
        assert out_mask.sum() > mask.sum()
    if op == ERODE:
        assert out_mask.sum() < mask.sum()


def test_bytes_and_uncompressed_rle_inputs():
    mask = raster(RECT)
    rle = mask_to_rle(mask)
    as_bytes = {"size": rle["size"], "counts": rle["counts"].encode()}
    out = SpatialNoise(0.3, 3, 2, 5).apply_op(as_bytes, DILATE, HW, 0, 0)
    assert isinstance(out["counts"], bytes)
    # uncompressed counts: column-major run lengths, starting with a run of zeros
    flat = mask.T.reshape(-1).astype(np.int8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.r_[0, changes, flat.size]).tolist()
    uncompressed = {"size": list(HW), "counts": runs if flat[0] == 0 else [0, *runs]}
    np.testing.assert_array_equal(rle_to_mask(uncompressed).astype(bool), mask)


def test_apply_one_is_deterministic_recomputes_bbox_and_matches_corrupt():
    noise = SpatialNoise(0.3, 3, 2.0, 5.0, seed=11)
    ops = noise.choose_ops(5, np.arange(200))
    seen = set()
    for ann_key in range(200):
        segmentation, bbox, name = noise.apply_one(RECT, [20, 30, 80, 60], HW, 5, ann_key)
        assert name == OP_NAMES[ops[ann_key]]
        seen.add(name)
        if name == "clean":
            assert segmentation is RECT and bbox == [20, 30, 80, 60]
        else:
            assert bbox == bbox_of_segmentation(segmentation)
            again = noise.corrupt(RECT, [20, 30, 80, 60], HW, 5, ann_key, int(ops[ann_key]))
            assert again == (segmentation, bbox, name)
    assert seen == set(OP_NAMES) - {"boundary"}  # COCO-N's ops; the Markov boundary op is boundary_noise's
    _, xyxy, name = noise.apply_one(RECT, [20, 30, 100, 90], HW, 5, int(np.flatnonzero(ops == DILATE)[0]), "xyxy")
    np.testing.assert_allclose(xyxy, [19, 29, 101, 91], atol=0.26)


def test_erosion_that_would_delete_the_object_is_skipped():
    tiny = [[10.0, 10.0, 12.0, 10.0, 12.0, 12.0, 10.0, 12.0]]
    noise = SpatialNoise(0.3, 7, 2, 5)
    assert noise.apply_op(tiny, ERODE, HW, 0, 0) is None
    ann_key = int(np.flatnonzero(noise.choose_ops(0, np.arange(100)) == ERODE)[0])
    segmentation, bbox, name = noise.apply_one(tiny, [10, 10, 2, 2], HW, 0, ann_key)
    assert (segmentation, bbox, name) == (tiny, [10, 10, 2, 2], "erode_skipped")
    invalid = [[1.0, 2.0, 3.0, 4.0]]  # no valid polygon part: nothing to dilate
    assert noise.corrupt(invalid, [1, 2, 2, 2], HW, 0, 0, DILATE) == (invalid, [1, 2, 2, 2], "dilate_skipped")


def test_missing_annotation_noise_rate_and_nesting():
    n = 20_000
    keep_low = MissingAnnotationNoise(0.1, seed=1).keep_mask(np.arange(n) // 3, np.arange(n))
    keep_high = MissingAnnotationNoise(0.3, seed=1).keep_mask(np.arange(n) // 3, np.arange(n))
    assert abs((~keep_low).mean() - 0.1) < 4 * np.sqrt(0.09 / n)
    assert (keep_low | ~keep_high).all()  # dropped at 0.1 -> dropped at 0.3
    assert MissingAnnotationNoise(0.0).keep_mask(0, np.arange(10)).all()
    assert not MissingAnnotationNoise(1.0).keep_mask(0, np.arange(10)).any()
    assert MissingAnnotationNoise(0.5).keep_mask(0, np.zeros(0, np.int64)).shape == (0,)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: SpatialNoise(1.2, 3, 2, 5), r"p must be in \[0, 1\]"),
        (lambda: SpatialNoise(0.4, 3, 2, 5), r"p must be <= 1/3"),
        (lambda: SpatialNoise(0.2, 0, 2, 5), "kernel"),
        (lambda: SpatialNoise(0.2, 3, -2, 5), "jitter_sigma"),
        (lambda: SpatialNoise(0.2, 3, 2, 5).apply_op("rect", DILATE, HW, 0, 0), "segmentation"),
        (lambda: SpatialNoise(0.2, 3, 2, 5).apply_op(RECT, 9, HW, 0, 0), "op must be"),
        (lambda: SpatialNoise(0.2, 3, 2, 5).apply_op(np.zeros((5, 5), bool), DILATE, HW, 0, 0), "image_hw is"),
        (lambda: MissingAnnotationNoise(2.0), "rate"),
    ],
)
def test_invalid_inputs_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_segmentation_to_mask_reads_every_coco_form_and_none_for_no_mask():
    from noisy_seg.noise.geometry import mask_to_rle, segmentation_to_mask

    square = [[2.0, 2.0, 8.0, 2.0, 8.0, 8.0, 2.0, 8.0]]
    mask = segmentation_to_mask(square, 12, 10)
    assert mask.dtype == bool and mask.shape == (12, 10) and mask[4, 4] and not mask[0, 0]
    rle = mask_to_rle(mask)
    uncompressed = {"size": [12, 10], "counts": _runs(mask)}
    for form in (rle, {**rle, "counts": rle["counts"].encode()}, uncompressed):
        np.testing.assert_array_equal(segmentation_to_mask(form, 12, 10), mask)
    assert segmentation_to_mask([[1.0, 2.0, 3.0, 4.0]], 12, 10) is None  # no polygon of 3 points
    assert segmentation_to_mask([], 12, 10) is None and segmentation_to_mask(None, 12, 10) is None


def _runs(mask) -> list:
    """COCO's uncompressed RLE counts of a mask: column-major runs, the first one of zeros."""
    runs, current, count = [], 0, 0
    for value in mask.T.reshape(-1).tolist():
        if value == current:
            count += 1
        else:
            runs.append(count)
            current, count = value, 1
    return runs + [count]
