"""The offline path (apply_noise_to_coco, all annotations at once) must equal the on-the-fly
path (NoisePipeline, one image at a time, as a DatasetMapper calls it) for one seed."""

import copy
import os
import stat

import cv2
import numpy as np
import pytest

from noisy_seg.data.datasets.cityscapes_coco import cityscapes_to_coco
from noisy_seg.noise.coco import apply_noise_to_coco, category_index
from noisy_seg.utils.files import load_json, save_json_atomic
from noisy_seg.noise.registry import build_noise

CATEGORY_IDS = [1, 3, 7, 8, 12, 20]


def make_coco(num_images=40, per_image=8, seed=0, string_ids=False, with_ids=True):
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    for i in range(num_images):
        image_id = f"city_{i:04d}_000019" if string_ids else 100 + i
        height, width = int(rng.integers(60, 90)), int(rng.integers(80, 120))
        images.append({"id": image_id, "file_name": f"img_{i}.png", "height": height, "width": width})
        for _ in range(int(rng.integers(0, per_image))):
            x, y = rng.uniform(0, width - 30), rng.uniform(0, height - 25)
            w, h = rng.uniform(6, 28), rng.uniform(6, 22)
            polygon = [x, y, x + w, y, x + w, y + h, x + w / 2, y + h * 1.2, x, y + h]
            polygon = np.round(np.minimum(polygon, [width, height] * 5), 2).tolist()
            ann = {
                "image_id": image_id,
                "category_id": int(rng.choice(CATEGORY_IDS)),
                "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
                "segmentation": [polygon],
                "area": w * h,
                "iscrowd": int(rng.random() < 0.05),
            }
            if with_ids:
                ann["id"] = 5000 + len(annotations) * 3
            annotations.append(ann)
    order = rng.permutation(len(annotations))  # annotations of an image need not be adjacent in a json
    annotations = [annotations[i] for i in order]
    categories = [{"id": c, "name": f"class_{c}"} for c in CATEGORY_IDS[::-1]]  # unsorted on purpose
    return {"images": images, "annotations": annotations, "categories": categories}


def mapper_view(dataset, pipeline, images_root=None):
    """What an on-the-fly mapper produces: per image, shuffled image order, contiguous labels."""
    to_index = {c: i for i, c in enumerate(sorted(CATEGORY_IDS))}
    by_image = {}
    for ann in dataset["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    results = {}
    for position in np.random.default_rng(1).permutation(len(dataset["images"])).tolist():
        image = dataset["images"][position]
        anns = [dict(a, category_id=to_index[a["category_id"]]) for a in by_image.get(image["id"], [])]
        pixels = cv2.imread(os.path.join(images_root, image["file_name"])) if images_root else None
        out = pipeline.apply_to_annotations(anns, image["id"], (image["height"], image["width"]), pixels)
        results[image["id"]] = [
            (sorted(CATEGORY_IDS)[a["category_id"]], a["noise"], a["segmentation"], a["bbox"]) for a in out
        ]
    return results


def offline_view(noisy_dataset):
    results = {image["id"]: [] for image in noisy_dataset["images"]}
    for ann in noisy_dataset["annotations"]:
        results[ann["image_id"]].append((ann["category_id"], ann["noise"], ann["segmentation"], ann["bbox"]))
    return results


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "symmetric", "rate": 0.5, "seed": 3},
        {"type": "asymmetric", "rate": 0.6, "seed": 1, "mapping": {0: [1, 2], 4: 5}},
        [{"type": "spatial", "preset": "hard", "seed": 2, "p": 0.3}, {"type": "drop", "rate": 0.2, "seed": 2}],
        [{"type": "mask_boundary", "rate": 0.1, "steps": 12, "seed": 4}, {"type": "symmetric", "rate": 0.3, "seed": 4}],
    ],
    ids=["symmetric", "asymmetric", "spatial+drop", "mask_boundary+symmetric"],
)
@pytest.mark.parametrize("variant", ["int_ids", "string_image_ids_no_ann_ids"])
def test_offline_equals_on_the_fly(spec, variant):
    dataset = make_coco(string_ids=variant != "int_ids", with_ids=variant == "int_ids")
    pipeline = build_noise(spec, len(CATEGORY_IDS))
    noisy, report = apply_noise_to_coco(dataset, pipeline)
    assert offline_view(noisy) == mapper_view(dataset, pipeline)
    assert report.num_class_flipped + report.op_counts.get("clean", 0) > 0
    tags = [a["noise"] for a in noisy["annotations"]]
    assert len(set(tags)) > 1  # something happened


def test_idn_offline_equals_on_the_fly_with_images(tmp_path):
    dataset = make_coco(num_images=12, per_image=10, seed=4)
    rng = np.random.default_rng(0)
    for image in dataset["images"]:
        pixels = rng.integers(0, 256, (image["height"], image["width"], 3), dtype=np.uint8)
        cv2.imwrite(str(tmp_path / image["file_name"]), pixels)
    pipeline = build_noise(
        {"type": "instance_dependent", "rate": 0.6, "seed": 0, "feature_size": [8, 8]}, len(CATEGORY_IDS)
    )
    noisy, report = apply_noise_to_coco(dataset, pipeline, images_root=tmp_path)
    assert report.num_class_flipped > 0
    assert offline_view(noisy) == mapper_view(dataset, pipeline, images_root=str(tmp_path))
    with pytest.raises(ValueError, match="images_root"):
        apply_noise_to_coco(dataset, pipeline)


