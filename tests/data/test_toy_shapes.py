"""Toy-shapes generator (determinism, geometry, layouts, atomic writes) and its detectron2 glue
(loaders, registration, evaluators scoring the ground truth as predictions)."""

import json
import multiprocessing
import uuid
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from cityscapesscripts.helpers.labels import labels as cityscapes_labels
from cityscapesscripts.helpers.labels import name2label
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import load_coco_json
from detectron2.data.datasets.cityscapes import load_cityscapes_instances, load_cityscapes_semantic
from detectron2.evaluation import COCOEvaluator, CityscapesSemSegEvaluator

from noisy_seg.evaluation import CityscapesInstanceEvaluator
from detectron2.structures import Boxes, Instances

from noisy_seg.data.datasets import builtin, toy_shapes
from noisy_seg.data.datasets.toy_shapes import (
    CITYSCAPES_CLASS_NAMES,
    CITYSCAPES_LABEL_IDS,
    CITYSCAPES_TRAIN_IDS,
    TOY_CLASSES,
    cityscapes_paths,
    coco_paths,
    ensure_toy_dataset,
    read_manifest,
    render_toy_sample,
    write_toy_dataset,
)
from noisy_seg.noise.geometry import bbox_of_segmentation, fill_polygon, mask_to_exact_polygons, polygon_area

SMALL = dict(seed=0, num_train=12, num_val=4, image_size=96)


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("toy") / "toy_shapes"
    write_toy_dataset(root, **SMALL)
    return root


@pytest.fixture(scope="module")
def registered(dataset_root) -> str:
    """A prefix whose six datasets point at the small data set (same settings: no regeneration)."""
    prefix = f"test_toy_{uuid.uuid4().hex[:8]}"
    builtin.register_toy_datasets(dataset_root, prefix=prefix, **SMALL)
    return prefix


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def coco_masks(coco: dict, image_id: int, size: int) -> list[tuple[dict, np.ndarray]]:
    annotations = [a for a in coco["annotations"] if a["image_id"] == image_id]
    return [
        (
            a,
            mask_util.decode(mask_util.merge(mask_util.frPyObjects(a["segmentation"], size, size))).astype(bool),
        )
        for a in annotations
    ]


def read_png(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


# ------------------------------------------------------------------ generator


def test_classes_match_cityscapes_instance_labels():
    official = [label for label in cityscapes_labels if label.hasInstances and not label.ignoreInEval]
    assert list(CITYSCAPES_CLASS_NAMES) == [label.name for label in official]
    assert list(CITYSCAPES_LABEL_IDS) == [label.id for label in official]
    assert list(CITYSCAPES_TRAIN_IDS) == [label.trainId for label in official]
    assert len(set(TOY_CLASSES)) == 8


def test_render_is_deterministic_and_depends_on_seed_split_index():
    first, again = render_toy_sample(3, "train", 5, 96), render_toy_sample(3, "train", 5, 96)
    assert np.array_equal(first.image, again.image)
    assert [o.class_index for o in first.objects] == [o.class_index for o in again.objects]
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(first.objects, again.objects))
    for other in (
        render_toy_sample(4, "train", 5, 96),
        render_toy_sample(3, "val", 5, 96),
        render_toy_sample(3, "train", 6, 96),
    ):
        assert not np.array_equal(first.image, other.image)


def test_render_leaves_the_global_rng_alone():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    render_toy_sample(0, "train", 0)
    assert np.random.random() == expected


def test_objects_obey_size_and_visibility_rules():
    counts = []
    for index in range(40):
        sample = render_toy_sample(1, "train", index)
        assert sample.image.shape == (128, 128, 3) and sample.image.dtype == np.uint8
        counts.append(len(sample.objects))
        stacked = np.zeros((128, 128), dtype=int)
        for obj in sample.objects:
            area = int(obj.mask.sum())
            assert area >= toy_shapes.render.MIN_VISIBLE_AREA
            assert area >= toy_shapes.render.MIN_VISIBLE_FRACTION * polygon_area(obj.outline)
            stacked += obj.mask
        assert stacked.max() <= 1, "visible masks overlap"
    assert min(counts) >= 1 and max(counts) <= 4 and len(set(counts)) >= 3


