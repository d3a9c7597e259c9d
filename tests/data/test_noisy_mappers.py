"""NoisyDatasetMapper / NoisySemSegDatasetMapper: deterministic, before augmentation, clean labels kept,
and identical to the offline tool's noisy dataset."""

import copy
import json

import numpy as np
import orjson
import pytest
import torch

import detectron2.data.transforms as T
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, DatasetMapper, MetadataCatalog, build_detection_test_loader
from detectron2.data.datasets import load_coco_json

from noisy_seg.config import add_noisy_seg_config
from noisy_seg.data import NoisyDatasetMapper, NoisySemSegDatasetMapper
from noisy_seg.noise import apply_noise_to_coco

SYM40 = {"type": "symmetric", "rate": 0.4, "seed": 3}


def _mapper(noise=SYM40, augmentations=(), is_train=True):
    return NoisyDatasetMapper(
        is_train=is_train,
        augmentations=list(augmentations),
        image_format="BGR",
        use_instance_mask=True,
        noise=noise,
        num_classes=8,
    )


@pytest.fixture(scope="module")
def dicts(tiny_toy):
    return DatasetCatalog.get("toy_tiny_train")


def test_clean_labels_kept_and_noisy_flag(dicts):
    mapper = _mapper()
    flipped = total = 0
    for d in dicts:
        inst = mapper(copy.deepcopy(d))["instances"]
        clean = torch.tensor([a["category_id"] for a in d["annotations"]])
        assert torch.equal(inst.gt_clean_classes, clean)
        assert torch.equal(inst.gt_noisy, inst.gt_classes != clean)
        assert inst.gt_classes.min() >= 0 and inst.gt_classes.max() < 8
        flipped += int(inst.gt_noisy.sum())
        total += len(inst)
    assert 0 < flipped < total  # ~40% of ~40 instances


def test_class_noise_leaves_geometry_untouched(dicts):
    noisy, clean = _mapper(), DatasetMapper(is_train=True, augmentations=[], image_format="BGR", use_instance_mask=True)
    for d in dicts:
        a, b = noisy(copy.deepcopy(d))["instances"], clean(copy.deepcopy(d))["instances"]
        assert torch.equal(a.gt_boxes.tensor, b.gt_boxes.tensor)
        assert len(a.gt_masks.polygons) == len(b.gt_masks.polygons)
        for pa, pb in zip(a.gt_masks.polygons, b.gt_masks.polygons):
            assert all(np.array_equal(x, y) for x, y in zip(pa, pb))


def test_noise_is_applied_before_augmentation(dicts):
    # with a flip, labels are the same as without: the noise never sees augmented geometry
    plain, flipped = _mapper(), _mapper(augmentations=[T.RandomFlip(prob=1.0)])
    for d in dicts:
        assert torch.equal(
            plain(copy.deepcopy(d))["instances"].gt_classes, flipped(copy.deepcopy(d))["instances"].gt_classes
        )


def test_test_time_mapper_applies_no_noise(dicts):
    mapper = _mapper(is_train=False)
    out = mapper(copy.deepcopy(dicts[0]))
    assert "instances" not in out  # detectron2 drops annotations at test time
    assert mapper.noise is not None


def _labels_by_image(num_workers):
    mapper = _mapper(augmentations=[T.RandomFlip()])
    loader = build_detection_test_loader(
        dataset=DatasetCatalog.get("toy_tiny_train"), mapper=mapper, num_workers=num_workers
    )
    return {b[0]["image_id"]: b[0]["instances"].gt_classes.tolist() for b in loader}


def test_same_noise_in_every_worker_configuration(tiny_toy):
    assert _labels_by_image(0) == _labels_by_image(2)


