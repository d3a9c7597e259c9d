"""generate_pseudo_labels on the tiny toy val set with a stand-in model: the PNGs and the manifest, tag masking,
quality against the true maps, resuming an interrupted run, and the manifest registered as a detectron2 dataset."""

import hashlib

import cv2
import numpy as np
import pytest
import torch

from detectron2.data import DatasetCatalog, MetadataCatalog, get_detection_dataset_dicts

from noisy_seg.data import NoisySemSegDatasetMapper, register_pseudo_label_dataset
from noisy_seg.evaluation.sem_seg import load_label_map
from noisy_seg.pseudo_labels.semantic import confusion_matrix, generate_pseudo_labels
from noisy_seg.utils.errors import UserInputError
from noisy_seg.utils.files import load_json, save_json_atomic

from pseudo_label_stand_ins import NUM_CLASSES, VAL, CountingModel, register_tagged_val

ONE_VIEW = dict(scales=(1.0,), flip=False, progress=False)


def tree(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def read_png(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_pngs_and_manifest(tiny_toy, tmp_path):
    records = DatasetCatalog.get(VAL)
    model = CountingModel()
    manifest = generate_pseudo_labels(
        model,
        VAL,
        tmp_path / "out",
        scales=(0.5, 1.0),
        flip=True,
        threshold=0.2,
        checkpoint="weights.pth",
        progress=False,
    )
    assert model.calls == 2 * len(records) and model.images == 4 * len(records)  # batch 1: 2 scales, flip in each
    assert load_json(tmp_path / "out" / "manifest.json") == manifest
    assert manifest["complete"] and manifest["num_images"] == len(records)
    assert manifest["settings"] == {
        "source_dataset": VAL,
        "scales": [0.5, 1.0],
        "flip": True,
        "threshold": 0.2,
        "checkpoint": "weights.pth",
        "class_names": list(MetadataCatalog.get(VAL).stuff_classes),
        "ignore_label": 255,
        "tag_file": None,
    }
    for record, entry in zip(records, manifest["records"]):
        stem = record["file_name"].rsplit("/", 1)[1][:-4]
        assert entry == {
            "file_name": record["file_name"],
            "sem_seg_file_name": f"labels/{stem}.png",
            "confidence_file_name": f"confidence/{stem}.png",
            "height": record["height"],
            "width": record["width"],
            "image_id": stem,
        }
        labels, confidence = (
            read_png(tmp_path / "out" / entry["sem_seg_file_name"]),
            read_png(tmp_path / "out" / entry["confidence_file_name"]),
        )
        assert labels.dtype == confidence.dtype == np.uint8
        assert labels.shape == confidence.shape == (record["height"], record["width"])
        assert set(np.unique(labels)) <= set(range(NUM_CLASSES)) | {255}
        # the threshold: exactly the pixels below 0.2 confidence are ignored (up to the PNG's 1/255 rounding)
        assert np.all(confidence[labels == 255] <= round(0.2 * 255)) and np.all(confidence[labels != 255] >= 50)
    assert not list((tmp_path / "out").glob("**/.*"))  # no temp files left


def test_tags_mask_the_argmax_and_quality_is_measured(tiny_toy, tmp_path):
    tagged_val = register_tagged_val()
    records = DatasetCatalog.get(tagged_val)
    manifest = generate_pseudo_labels(CountingModel(), tagged_val, tmp_path, **ONE_VIEW)
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    for record, entry in zip(records, manifest["records"]):
        labels = read_png(tmp_path / entry["sem_seg_file_name"])
        assert set(np.unique(labels)) <= set(record["image_tags"])  # only tagged classes, no threshold: no ignore
        assert entry["image_tags"] == record["image_tags"]
        confusion += confusion_matrix(labels, load_label_map(record["sem_seg_file_name"]), NUM_CLASSES)
    quality = manifest["quality"]
    assert quality["images"] == len(records) and quality["coverage"] == 1.0
    occurring = np.flatnonzero(confusion.sum(axis=1))
    iou = [confusion[c, c] / (confusion[c].sum() + confusion[:, c].sum() - confusion[c, c]) for c in occurring]
    assert quality["mIoU"] == pytest.approx(100 * np.mean(iou))


def test_a_tag_file_names_classes_by_name_or_index_for_image_ids_or_stems(tiny_toy, tmp_path):
    records = DatasetCatalog.get(VAL)
    stem = records[0]["file_name"].rsplit("/", 1)[1][:-4]
    tag_file = tmp_path / "tags.json"
    save_json_atomic({stem: ["road", 13]}, tag_file)
    manifest = generate_pseudo_labels(CountingModel(), VAL, tmp_path / "out", tag_file=str(tag_file), **ONE_VIEW)
    first = read_png(tmp_path / "out" / manifest["records"][0]["sem_seg_file_name"])
    assert set(np.unique(first)) <= {0, 13} and manifest["records"][0]["image_tags"] == [0, 13]
    assert "image_tags" not in manifest["records"][1]  # untagged: every class allowed
    assert manifest["settings"]["tag_file"] == str(tag_file.resolve())


def test_resume_predicts_only_the_missing_images(tiny_toy, tmp_path):
    records = DatasetCatalog.get(VAL)
    with pytest.raises(KeyboardInterrupt):
        generate_pseudo_labels(CountingModel(fail_on_call=3), VAL, tmp_path / "run", **ONE_VIEW)
    assert not load_json(tmp_path / "run" / "manifest.json")["complete"]
    assert len(list((tmp_path / "run" / "confidence").glob("*.png"))) == 2

    with pytest.raises(UserInputError, match="already holds files"):
        generate_pseudo_labels(CountingModel(), VAL, tmp_path / "run", **ONE_VIEW)
    before = tree(tmp_path / "run")
    with pytest.raises(UserInputError, match=r"other settings \(scales; e.g. scales: \[1.0\] there, \[0.5\] now\)"):
        generate_pseudo_labels(CountingModel(), VAL, tmp_path / "run", resume=True, **{**ONE_VIEW, "scales": (0.5,)})
    assert tree(tmp_path / "run") == before

    model = CountingModel()
    resumed = generate_pseudo_labels(model, VAL, tmp_path / "run", resume=True, **ONE_VIEW)
    assert model.calls == len(records) - 2
    straight = generate_pseudo_labels(CountingModel(), VAL, tmp_path / "straight", **ONE_VIEW)
    assert resumed == straight and tree(tmp_path / "run") == tree(tmp_path / "straight")

    model = CountingModel()
    generate_pseudo_labels(model, VAL, tmp_path / "run", resume=True, **ONE_VIEW)  # finished: nothing to predict
    assert model.calls == 0


def test_registered_manifest_loads_through_detectron2(tiny_toy, tmp_path):
    tagged_val = register_tagged_val()
    folder = tmp_path / "pseudo_toy"
    name = register_pseudo_label_dataset(folder / "manifest.json")  # before it exists, as a LazyConfig would
    assert name == "pseudo_toy" and register_pseudo_label_dataset(str(folder)) == name
    with pytest.raises(UserInputError, match="does not exist; write it first with tools/generate_pseudo_labels.py"):
        DatasetCatalog.get(name)
    with pytest.raises(UserInputError, match="already holds the pseudo labels of"):
        register_pseudo_label_dataset(tmp_path / "elsewhere" / "pseudo_toy")
    with pytest.raises(UserInputError, match="is already registered"):
        register_pseudo_label_dataset(tmp_path / "x", name=tagged_val)

    generate_pseudo_labels(CountingModel(), tagged_val, folder, **ONE_VIEW)
    dicts = get_detection_dataset_dicts([name])
    source = DatasetCatalog.get(tagged_val)
    assert [d["file_name"] for d in dicts] == [r["file_name"] for r in source]
    assert all(d["sem_seg_file_name"] == str(folder / "labels" / (d["image_id"] + ".png")) for d in dicts)
    meta = MetadataCatalog.get(name)
    source_meta = MetadataCatalog.get(tagged_val)
    assert (meta.stuff_classes, meta.ignore_label, meta.evaluator_type) == (
        source_meta.stuff_classes,
        source_meta.ignore_label,
        source_meta.evaluator_type,
    )

    mapped = NoisySemSegDatasetMapper(is_train=True, augmentations=[], image_format="BGR")(dicts[0])
    assert torch.equal(mapped["sem_seg"], torch.as_tensor(read_png(dicts[0]["sem_seg_file_name"]).astype("long")))

    other = register_pseudo_label_dataset(folder, name="pseudo_toy_unfinished")
    manifest = load_json(folder / "manifest.json")
    save_json_atomic({**manifest, "complete": False}, folder / "manifest.json")
    with pytest.raises(UserInputError, match="unfinished run; finish it with .* --resume"):
        DatasetCatalog.get(other)


def test_metadata_defaults_when_the_source_is_not_registered(tiny_toy, tmp_path):
    generate_pseudo_labels(CountingModel(), VAL, tmp_path / "pseudo_gone", **ONE_VIEW)
    manifest = load_json(tmp_path / "pseudo_gone" / "manifest.json")
    manifest["settings"]["source_dataset"] = "a_set_registered_elsewhere"
    save_json_atomic(manifest, tmp_path / "pseudo_gone" / "manifest.json")
    name = register_pseudo_label_dataset(tmp_path / "pseudo_gone")
    meta = MetadataCatalog.get(name)
    assert (meta.stuff_classes, meta.ignore_label, meta.evaluator_type) == (
        manifest["settings"]["class_names"],
        255,
        "sem_seg",
    )
    assert len(DatasetCatalog.get(name)) == len(manifest["records"])
