"""tools/make_noisy_dataset.py writes exactly the noise NoisyDatasetMapper injects on the fly, for datasets read
through detectron2's own registration functions: register_coco_instances (which drops annotation ids), and the
Cityscapes loader both ways (from the polygon jsons, from the instanceIds PNGs). Ids and annotation order play
no part: annotations are keyed by their content."""

import copy
import json
from collections import Counter

import numpy as np
import pytest

from detectron2.data import DatasetCatalog
from detectron2.data.datasets import register_coco_instances
from detectron2.data.datasets.cityscapes import load_cityscapes_instances

from noisy_seg.cli import make_noisy_dataset
from noisy_seg.data import NoisyDatasetMapper
from noisy_seg.data.datasets.toy_shapes import cityscapes_paths, coco_paths

# the tool's flags and the mapper's name for the same noise
NOISES = {
    "sym40": ["--noise", "symmetric", "--rate", "0.4"],
    "coco_n_hard": ["--noise", "spatial", "--preset", "hard"],
    "drop30": ["--noise", "drop", "--rate", "0.3"],
    "idn40": ["--noise", "instance_dependent", "--rate", "0.4"],
}


def _mapper(noise):
    return NoisyDatasetMapper(
        is_train=True, augmentations=[], image_format="BGR", use_instance_mask=True, noise=noise, num_classes=8
    )


def _instance_tuple(clean, noisy, polygons):
    return int(clean), int(noisy), tuple(tuple(np.round(np.asarray(p, float), 6).tolist()) for p in polygons)


def _on_the_fly(records, noise):
    """image id -> multiset of (clean class, noisy class, polygons) of what the mapper trains on."""
    mapper, result = _mapper(noise), {}
    for record in records:
        instances = mapper(copy.deepcopy(record))["instances"]
        if not len(instances):  # every annotation dropped
            result[record["image_id"]] = Counter()
            continue
        result[record["image_id"]] = Counter(
            _instance_tuple(c, n, m)
            for c, n, m in zip(
                instances.gt_clean_classes.tolist(), instances.gt_classes.tolist(), instances.gt_masks.polygons
            )
        )
    return result


def _offline(path, first_category_id):
    """The same from the tool's output json (crowd annotations never reach the mapper)."""
    noisy = json.loads(path.read_text())
    result = {image["id"]: Counter() for image in noisy["images"]}
    for ann in noisy["annotations"]:
        if not ann.get("iscrowd", 0):
            result[ann["image_id"]][
                _instance_tuple(
                    ann["clean_category_id"] - first_category_id,
                    ann["category_id"] - first_category_id,
                    ann["segmentation"],
                )
            ] += 1
    return result


def _changed(offline):
    return sum(1 for counter in offline.values() for clean, noisy, _ in counter.elements() if clean != noisy)


@pytest.fixture(scope="module")
def coco_variants(tiny_toy, tmp_path_factory):
    """The tiny toy COCO json registered with register_coco_instances as it is, with its annotations shuffled,
    and with other annotation ids."""
    json_file, image_root = coco_paths(tiny_toy, "train")
    folder = tmp_path_factory.mktemp("coco_variants")
    dataset = json.loads(json_file.read_text())
    shuffled = copy.deepcopy(dataset)
    np.random.default_rng(0).shuffle(shuffled["annotations"])
    renumbered = copy.deepcopy(dataset)
    for ann in renumbered["annotations"]:
        ann["id"] = 1000 + 7 * ann["id"]
    names = {}
    for variant, data in {"as_is": dataset, "shuffled": shuffled, "renumbered": renumbered}.items():
        path = folder / f"{variant}.json"
        path.write_text(json.dumps(data))
        names[variant] = f"toy_tiny_registered_{variant}"
        if names[variant] not in DatasetCatalog.list():
            register_coco_instances(names[variant], {}, str(path), str(image_root))
    return json_file, image_root, names


@pytest.mark.parametrize("noise", sorted(NOISES))
def test_registered_coco_json_on_the_fly_equals_offline(coco_variants, tmp_path, noise):
    json_file, image_root, names = coco_variants
    output = tmp_path / "noisy.json"
    assert (
        make_noisy_dataset.main(
            [
                "--input",
                str(json_file),
                "--output",
                str(output),
                "--images-root",
                str(image_root),
                "--no-progress",
                *NOISES[noise],
            ]
        )
        == 0
    )
    offline = _offline(output, first_category_id=1)
    if noise != "drop30":
        assert _changed(offline) > 0 or noise == "coco_n_hard"
    for variant, name in names.items():
        records = DatasetCatalog.get(name)
        assert all("id" not in ann for r in records for ann in r["annotations"])  # detectron2 dropped them
        assert _on_the_fly(records, noise) == offline, variant


@pytest.mark.parametrize("source", ["json", "png"])
@pytest.mark.parametrize("noise", ["sym40", "coco_n_hard", "drop30", "idn40"])
@pytest.mark.slow
def test_cityscapes_loader_either_way_on_the_fly_equals_offline(tiny_toy, tmp_path, source, noise):
    image_dir, gt_dir = cityscapes_paths(tiny_toy, "train")
    output = tmp_path / "noisy.json"
    assert (
        make_noisy_dataset.main(
            [
                "--input",
                str(image_dir),
                "--gt-dir",
                str(gt_dir),
                "--output",
                str(output),
                "--cityscapes-from",
                source,
                "--no-progress",
                *NOISES[noise],
            ]
        )
        == 0
    )
    records = load_cityscapes_instances(str(image_dir), str(gt_dir), from_json=source == "json", to_polygons=True)
    np.random.default_rng(1).shuffle(records)
    for record in records:  # order within an image plays no part either
        record["annotations"] = record["annotations"][::-1]
    assert _on_the_fly(records, noise) == _offline(output, first_category_id=1)


def test_the_two_cityscapes_ways_differ_only_in_geometry(tiny_toy):
    """Why the tool asks which way: the same objects come with other polygons (and boxes)."""
    image_dir, gt_dir = cityscapes_paths(tiny_toy, "train")
    by_json = load_cityscapes_instances(str(image_dir), str(gt_dir), from_json=True, to_polygons=True)
    by_png = load_cityscapes_instances(str(image_dir), str(gt_dir), from_json=False, to_polygons=True)
    key = {r["image_id"]: sorted(a["category_id"] for a in r["annotations"]) for r in by_png}
    assert {r["image_id"]: sorted(a["category_id"] for a in r["annotations"]) for r in by_json} == key
    segmentations = [[a["segmentation"] for a in records[0]["annotations"]] for records in (by_json, by_png)]
    assert segmentations[0] != segmentations[1]