def test_occlusion_removes_covered_pixels_from_earlier_objects():
    occluded = 0
    for index in range(40):
        sample = render_toy_sample(0, "train", index)
        for below, obj in enumerate(sample.objects):
            full = fill_polygon(obj.outline, 128, 128)
            covered_by_later = np.zeros_like(full)
            for later in sample.objects[below + 1 :]:
                covered_by_later |= fill_polygon(later.outline, 128, 128)
            assert np.array_equal(obj.mask, full & ~covered_by_later)
            occluded += bool((full & covered_by_later).any())
    assert occluded > 0, "no occlusion in 40 images: the scene sampler lost its overlaps"


def test_same_settings_write_byte_identical_files(dataset_root, tmp_path):
    write_toy_dataset(tmp_path / "again", **SMALL)
    assert all_files(dataset_root) == all_files(tmp_path / "again")
    write_toy_dataset(tmp_path / "other_seed", **{**SMALL, "seed": 1})
    other = all_files(tmp_path / "other_seed")
    annotations = "coco/annotations/instances_train.json"
    assert other[annotations] != (dataset_root / annotations).read_bytes()
    assert other["coco/train/000000.png"] != (dataset_root / "coco/train/000000.png").read_bytes()


def test_written_images_are_the_rendered_rgb_images(dataset_root):
    for split, index in (("train", 0), ("train", 11), ("val", 3)):
        rendered = render_toy_sample(SMALL["seed"], split, index, SMALL["image_size"]).image
        assert np.array_equal(read_png(dataset_root / f"coco/{split}/{index:06d}.png")[:, :, ::-1], rendered)


def test_image_i_does_not_depend_on_split_size(dataset_root, tmp_path):
    write_toy_dataset(tmp_path / "fewer", **{**SMALL, "num_train": 5, "num_val": 2})
    for index in range(5):
        name = f"coco/train/{index:06d}.png"
        assert (tmp_path / "fewer" / name).read_bytes() == (dataset_root / name).read_bytes()
    small = json.loads((tmp_path / "fewer/coco/annotations/instances_train.json").read_text())
    full = json.loads((dataset_root / "coco/annotations/instances_train.json").read_text())
    assert small["annotations"] == [a for a in full["annotations"] if a["image_id"] <= 5]