def test_offline_tool_output_equals_on_the_fly_noise(tiny_toy, dicts, tmp_path):
    meta = MetadataCatalog.get("toy_tiny_train")
    dataset = orjson.loads(open(meta.json_file, "rb").read())
    noisy_dataset, _ = apply_noise_to_coco(dataset, SYM40)
    noisy_json = tmp_path / "noisy.json"
    noisy_json.write_bytes(orjson.dumps(noisy_dataset))
    offline = load_coco_json(
        str(noisy_json), meta.image_root, dataset_name="toy_tiny_offline_noisy", extra_annotation_keys=["id"]
    )  # a name makes it map ids to contiguous
    offline_by_id = {d["image_id"]: d for d in offline}
    mapper = _mapper()
    checked = 0
    for d in dicts:
        online = mapper(copy.deepcopy(d))["instances"].gt_classes.tolist()
        assert online == [a["category_id"] for a in offline_by_id[d["image_id"]]["annotations"]]
        checked += len(online)
    assert checked == sum(len(d["annotations"]) for d in dicts)


def test_spatial_noise_changes_masks_not_labels(dicts):
    mapper = _mapper(
        noise={"type": "spatial", "p": 1 / 3, "kernel": 5, "jitter_sigma": 3, "simplify_tolerance": 10, "seed": 0}
    )
    clean = DatasetMapper(is_train=True, augmentations=[], image_format="BGR", use_instance_mask=True)
    changed = 0
    for d in dicts:
        a, b = mapper(copy.deepcopy(d))["instances"], clean(copy.deepcopy(d))["instances"]
        assert torch.equal(a.gt_classes, b.gt_classes)
        changed += int((a.gt_masks.area() != b.gt_masks.area()).sum())
    assert changed > 0


@pytest.mark.parametrize(
    "noise", ["coco_n_medium", [{"type": "drop", "rate": 0.3, "seed": 1}, "coco_n_hard"], "maskboundary5"]
)
def test_spatial_noise_keeps_the_clean_masks_transformed_alike(dicts, noise):
    """gt_clean_masks are the clean mapper's gt_masks under the same flip; gt_mask_noisy marks where they differ from
    the noisy gt_masks (and nowhere else), kept instance by kept instance when the noise also drops some."""
    flip = [T.RandomFlip(prob=1.0)]
    mapper = _mapper(noise=noise, augmentations=flip)
    clean = DatasetMapper(is_train=True, augmentations=flip, image_format="BGR", use_instance_mask=True)
    changed = 0
    for d in dicts:
        noisy = mapper(copy.deepcopy(d))["instances"]
        reference = clean(copy.deepcopy(d))["instances"]
        if not len(noisy):  # every annotation dropped
            continue
        kept = [i for i, a in enumerate(d["annotations"]) if not a.get("iscrowd")]
        by_area = {round(float(a), 3): i for i, a in enumerate(reference.gt_masks.area())}
        for j in range(len(noisy)):
            i = by_area[round(float(noisy.gt_clean_masks[j : j + 1].area()[0]), 3)]
            clean_mask = reference.gt_masks[i : i + 1].polygons[0]
            assert [p.tolist() for p in noisy.gt_clean_masks[j : j + 1].polygons[0]] == [p.tolist() for p in clean_mask]
            differs = [p.tolist() for p in noisy.gt_masks[j : j + 1].polygons[0]] != [p.tolist() for p in clean_mask]
            assert bool(noisy.gt_mask_noisy[j]) == differs
            changed += differs
        assert len(noisy) <= len(kept)
    assert changed > 0
    assert not _mapper(noise=SYM40).__call__(copy.deepcopy(dicts[0]))["instances"].has("gt_clean_masks")


def test_drop_noise_removes_annotations(dicts):
    mapper = _mapper(noise={"type": "drop", "rate": 0.5, "seed": 0})
    kept = sum(len(mapper(copy.deepcopy(d))["instances"]) for d in dicts)
    total = sum(len(d["annotations"]) for d in dicts)
    assert 0 < kept < total