def test_output_keeps_ids_maps_categories_back_and_leaves_input_untouched():
    dataset = make_coco()
    before = copy.deepcopy(dataset)
    noisy, report = apply_noise_to_coco(dataset, {"type": "symmetric", "rate": 0.4, "seed": 0})
    assert dataset == before
    assert noisy["images"] == dataset["images"] and noisy["categories"] == dataset["categories"]
    assert [a["id"] for a in noisy["annotations"]] == [a["id"] for a in dataset["annotations"]]
    for old, new in zip(dataset["annotations"], noisy["annotations"]):
        assert new["clean_category_id"] == old["category_id"] and new["category_id"] in CATEGORY_IDS
        assert (new["noise"] == "class_flip") == (new["category_id"] != old["category_id"])
        if old["iscrowd"]:
            assert new["noise"] == "clean"
    assert report.num_class_flipped == sum(a["noise"] == "class_flip" for a in noisy["annotations"])
    assert report.num_noisable == len(dataset["annotations"]) - report.num_crowd
    assert report.transition_counts.sum() == report.num_noisable
    assert "class_12" in report.format() and report.to_dict()["num_class_flipped"] == report.num_class_flipped


def test_spatial_output_updates_bbox_and_area_and_drop_removes():
    dataset = make_coco(seed=2)
    noisy, report = apply_noise_to_coco(
        dataset,
        [{"type": "spatial", "preset": "hard", "p": 1 / 3, "class_rate": 0}, {"type": "drop", "rate": 0.3, "seed": 1}],
    )
    assert report.num_dropped == len(dataset["annotations"]) - len(noisy["annotations"]) > 0
    tags = [a["noise"] for a in noisy["annotations"] if not a["iscrowd"]]
    assert report.op_counts == {tag: tags.count(tag) for tag in set(tags)}
    originals = {a["id"]: a for a in dataset["annotations"]}
    for ann in noisy["annotations"]:
        if ann["noise"] in ("dilate", "erode", "jitter", "simplify"):
            points = np.concatenate([np.reshape(p, (-1, 2)) for p in ann["segmentation"]])
            np.testing.assert_allclose(ann["bbox"][:2], points.min(axis=0), atol=0.011)
            if ann["noise"] == "dilate":
                assert ann["area"] > originals[ann["id"]]["area"] * 0.9
        else:
            assert ann["segmentation"] == originals[ann["id"]]["segmentation"]


def test_category_index_sorts_ids_and_errors_are_one_line():
    ids, names = category_index([{"id": 9, "name": "b"}, {"id": 2, "name": "a"}])
    assert ids.tolist() == [2, 9] and names == ["a", "b"]
    dataset = make_coco(num_images=3)
    dataset["annotations"][0]["category_id"] = 99
    with pytest.raises(ValueError, match="category_id 99 which is not in 'categories'"):
        apply_noise_to_coco(dataset, {"type": "symmetric", "rate": 0.1})
    dataset = make_coco(num_images=3)
    dataset["annotations"][0]["image_id"] = -5
    with pytest.raises(ValueError, match="image_id -5"):
        apply_noise_to_coco(dataset, {"type": "symmetric", "rate": 0.1})
    with pytest.raises(ValueError, match="no 'annotations' list"):
        apply_noise_to_coco({"images": [], "categories": []}, {"type": "none"})
    with pytest.raises(ValueError, match="built for 3 classes"):
        apply_noise_to_coco(make_coco(num_images=2), build_noise({"type": "symmetric", "rate": 0.1}, 3))


def test_empty_annotations():
    dataset = make_coco(num_images=2)
    dataset["annotations"] = []
    noisy, report = apply_noise_to_coco(dataset, [{"type": "spatial", "preset": "easy"}, {"type": "drop", "rate": 0.5}])
    assert noisy["annotations"] == [] and report.num_annotations == 0 and report.realized_class_rate == 0.0


def test_cityscapes_dicts_convert_to_coco_without_ids():
    dicts = [
        {
            "file_name": "/data/leftImg8bit/train/aachen/a_leftImg8bit.png",
            "image_id": "a_leftImg8bit.png",
            "height": 64,
            "width": 128,
            "annotations": [
                {
                    "category_id": 2,
                    "bbox": [10, 10, 40, 30],
                    "bbox_mode": 0,
                    "iscrowd": False,
                    "segmentation": [[10, 10, 40, 10, 40, 30, 10, 30]],
                }
            ],
        }
    ]
    coco = cityscapes_to_coco(dicts, ["person", "rider", "car"], image_root="/data/leftImg8bit/train")
    ann = coco["annotations"][0]
    assert ann["bbox"] == [10, 10, 30, 20] and ann["category_id"] == 3 and "id" not in ann and ann["area"] == 600
    assert coco["images"][0]["file_name"] == "aachen/a_leftImg8bit.png"
    assert [c["name"] for c in coco["categories"]] == ["person", "rider", "car"]


def test_save_json_atomic_writes_whole_file_with_normal_mode(tmp_path):
    target = tmp_path / "sub" / "out.json"
    save_json_atomic({"a": [1, 2.5, "x"], "b": np.arange(3)}, target)
    assert load_json(target) == {"a": [1, 2.5, "x"], "b": [0, 1, 2]}
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]
    assert stat.S_IMODE(target.stat().st_mode) & 0o044  # readable by others like any file, not 0600