def test_coco_json_fields_and_polygons_reproduce_masks_and_boxes(dataset_root):
    coco = json.loads((dataset_root / "coco/annotations/instances_train.json").read_text())
    assert [c["id"] for c in coco["categories"]] == list(range(1, 9))
    assert [c["name"] for c in coco["categories"]] == list(TOY_CLASSES)
    assert all(c["supercategory"] for c in coco["categories"])
    assert [i["id"] for i in coco["images"]] == list(range(1, 13))
    assert all(i["height"] == i["width"] == 96 for i in coco["images"])
    ids = [a["id"] for a in coco["annotations"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    for image in coco["images"]:
        union = np.zeros((96, 96), dtype=int)
        for annotation, mask in coco_masks(coco, image["id"], 96):
            assert annotation["iscrowd"] == 0 and 1 <= annotation["category_id"] <= 8
            assert all(len(polygon) >= 6 and len(polygon) % 2 == 0 for polygon in annotation["segmentation"])
            # The polygons decode to exactly the visible mask: tight box and area match with no slack.
            assert annotation["bbox"] == bbox_of_segmentation(mask, "mask")
            assert annotation["area"] == int(mask.sum())
            union += mask
        assert union.max() <= 1, "decoded COCO masks overlap"


def test_mask_to_exact_polygons_inverts_pycocotools_rasterization():
    rng = np.random.default_rng(0)
    for _ in range(30):
        blobs = cv2.GaussianBlur(rng.random((40, 40)), (0, 0), 2.0)
        mask = blobs > np.quantile(blobs, 0.6)  # irregular, several parts
        filled = np.zeros(mask.shape, np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(filled, contours, -1, 1, thickness=-1)
        decoded = mask_util.decode(mask_util.merge(mask_util.frPyObjects(mask_to_exact_polygons(mask), 40, 40)))
        assert np.array_equal(decoded.astype(bool), filled.astype(bool))
    single_pixel = np.zeros((5, 5), bool)
    single_pixel[2, 3] = True
    assert bbox_of_segmentation(single_pixel, "mask") == [3.0, 2.0, 1.0, 1.0]
    assert mask_util.decode(mask_util.frPyObjects(mask_to_exact_polygons(single_pixel), 5, 5))[..., 0].sum() == 1


def expected_train_id(label_id: int) -> int:
    return 0 if label_id == 7 else CITYSCAPES_TRAIN_IDS[CITYSCAPES_LABEL_IDS.index(label_id)]


def test_cityscapes_maps_agree_with_each_other_and_with_coco(dataset_root):
    coco = json.loads((dataset_root / "coco/annotations/instances_val.json").read_text())
    image_dir, gt_dir = cityscapes_paths(dataset_root, "val")
    for index in range(4):
        stem = gt_dir / "toycity" / f"toycity_000000_{index:06d}_gtFine_"
        instance_ids = read_png(Path(f"{stem}instanceIds.png"))
        label_ids = read_png(Path(f"{stem}labelIds.png"))
        train_ids = read_png(Path(f"{stem}labelTrainIds.png"))
        assert instance_ids.dtype == np.uint16 and label_ids.dtype == train_ids.dtype == np.uint8
        as_label = np.where(instance_ids >= 1000, instance_ids // 1000, instance_ids)
        assert np.array_equal(as_label, label_ids)
        expected_train = np.vectorize(expected_train_id)(label_ids)
        assert np.array_equal(train_ids, expected_train)
        # Same image in both layouts, same objects: each COCO mask is exactly one Cityscapes instance.
        image = read_png(image_dir / "toycity" / f"toycity_000000_{index:06d}_leftImg8bit.png")
        assert np.array_equal(image, read_png(dataset_root / f"coco/val/{index:06d}.png"))
        for annotation, mask in coco_masks(coco, index + 1, 96):
            values = np.unique(instance_ids[mask])
            assert len(values) == 1 and np.array_equal(instance_ids == values[0], mask)
            assert values[0] // 1000 == CITYSCAPES_LABEL_IDS[annotation["category_id"] - 1]
        assert len(np.unique(instance_ids[instance_ids >= 1000])) == len(coco_masks(coco, index + 1, 96))


def test_cityscapes_polygons_json_redraws_the_label_map(dataset_root):
    _, gt_dir = cityscapes_paths(dataset_root, "train")
    for index in range(12):
        stem = gt_dir / "toycity" / f"toycity_000000_{index:06d}_gtFine_"
        polygons = json.loads(Path(f"{stem}polygons.json").read_text())
        assert polygons["imgHeight"] == polygons["imgWidth"] == 96
        assert polygons["objects"][0]["label"] == "road"
        redrawn = np.zeros((96, 96), np.uint8)
        for obj in polygons["objects"]:  # Cityscapes order: each outline covers the earlier ones
            fixed = np.round(np.asarray(obj["polygon"]) * 16).astype(np.int32)
            cv2.fillPoly(redrawn, [fixed], name2label[obj["label"]].id, lineType=cv2.LINE_8, shift=4)
        assert np.array_equal(redrawn, read_png(Path(f"{stem}labelIds.png")))


def test_ensure_reuses_a_matching_dataset_and_never_replaces_one_with_other_settings(tmp_path):
    root = tmp_path / "toy"
    assert ensure_toy_dataset(root, **SMALL) == root.resolve()
    manifest_file = root / "MANIFEST.json"
    stamp = manifest_file.stat().st_mtime_ns
    ensure_toy_dataset(root, **SMALL, layout="coco")  # a subset of what is there
    assert manifest_file.stat().st_mtime_ns == stamp
    before = all_files(root)
    with pytest.raises(
        ValueError,
        match=r"generated with seed=0, num_train=12, num_val=4, image_size=96, not the "
        r"requested .*num_val=3.*; it is left as it is",
    ) as error:
        ensure_toy_dataset(root, **{**SMALL, "num_val": 3})
    assert "\n" not in str(error.value)
    assert all_files(root) == before
    write_toy_dataset(root, **{**SMALL, "num_val": 3})  # explicit: replaces
    assert read_manifest(root)["num_val"] == 3
    assert len(list((root / "coco/val").glob("*.png"))) == 3
    assert [p.name for p in tmp_path.iterdir() if "staging" in p.name or "retired" in p.name] == []


def test_an_older_generator_version_or_missing_layout_is_regenerated_with_the_same_settings(tmp_path):
    root = tmp_path / "toy"
    ensure_toy_dataset(root, **SMALL, layout="coco")
    ensure_toy_dataset(root, **SMALL, layout="cityscapes")  # adds the layout, keeps the other
    assert sorted(read_manifest(root)["layouts"]) == ["cityscapes", "coco"]
    manifest = read_manifest(root)
    (root / "MANIFEST.json").write_text(json.dumps({**manifest, "version": manifest["version"] - 1}))
    ensure_toy_dataset(root, **SMALL)
    assert read_manifest(root)["version"] == manifest["version"]


def test_a_crash_mid_generation_leaves_the_old_dataset_intact(tmp_path, monkeypatch):
    root = tmp_path / "toy"
    ensure_toy_dataset(root, **SMALL)
    before = all_files(root)

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(toy_shapes.cache, "_write_split", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        write_toy_dataset(root, **{**SMALL, "seed": 5})
    assert all_files(root) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".toy.lock", "toy"]


def test_only_one_of_two_concurrent_processes_generates(tmp_path, monkeypatch):
    root = tmp_path / "toy"
    context = multiprocessing.get_context("fork")  # forked workers inherit the patched module
    generations = context.Value("i", 0)
    generate = toy_shapes.cache._generate_locked

    def counting_generate(*args):
        with generations.get_lock():
            generations.value += 1
        return generate(*args)

    monkeypatch.setattr(toy_shapes.cache, "_generate_locked", counting_generate)
    with context.Pool(2) as pool:
        paths = pool.starmap(ensure_toy_dataset, [(root, 0, 12, 4, 96)] * 2)
    assert paths == [root.resolve()] * 2
    assert generations.value == 1, "the second process must find the first one's data set"
    assert read_manifest(root)["num_train"] == 12
    assert len(list((root / "coco/train").glob("*.png"))) == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == [".toy.lock", "toy"]


def test_never_replaces_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a toy_shapes data set"):
        ensure_toy_dataset(tmp_path / "mine", **SMALL)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    assert read_manifest(ensure_toy_dataset(tmp_path / "empty", **SMALL))["num_train"] == 12


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: render_toy_sample(0, "test", 0), "split must be one of"),
        (lambda: render_toy_sample(0, "train", -1), "index must be"),
        (lambda: render_toy_sample(-1, "train", 0), "seed must be"),
        (lambda: render_toy_sample(0, "train", 0, image_size=32), "image_size must be"),
        (lambda: ensure_toy_dataset("/tmp/unused", layout="voc"), "layout must be"),
        (lambda: ensure_toy_dataset("/tmp/unused", num_train=0), "num_train must be"),
        (lambda: ensure_toy_dataset("/tmp/unused", num_train=10**9), r"num_train must be an int in \[1, 200000\]"),
        (lambda: ensure_toy_dataset("/tmp/unused", image_size=100_000), "image_size must be"),
        (lambda: mask_to_exact_polygons(np.zeros((4, 4), bool)), "mask is empty"),
        (lambda: mask_to_exact_polygons(np.ones((4, 4), np.uint8)), "bool"),
        (lambda: coco_paths("/tmp", "test"), "split must be one of"),
    ],
)
def test_bad_inputs_raise_one_line_value_errors(call, message):
    with pytest.raises(ValueError, match=message) as error:
        call()
    assert "\n" not in str(error.value)


# ------------------------------------------------------------------ detectron2 glue


def test_detectron2_coco_loader_reads_classes_and_annotation_ids(dataset_root):
    json_file, image_root = coco_paths(dataset_root, "train")
    name = f"toy_coco_loader_{uuid.uuid4().hex[:8]}"
    dicts = load_coco_json(str(json_file), str(image_root), name, extra_annotation_keys=["id"])
    coco = json.loads(json_file.read_text())
    assert len(dicts) == 12
    assert MetadataCatalog.get(name).thing_classes == list(TOY_CLASSES)
    loaded = {a["id"]: a["category_id"] for d in dicts for a in d["annotations"]}
    assert loaded == {a["id"]: a["category_id"] - 1 for a in coco["annotations"]}


def test_detectron2_cityscapes_loaders_agree_with_coco(dataset_root):
    image_dir, gt_dir = cityscapes_paths(dataset_root, "val")
    instances = load_cityscapes_instances(str(image_dir), str(gt_dir), from_json=False, to_polygons=True)
    coco = json.loads(coco_paths(dataset_root, "val")[0].read_text())
    assert len(instances) == 4
    for record in instances:
        index = int(Path(record["file_name"]).name.split("_")[2])
        # COCO XYWH in pixel-edge units -> detectron2's inclusive pixel-index XYXY for Cityscapes
        expected = sorted(
            (a["category_id"] - 1, x, y, x + w - 1, y + h - 1)
            for a in coco["annotations"]
            if a["image_id"] == index + 1
            for x, y, w, h in [a["bbox"]]
        )
        loaded = sorted((a["category_id"], *a["bbox"]) for a in record["annotations"])
        assert loaded == expected  # same classes (contiguous ids) and the same inclusive XYXY boxes
    semantic = load_cityscapes_semantic(str(image_dir), str(gt_dir))
    assert len(semantic) == 4
    for record in semantic:
        assert record["sem_seg_file_name"].endswith("_gtFine_labelTrainIds.png")
        values = set(np.unique(read_png(Path(record["sem_seg_file_name"]))).tolist())
        assert values <= {0, *CITYSCAPES_TRAIN_IDS} and 0 in values


def test_default_names_are_registered_with_metadata():
    root = builtin.toy_data_root()
    assert set(builtin.TOY_DATASET_NAMES) == {
        "toy_shapes_train",
        "toy_shapes_val",
        "toy_shapes_cityscapes_train",
        "toy_shapes_cityscapes_val",
        "toy_shapes_cityscapes_sem_seg_train",
        "toy_shapes_cityscapes_sem_seg_val",
    }
    assert set(builtin.TOY_DATASET_NAMES) <= set(DatasetCatalog.list())
    coco = MetadataCatalog.get("toy_shapes_train")
    assert coco.evaluator_type == "coco" and coco.thing_classes == list(TOY_CLASSES)
    assert coco.json_file == str(root / "coco/annotations/instances_train.json")
    assert coco.image_root == str(root / "coco/train")
    assert coco.thing_dataset_id_to_contiguous_id == {i + 1: i for i in range(8)}
    assert coco.cityscapes_thing_classes == list(CITYSCAPES_CLASS_NAMES)
    instance = MetadataCatalog.get("toy_shapes_cityscapes_val")
    assert instance.evaluator_type == "cityscapes_instance"
    assert instance.thing_classes == list(CITYSCAPES_CLASS_NAMES)
    assert instance.gt_dir == str(root / "cityscapes/gtFine/val")
    semantic = MetadataCatalog.get("toy_shapes_cityscapes_sem_seg_train")
    assert semantic.evaluator_type == "cityscapes_sem_seg" and semantic.ignore_label == 255
    train_id_names = [label.name for label in cityscapes_labels if label.trainId not in (255, -1)]
    assert semantic.stuff_classes == train_id_names and len(train_id_names) == 19
    assert semantic.image_dir == str(root / "cityscapes/leftImg8bit/train")


def test_registered_loaders_generate_on_first_use(tmp_path):
    root = tmp_path / "lazy"
    prefix = f"test_lazy_{uuid.uuid4().hex[:8]}"
    names = builtin.register_toy_datasets(root, prefix=prefix, **{**SMALL, "num_train": 3, "num_val": 2})
    assert not root.exists(), "registration must not generate"
    dicts = DatasetCatalog.get(f"{prefix}_train")
    assert read_manifest(root)["num_train"] == 3 and len(dicts) == 3
    assert all("id" not in a and "bbox" in a for d in dicts for a in d["annotations"])  # as register_coco_instances
    assert len(DatasetCatalog.get(f"{prefix}_cityscapes_sem_seg_val")) == 2
    assert len(names) == 6
    with pytest.raises(ValueError, match="already registered"):
        builtin.register_toy_datasets(root, prefix=prefix)


def ground_truth_instances(record: dict, size: int) -> Instances:
    """Predictions equal to the ground truth of one COCO-layout detectron2 record (XYWH boxes)."""
    annotations = record["annotations"]
    masks = [
        mask_util.decode(mask_util.merge(mask_util.frPyObjects(a["segmentation"], size, size))) for a in annotations
    ]
    boxes = [
        list(a["bbox"][:2]) + [a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in annotations
    ]  # XYWH -> XYXY
    instances = Instances((size, size))
    instances.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    instances.scores = torch.ones(len(annotations))
    instances.pred_classes = torch.tensor([a["category_id"] for a in annotations], dtype=torch.int64)
    instances.pred_masks = torch.from_numpy(np.stack(masks).astype(bool))
    return instances


def test_coco_evaluator_scores_ground_truth_perfectly(registered, tmp_path):
    name = f"{registered}_val"
    dicts = DatasetCatalog.get(name)
    evaluator = COCOEvaluator(name, output_dir=str(tmp_path), use_fast_impl=False)
    evaluator.reset()
    for record in dicts:
        evaluator.process([record], [{"instances": ground_truth_instances(record, 96)}])
    results = evaluator.evaluate()
    assert results["bbox"]["AP"] == pytest.approx(100.0)
    assert results["segm"]["AP"] == pytest.approx(100.0)


@pytest.fixture
def run_in_tmp_dir(monkeypatch, tmp_path):
    """Run in an empty cwd, so a test can check the evaluators leave nothing there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cityscapes_instance_evaluator_scores_ground_truth_perfectly(registered, run_in_tmp_dir):
    name = f"{registered}_cityscapes_val"
    evaluator = CityscapesInstanceEvaluator(name)
    evaluator.reset()
    gt_dir = Path(MetadataCatalog.get(name).gt_dir)
    for record in DatasetCatalog.get(name):
        stem = Path(record["file_name"]).name.replace("leftImg8bit.png", "gtFine_instanceIds.png")
        instance_ids = read_png(gt_dir / "toycity" / stem)
        ids = [i for i in np.unique(instance_ids) if i >= 1000]
        instances = Instances(instance_ids.shape)
        instances.pred_masks = torch.from_numpy(np.stack([instance_ids == i for i in ids]))
        instances.pred_classes = torch.tensor([CITYSCAPES_LABEL_IDS.index(i // 1000) for i in ids])
        instances.scores = torch.ones(len(ids))
        evaluator.process([record], [{"instances": instances}])
    results = evaluator.evaluate()
    assert results["segm"]["AP"] == pytest.approx(100.0)
    assert results["segm"]["AP50"] == pytest.approx(100.0)
    assert list(run_in_tmp_dir.iterdir()) == [], "the evaluator must not write into the working directory"


def test_cityscapes_sem_seg_evaluator_scores_ground_truth_perfectly(registered, run_in_tmp_dir):
    name = f"{registered}_cityscapes_sem_seg_val"
    evaluator = CityscapesSemSegEvaluator(name)
    evaluator.reset()
    for record in DatasetCatalog.get(name):
        train_ids = torch.from_numpy(read_png(Path(record["sem_seg_file_name"])).astype(np.int64))
        logits = torch.nn.functional.one_hot(train_ids, 19).permute(2, 0, 1).float()
        evaluator.process([record], [{"sem_seg": logits}])
    assert evaluator.evaluate()["sem_seg"]["IoU"] == pytest.approx(100.0)