def test_spec_without_num_classes_is_rejected():
    with pytest.raises(ValueError, match="num_classes"):
        NoisyDatasetMapper(is_train=True, augmentations=[], image_format="BGR", noise=SYM40)


@pytest.mark.parametrize(
    "opts",
    [
        [
            "INPUT.LABEL_NOISE_SPEC.TYPE",
            "symmetric",
            "INPUT.LABEL_NOISE_SPEC.RATE",
            "0.4",
            "INPUT.LABEL_NOISE_SPEC.SEED",
            "3",
        ],
        ["INPUT.LABEL_NOISE", "sym40_s3"],
    ],
)
def test_yacs_config_builds_the_noise(dicts, opts):
    cfg = add_noisy_seg_config(get_cfg())
    cfg.merge_from_list(["MODEL.ROI_HEADS.NUM_CLASSES", "8", *opts])
    mapper = NoisyDatasetMapper(cfg, is_train=True)
    reference = _mapper(augmentations=[])
    for d in dicts[:4]:
        assert torch.equal(
            mapper(copy.deepcopy(d))["instances"].gt_classes, reference(copy.deepcopy(d))["instances"].gt_classes
        )


def test_yacs_semantic_mapper_takes_noise_classes_and_background(tiny_toy):
    cfg = add_noisy_seg_config(get_cfg())
    cfg.merge_from_list(
        [
            "MODEL.SEM_SEG_HEAD.NUM_CLASSES",
            "19",
            "INPUT.LABEL_NOISE",
            "semrelabel40",
            "INPUT.LABEL_NOISE_BACKGROUND",
            "0",
        ]
    )
    mapper = NoisySemSegDatasetMapper(cfg, is_train=True)
    assert (mapper.noise.num_classes, mapper.noise.background_label, mapper.noise.rate) == (19, 0, 0.4)
    assert mapper.keep_clean_sem_seg


def test_semantic_mapper_noise_is_deterministic_and_keeps_clean_map(tiny_toy):
    records = DatasetCatalog.get("toy_tiny_cityscapes_sem_seg_train")
    mapper = NoisySemSegDatasetMapper(
        is_train=True,
        augmentations=[T.RandomFlip(prob=1.0)],
        image_format="BGR",
        noise={"type": "semantic", "rate": 1.0, "seed": 0},
        num_classes=19,
        keep_clean_sem_seg=True,
    )
    clean = DatasetMapper(is_train=True, augmentations=[T.RandomFlip(prob=1.0)], image_format="BGR")
    differs = 0
    for r in records[:6]:
        a, b = mapper(copy.deepcopy(r)), mapper(copy.deepcopy(r))
        assert torch.equal(a["sem_seg"], b["sem_seg"])
        reference = clean(copy.deepcopy(r))
        assert torch.equal(a["sem_seg_clean"], reference["sem_seg"])  # same flip applied to the clean map
        assert torch.equal(a["image"], reference["image"])
        differs += int((a["sem_seg"] != a["sem_seg_clean"]).any())
    assert differs == 6


def test_semantic_mapper_takes_short_names_like_the_instance_mapper(tiny_toy):
    records = DatasetCatalog.get("toy_tiny_cityscapes_sem_seg_train")
    common = dict(is_train=True, augmentations=[], image_format="BGR", num_classes=19)
    by_name = NoisySemSegDatasetMapper(**common, noise="sem100_s2")
    by_spec = NoisySemSegDatasetMapper(**common, noise={"type": "semantic", "rate": 1.0, "seed": 2})
    assert (by_name.noise.rate, by_name.noise.seed) == (1.0, 2)
    for r in records[:3]:
        assert torch.equal(by_name(copy.deepcopy(r))["sem_seg"], by_spec(copy.deepcopy(r))["sem_seg"])
    assert NoisySemSegDatasetMapper(**common, noise="clean").noise is None
    with pytest.raises(ValueError, match="is for instance annotations"):
        NoisySemSegDatasetMapper(**common, noise="sym40")
    with pytest.raises(ValueError, match="is for semantic label maps"):
        NoisyDatasetMapper(is_train=True, augmentations=[], image_format="BGR", noise="sem30", num_classes=8)


def test_semantic_mapper_takes_a_built_boundary_model_and_its_short_name(tiny_toy):
    from noisy_seg.noise import BoundaryNoise, build_semantic_noise

    records = DatasetCatalog.get("toy_tiny_cityscapes_sem_seg_train")
    common = dict(is_train=True, augmentations=[], image_format="BGR", num_classes=19)
    model = build_semantic_noise("boundary5_s1", 19)
    assert isinstance(model, BoundaryNoise)
    by_model, by_name = (
        NoisySemSegDatasetMapper(**common, noise=model),
        NoisySemSegDatasetMapper(**common, noise="boundary5_s1"),
    )
    assert by_model.noise is model
    r = records[0]
    assert torch.equal(by_model(copy.deepcopy(r))["sem_seg"], by_name(copy.deepcopy(r))["sem_seg"])


def test_semantic_mapper_gives_its_background_label_to_names_that_take_one(tiny_toy):
    common = dict(is_train=True, augmentations=[], image_format="BGR", num_classes=19)
    with pytest.raises(ValueError, match="background_label"):
        NoisySemSegDatasetMapper(**common, noise="sembg30")
    mapper = NoisySemSegDatasetMapper(**common, noise="sembg100", background_label=0)
    assert mapper.noise.background_label == 0 and mapper.noise.ops == ("background",)
    # component noise leaves the background (road, 0) alone once the mapper names it
    records = DatasetCatalog.get("toy_tiny_cityscapes_sem_seg_train")
    relabel = NoisySemSegDatasetMapper(**common, noise="semrelabel100", background_label=0)
    out = relabel(copy.deepcopy(records[0]))["sem_seg"]
    clean = DatasetMapper(is_train=True, augmentations=[], image_format="BGR")(copy.deepcopy(records[0]))["sem_seg"]
    assert torch.equal(out == 0, clean == 0) and bool(((out != clean) & (clean != 0)).any())


def test_semantic_label_values_outside_the_classes_are_one_clear_error(tiny_toy):
    records = DatasetCatalog.get("toy_tiny_cityscapes_sem_seg_train")
    mapper = NoisySemSegDatasetMapper(
        is_train=True, augmentations=[], image_format="BGR", noise="sem40", num_classes=12
    )  # the maps hold train ids up to 18
    with pytest.raises(ValueError, match=r"neither a class in \[0, 12\) nor the ignore label 255") as info:
        mapper(copy.deepcopy(records[0]))
    assert records[0]["sem_seg_file_name"] in str(info.value) and "\n" not in str(info.value)


def test_semantic_mapper_gives_image_tags_from_the_record_or_the_label_map(tiny_toy):
    records = DatasetCatalog.get("toy_tiny_cityscapes_sem_seg_train")
    common = dict(is_train=True, augmentations=[], image_format="BGR", num_classes=19, image_tags=True)
    for noise in (None, "sem40"):
        mapped = NoisySemSegDatasetMapper(**common, noise=noise)(copy.deepcopy(records[0]))
        in_map = torch.unique(mapped["sem_seg"])
        assert mapped["present_classes"].tolist() == [c in in_map.tolist() for c in range(19)]
    weak = dict(copy.deepcopy(records[0]), image_tags=[0, 13])  # e.g. read from a tag file
    mapped = NoisySemSegDatasetMapper(**common)(weak)
    assert torch.nonzero(mapped["present_classes"]).flatten().tolist() == [0, 13]
    with pytest.raises(ValueError, match=r"image_tags \[19\] are not classes in \[0, 19\)"):
        NoisySemSegDatasetMapper(**common)(dict(copy.deepcopy(records[0]), image_tags=[0, 19]))
    with pytest.raises(ValueError, match="image_tags needs num_classes"):
        NoisySemSegDatasetMapper(is_train=True, augmentations=[], image_format="BGR", image_tags=True)


def test_a_tag_file_gives_weak_images_their_tags_and_bad_ones_are_refused(tiny_toy, tmp_path):
    from noisy_seg.noise import record_image_id

    records = DatasetCatalog.get("toy_tiny_cityscapes_sem_seg_train")
    names = MetadataCatalog.get("toy_tiny_cityscapes_sem_seg_train").stuff_classes
    tag_file = tmp_path / "tags.json"
    tag_file.write_text(json.dumps({str(record_image_id(records[0])): ["road", 13]}))
    common = dict(is_train=True, augmentations=[], image_format="BGR", num_classes=19)
    mapper = NoisySemSegDatasetMapper(**common, tag_file=str(tag_file), class_names=names)
    assert torch.nonzero(mapper(copy.deepcopy(records[0]))["present_classes"]).flatten().tolist() == [0, 13]
    untagged = mapper(copy.deepcopy(records[1]))  # not in the file: the classes of its label map
    assert untagged["present_classes"].tolist() == [c in torch.unique(untagged["sem_seg"]).tolist() for c in range(19)]
    tag_file.write_text(json.dumps({"x": ["road", "unicorn"]}))
    with pytest.raises(ValueError, match="names class 'unicorn', which is not one of the 19 classes") as info:
        NoisySemSegDatasetMapper(**common, tag_file=str(tag_file), class_names=names)
    assert "\n" not in str(info.value)
    tag_file.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must be a json object"):
        NoisySemSegDatasetMapper(**common, tag_file=str(tag_file))


def test_each_mapped_image_counts_what_the_noise_changed(dicts):
    """ "noise_counts" (read by noisy_seg.engine's NoiseMonitor): class flips are the flagged instances; drops and
    moved masks count as changed too; a clean mapper counts nothing."""
    counts = [_mapper()(copy.deepcopy(d)) for d in dicts]
    assert all(
        c["noise_counts"]
        == {
            "total": len(d["annotations"]),
            "changed": int(c["instances"].gt_noisy.sum()),
            "class_flip": int(c["instances"].gt_noisy.sum()),
        }
        for c, d in zip(counts, dicts)
    )
    dropping = _mapper(noise={"type": "drop", "rate": 0.5, "seed": 0})
    for d in dicts:
        mapped = dropping(copy.deepcopy(d))
        dropped = len(d["annotations"]) - len(mapped["instances"])
        assert mapped["noise_counts"] == {"total": len(d["annotations"]), "changed": dropped, "class_flip": 0}
    moving = _mapper(
        noise={"type": "spatial", "p": 1 / 3, "kernel": 5, "jitter_sigma": 3, "simplify_tolerance": 10, "seed": 0}
    )
    assert sum(moving(copy.deepcopy(d))["noise_counts"]["changed"] for d in dicts) > 0
    assert "noise_counts" not in _mapper(noise=None)(copy.deepcopy(dicts[0]))


def record_label_map(record):
    from noisy_seg.data.mappers import read_label_map

    return read_label_map(record["sem_seg_file_name"])


def mapped_key(record):
    from noisy_seg.noise import record_image_id

    return record_image_id(record)


def test_semantic_counts_are_changed_over_labelled_pixels(tiny_toy):
    mapper = NoisySemSegDatasetMapper(
        is_train=True, augmentations=[], image_format="BGR", noise="sem100", num_classes=19, keep_clean_sem_seg=True
    )
    for record in DatasetCatalog.get("toy_tiny_cityscapes_sem_seg_train")[:3]:
        mapped = mapper(copy.deepcopy(record))
        clean, noisy = mapped["sem_seg_clean"], mapped["sem_seg"]
        labelled = clean != 255
        plan, _ = mapper.noise.plan(record_label_map(record), mapped_key(record))
        assert mapped["noise_counts"] == {
            "total": int(labelled.sum()),
            "changed": int(((noisy != clean) & labelled).sum()),
            "components": len(plan.keys),  # sem100: every component changed
            "changed_components": len(plan.keys),
        }
        assert 0 < mapped["noise_counts"]["changed"] < mapped["noise_counts"]["total"]


def test_a_training_mapper_logs_its_noise_once_as_built(caplog):
    with caplog.at_level("INFO", logger="noisy_seg"):
        _mapper(noise="sym40")
        _mapper(noise="sym40", is_train=False)  # evaluation takes no noise: nothing to say
        NoisySemSegDatasetMapper(is_train=True, augmentations=[], image_format="BGR", noise=None, num_classes=19)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("noisy_seg")]
    assert lines == [
        "[NoisyDatasetMapper] Label noise in training: sym40 -> NoisePipeline(class_noise=SymmetricNoise("
        "rate=0.4, num_classes=8, seed=0, include_true=False), spatial_noise=None, drop_noise=None)",
        "[NoisySemSegDatasetMapper] Label noise in training: none (clean labels)",
    ]


# --- the semantic path as strict as the instance path: tag files, label maps (issue 21, item 4) ---


def _semantic_records(count=3, **changes):
    return [dict(copy.deepcopy(r), **changes) for r in DatasetCatalog.get("toy_tiny_cityscapes_sem_seg_train")[:count]]


def _semantic_mapper(**options):
    return NoisySemSegDatasetMapper(
        **{"is_train": True, "augmentations": [], "image_format": "BGR", "num_classes": 19, **options}
    )


def _tags(mapped) -> list:
    return torch.nonzero(mapped["present_classes"]).flatten().tolist()


def test_a_tag_file_keyed_by_file_stem_tags_records_with_an_image_id_as_pseudo_labels_read_it(tiny_toy, tmp_path):
    """The probe: records with an "image_id", a tag file keyed by file stem; the mapper took the label maps'
    classes instead. Keys are ids or stems for every record, read the same way by generate_pseudo_labels."""
    from pathlib import Path

    from noisy_seg.pseudo_labels.semantic import resolve_image_tags

    records = [dict(r, image_id=100 + i) for i, r in enumerate(_semantic_records())]
    names = MetadataCatalog.get("toy_tiny_cityscapes_sem_seg_train").stuff_classes
    tag_file = tmp_path / "tags.json"
    tag_file.write_text(json.dumps({Path(records[0]["file_name"]).stem: ["road", 13], "101": [12]}))
    mapper = _semantic_mapper(tag_file=str(tag_file), class_names=names)
    mapped = [_tags(mapper(copy.deepcopy(r))) for r in records]
    assert mapped[:2] == [[0, 13], [12]]
    in_map = torch.unique(mapper(copy.deepcopy(records[2]))["sem_seg"]).tolist()
    assert mapped[2] == [c for c in range(19) if c in in_map]  # no tags: its label map's classes (the rule)
    assert resolve_image_tags(records, str(tag_file), names) == [[0, 13], [12], None]


def test_tag_file_keys_that_match_no_image_are_one_error_naming_them(tiny_toy, tmp_path):
    from noisy_seg.data.image_tags import check_tag_keys, read_tag_file

    records = _semantic_records(count=16)
    tag_file = tmp_path / "tags.json"
    tag_file.write_text(json.dumps({"toycity_000000_000000_leftImg8bit": [0], "nope": [1], "gone": [2]}))
    with pytest.raises(ValueError) as info:
        check_tag_keys(read_tag_file(str(tag_file), 19), records, str(tag_file))
    assert str(info.value) == (
        f"tag_file {tag_file}: 2 image(s) are not in the dataset (e.g. 'gone', 'nope'); keys "
        "are image ids or image file stems"
    )


def _label_map_file(tmp_path, array, name="label.png"):
    from PIL import Image

    path = tmp_path / name
    Image.fromarray(array).save(path)
    return str(path)


def _clean_map(record) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(record["sem_seg_file_name"]))


@pytest.mark.parametrize("noise", [None, "sem40"])
def test_a_16_bit_label_map_keeps_its_values_above_255(tiny_toy, tmp_path, noise):
    """The probe: a uint16 map with an object of class 300 lost it (clipped to 255, the ignore label) silently."""
    record = _semantic_records(count=1)[0]
    wide = _clean_map(record).astype(np.uint16)
    wide[wide == 0] = 300  # the road becomes class 300
    record["sem_seg_file_name"] = _label_map_file(tmp_path, wide)
    wide_classes = dict(
        num_classes=400,
        ignore_label=65535,  # 255 is a class now
        noise=noise and {"type": "semantic", "rate": 0.4, "seed": 0, "ignore_label": 65535},
    )
    flip = _semantic_mapper(**wide_classes, keep_clean_sem_seg=True, augmentations=[T.RandomFlip(prob=1.0)])(
        copy.deepcopy(record)
    )
    expected = torch.as_tensor(wide[:, ::-1].astype(np.int64))
    assert torch.equal(flip["sem_seg_clean" if noise else "sem_seg"], expected)
    resized = _semantic_mapper(**wide_classes, augmentations=[T.ResizeShortestEdge(48)])(copy.deepcopy(record))
    assert resized["sem_seg"].shape == (48, 48) and 300 in resized["sem_seg"].tolist()[0]
    with pytest.raises(
        ValueError,
        match=r"label value\(s\) \[300\] are neither a class in \[0, 19\) nor the ignore "
        r"label 255",
    ) as info:
        _semantic_mapper(noise=noise)(copy.deepcopy(record))
    assert record["sem_seg_file_name"] in str(info.value) and "\n" not in str(info.value)


def test_the_clean_path_checks_label_values_too(tiny_toy, tmp_path):
    record = _semantic_records(count=1)[0]
    bad = _clean_map(record).copy()
    bad[0, 0] = 40  # neither a class in [0, 19) nor 255
    record["sem_seg_file_name"] = _label_map_file(tmp_path, bad)
    with pytest.raises(ValueError, match=r"label value\(s\) \[40\] are neither a class in \[0, 19\)"):
        _semantic_mapper()(copy.deepcopy(record))
    bad[0, 0] = 254  # the head's ignore label (MODEL.SEM_SEG_HEAD.IGNORE_VALUE) is what the mapper lets through
    record["sem_seg_file_name"] = _label_map_file(tmp_path, bad, "ignore254.png")
    assert _semantic_mapper(ignore_label=254)(copy.deepcopy(record))["sem_seg"][0, 0] == 254
    with pytest.raises(ValueError, match=r"\[254\] are neither a class"):
        _semantic_mapper()(copy.deepcopy(record))


@pytest.mark.parametrize("noise", [None, "sem40"])
def test_a_label_map_of_another_size_or_not_one_channel_is_one_clear_error(tiny_toy, tmp_path, noise):
    record = _semantic_records(count=1)[0]
    clean = _clean_map(record)  # 96 x 96
    record["sem_seg_file_name"] = _label_map_file(tmp_path, clean[:80, :64])
    with pytest.raises(ValueError) as info:
        _semantic_mapper(noise=noise)(copy.deepcopy(record))
    assert str(info.value) == (
        f"{record['sem_seg_file_name']}: the label map is 64x80 (WxH) but its image "
        f"{record['file_name']} is 96x96; a label map must match its image pixel for pixel"
    )
    record["sem_seg_file_name"] = _label_map_file(tmp_path, np.stack([clean] * 3, axis=-1), "rgb.png")
    with pytest.raises(ValueError, match="a label map must be one channel of class ids .* got 96x96x3"):
        _semantic_mapper(noise=noise)(copy.deepcopy(record))
