"""Instance label correction: the model's view of the annotated boxes (noisy_seg.modeling.gt_box_inference) and
the corrected COCO json built from it (noisy_seg.pseudo_labels.instance)."""

import copy
import itertools
import json
from types import SimpleNamespace

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from PIL import Image

import detectron2.data.transforms as T
from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import register_coco_instances
from detectron2.modeling import StandardROIHeads
from detectron2.modeling.roi_heads import FastRCNNOutputLayers
from detectron2.structures import Boxes, Instances

from noisy_seg.data.datasets.coco_files import register_coco_file
from noisy_seg.data.datasets.toy_shapes import coco_paths
from noisy_seg.modeling import NoisyFastRCNNOutputLayers
from noisy_seg.modeling.gt_box_inference import predict_on_given_boxes
from noisy_seg.inference import instance as instance_inference
from noisy_seg.pseudo_labels import evidence
from noisy_seg.pseudo_labels.evidence import class_evidence, mask_ious
from noisy_seg.label_errors.correction import count_label_changes, decide_corrections
from noisy_seg.pseudo_labels.instance import (
    CORRECTED_JSON,
    CORRECTIONS_JSON,
    correct_instance_labels,
    input_settings_from_config,
)
from noisy_seg.utils.errors import UserInputError
from noisy_seg.utils.run_folder import RUN_RECORD

TOY_CONFIG = "configs/toy/mask_rcnn_R18_FPN_ce.py"
_names = itertools.count()


# ---------------------------------------------------------------------------------- the real (random) toy model
@pytest.fixture(scope="module")
def toy_cfg(repo_root):
    return LazyConfig.load(str(repo_root / TOY_CONFIG))


@pytest.fixture(scope="module")
def toy_model(toy_cfg):
    torch.manual_seed(0)
    return instantiate(toy_cfg.model).eval()


def _toy_input(seed=0, size=(64, 96), original=(128, 192)):
    image = torch.randint(0, 256, (3, *size), generator=torch.Generator().manual_seed(seed)).float()
    return {"image": image, "height": original[0], "width": original[1]}


BOXES = torch.tensor([[2.0, 3.0, 30.0, 40.0], [20.0, 8.0, 70.0, 50.0], [50.0, 30.0, 90.0, 60.0]])


@pytest.mark.parametrize("predictor", ["stock", "noisy"])
def test_given_box_probs_equal_roi_heads_softmax_on_gt_proposals(toy_cfg, predictor):
    cfg = copy.deepcopy(toy_cfg)
    if predictor == "stock":  # the toy config has our heads ("ce" mode): detectron2's own for this case
        cfg.model.roi_heads._target_ = StandardROIHeads
        cfg.model.roi_heads.box_predictor._target_ = FastRCNNOutputLayers
        for key in ("cls_loss", "cls_loss_kwargs", "loss_switch_iter"):
            del cfg.model.roi_heads.box_predictor[key]
    torch.manual_seed(1)
    model = instantiate(cfg.model).eval()
    assert isinstance(model.roi_heads.box_predictor, NoisyFastRCNNOutputLayers) == (predictor == "noisy")
    inputs = [_toy_input(0), _toy_input(1)]
    ours = predict_on_given_boxes(model, inputs, [BOXES, BOXES[:2]], predict_masks=False)

    # the other way: detectron2's own ROI heads forward with proposals = the boxes, its predict_probs spied on
    seen = []
    predict_probs = model.roi_heads.box_predictor.predict_probs

    def spy(predictions, proposals):
        seen.extend(predict_probs(predictions, proposals))
        return tuple(seen)

    model.roi_heads.box_predictor.predict_probs = spy
    with torch.no_grad():
        images = model.preprocess_image(inputs)
        proposals = [
            Instances(size, proposal_boxes=Boxes(b), objectness_logits=torch.zeros(len(b)))
            for size, b in zip(images.image_sizes, [BOXES, BOXES[:2]])
        ]
        model.roi_heads(images, model.backbone(images.tensor), proposals)
    assert [o["class_probs"].shape for o in ours] == [(3, 9), (2, 9)] and len(seen) == 2
    for mine, theirs in zip(ours, seen):
        torch.testing.assert_close(mine["class_probs"], theirs, rtol=0, atol=1e-6)
        torch.testing.assert_close(mine["class_probs"].sum(dim=1), torch.ones(len(mine["class_probs"])))
    assert all(o["mask_probs"] is None for o in ours)


def test_given_box_masks_equal_detectron2_given_box_inference(toy_model):
    inputs = [_toy_input(2)]
    classes = torch.tensor([1, 5, 7])
    (ours,) = predict_on_given_boxes(toy_model, inputs, [BOXES], classes=[classes])
    assert ours["mask_probs"].shape == (3, 128, 192) and ours["mask_probs"].dtype == torch.float32
    with torch.no_grad():
        detected = [Instances((64, 96), pred_boxes=Boxes(BOXES.clone()), pred_classes=classes)]
        (theirs,) = toy_model.inference(inputs, detected_instances=detected)  # pasted at height x width, >= 0.5
    assert torch.equal(ours["mask_probs"] >= 0.5, theirs["instances"].pred_masks)


def test_rows_follow_boxes_including_an_image_without_boxes(toy_model):
    outputs = predict_on_given_boxes(toy_model, [_toy_input(3), _toy_input(4)], [torch.zeros(0, 4), BOXES[:1]])
    assert [tuple(o["class_probs"].shape) for o in outputs] == [(0, 9), (1, 9)]
    assert [tuple(o["mask_probs"].shape) for o in outputs] == [(0, 128, 192), (1, 128, 192)]
    assert not toy_model.training


# ------------------------------------------------------------------------------------------ rules on arrays
def test_class_evidence_is_the_best_other_foreground_class():
    probs = torch.tensor(
        [
            [0.1, 0.6, 0.2, 0.1],  # given 0: best other is 1
            [0.1, 0.6, 0.2, 0.1],  # given 1 (top): best other is 2, background never counts
            [0.0, 0.1, 0.0, 0.9],
        ]
    )  # background-heavy
    given_prob, best_other, best_other_prob = class_evidence(probs, torch.tensor([0, 1, 1]))
    torch.testing.assert_close(given_prob, torch.tensor([0.1, 0.6, 0.1]))
    assert best_other.tolist() == [1, 2, 0]
    torch.testing.assert_close(best_other_prob, torch.tensor([0.6, 0.2, 0.0]))


def test_relabel_and_flag_rules():
    relabel, flag = decide_corrections(
        np.array([0.8, 0.5, 0.49, 0.51]),
        np.array([0.2, np.nan, 0.5, 0.9]),
        relabel_threshold=0.5,
        mask_iou_threshold=0.5,
    )
    assert relabel.tolist() == [True, False, False, True]  # strictly above the threshold
    assert flag.tolist() == [True, False, False, False]  # NaN (no mask) never flagged
    relabel, flag = decide_corrections(np.array([0.9]), np.array([0.0]), None, None)
    assert not relabel.any() and not flag.any()


def test_mask_ious_vectorized():
    gt = torch.zeros(3, 4, 4, dtype=torch.bool)
    gt[0, :2] = True
    gt[1, :, :2] = True
    probs = torch.zeros(3, 4, 4)
    probs[0, :2] = 0.9  # equal
    probs[1, :, :1] = 0.7  # half
    probs[1, :, 3] = 0.5  # not above 0.5: background
    torch.testing.assert_close(mask_ious(probs, gt), torch.tensor([1.0, 0.5, 0.0]))


def test_count_label_changes():
    original = np.array([1, 2, 3, 1, 2, 3])
    corrected = np.array([1, 1, 2, 3, 2, 3])
    clean = np.array([1, 1, 1, 1, 3, 3])
    assert count_label_changes(original, corrected, clean) == {
        "annotations": 6,
        "noisy_before": 3,
        "restored": 1,
        "changed_still_wrong": 1,
        "broken": 1,
        "noisy_after": 3,
    }


# ------------------------------------------------------------- a hand-made noisy dataset and a stand-in model
SIZE = 40
CATEGORIES = [{"id": 10, "name": "a"}, {"id": 20, "name": "b"}, {"id": 30, "name": "c"}]  # contiguous 0, 1, 2


def _square(x, y, w, h):
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def _rle_square(x, y, w, h):
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[y : y + h, x : x + w] = 1
    rle = mask_util.encode(np.asfortranarray(mask))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def _ann(ann_id, image_id, category, clean, bbox, **extra):
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category,
        "clean_category_id": clean,
        "bbox": bbox,
        "area": bbox[2] * bbox[3],
        "iscrowd": 0,
        "segmentation": _square(*bbox),
        **extra,
    }


HAND_ANNOTATIONS = [
    _ann(1, 1, 10, 10, [0, 0, 10, 10]),  # clean, kept
    _ann(2, 1, 20, 10, [12, 0, 10, 10]),  # noisy -> restored
    _ann(3, 1, 30, 10, [24, 0, 10, 10]),  # noisy -> changed, still wrong
    _ann(4, 1, 10, 10, [0, 12, 10, 10]),  # clean -> broken
    _ann(5, 1, 20, 30, [12, 12, 10, 10]),  # noisy, other class exactly at the threshold: untouched
    _ann(6, 1, 10, 10, [24, 12, 10, 10], iscrowd=1),  # skipped: crowd
    _ann(7, 2, 20, 20, [0, 0, 20, 20]),  # clean, predicted mask = annotated mask
    _ann(8, 2, 30, 30, [20, 20, 0, 10]),  # skipped: no usable box
    _ann(9, 2, 30, 30, [20, 0, 20, 20], segmentation=_rle_square(20, 0, 20, 20)),  # mask IoU 0.5: flagged
    _ann(10, 3, 30, 30, [0, 0, 5, 5]),  # skipped: its image is not in the dataset
]
# box (XYXY) -> class probabilities (3 classes + background)
HAND_PROBS = {
    (0, 0, 10, 10): [0.9, 0.05, 0.03, 0.02],
    (12, 0, 22, 10): [0.8, 0.1, 0.05, 0.05],
    (24, 0, 34, 10): [0.1, 0.7, 0.1, 0.1],
    (0, 12, 10, 22): [0.2, 0.1, 0.6, 0.1],
    (12, 12, 22, 22): [0.25, 0.2, 0.5, 0.05],
    (0, 0, 20, 20): [0.1, 0.85, 0.0, 0.05],
    (20, 0, 40, 20): [0.1, 0.1, 0.75, 0.05],
}


def _hand_dataset():
    images = [{"id": i, "file_name": f"{i}.png", "height": SIZE, "width": SIZE} for i in (1, 2)]
    return {"images": images, "annotations": copy.deepcopy(HAND_ANNOTATIONS), "categories": CATEGORIES}


def _predicted_mask(box):
    """The box's square as rasterized from the annotated polygon (IoU 1); annotation 9: the left half of its
    RLE square (IoU 0.5)."""
    if box == (20, 0, 40, 20):
        mask = torch.zeros(SIZE, SIZE)
        mask[0:20, 20:30] = 1.0
        return mask
    x0, y0, x1, y1 = box
    rle = mask_util.merge(mask_util.frPyObjects(_square(x0, y0, x1 - x0, y1 - y0), SIZE, SIZE))
    return torch.from_numpy(mask_util.decode(rle).astype(np.float32))


class FakePrediction:
    """Stands in for predict_on_given_boxes: hand-made probabilities and masks, looked up by box."""

    def __init__(self, fail_on_call=None):
        self.calls, self.fail_on_call = [], fail_on_call

    def __call__(self, model, batched_inputs, boxes, *, classes=None, predict_masks=True, detect=False):
        assert not detect  # label correction asks for no detections
        self.calls.append({"inputs": batched_inputs, "boxes": boxes, "classes": classes, "masks": predict_masks})
        if len(self.calls) == self.fail_on_call:
            raise RuntimeError("interrupted")
        outputs = []
        for box_list in boxes:
            keys = [tuple(int(round(v)) for v in row) for row in box_list.tolist()]
            probs = torch.tensor([HAND_PROBS.get(k, [0.25] * 4) for k in keys], dtype=torch.float32)
            masks = torch.stack([_predicted_mask(k) for k in keys]) if predict_masks else None
            outputs.append({"class_probs": probs.reshape(-1, 4), "mask_probs": masks})
        return outputs


class StandIn(torch.nn.Module):
    input_format = "BGR"

    def __init__(self, num_classes=3, mask_on=True):
        super().__init__()
        self.roi_heads = SimpleNamespace(num_classes=num_classes, mask_on=mask_on)
        self.weight = torch.nn.Parameter(torch.zeros(2))


def _register(folder, dataset, image_root=None) -> str:
    """Write `dataset` (and blank images for it unless `image_root`) under `folder`; register it."""
    if image_root is None:
        image_root = folder / "images"
        image_root.mkdir(parents=True)
        for image in dataset["images"]:
            Image.new("RGB", (image["width"], image["height"])).save(image_root / image["file_name"])
    json_file = folder / "input" / "instances.json"
    json_file.parent.mkdir(parents=True)
    json_file.write_text(json.dumps(dataset))
    name = f"hand_noisy_{next(_names)}"
    register_coco_instances(name, {}, str(json_file), str(image_root))
    return name


@pytest.fixture
def hand_dataset(tmp_path):
    name = _register(tmp_path, _hand_dataset())
    yield name, tmp_path / "input" / "instances.json"
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


@pytest.fixture
def fake(monkeypatch):
    prediction = FakePrediction()
    monkeypatch.setattr(instance_inference, "predict_on_given_boxes", prediction)
    return prediction


def _run(name, output, **kwargs):
    kwargs = {"augmentations": [], "relabel_threshold": 0.5, "mask_iou_threshold": 0.6, "progress": False, **kwargs}
    return correct_instance_labels(StandIn(), name, output, **kwargs)


def test_corrected_json_keeps_originals_and_counts_restored_and_broken(hand_dataset, fake, tmp_path):
    name, json_file = hand_dataset
    before = json_file.read_bytes()
    output = tmp_path / "out"
    summary = _run(name, output)

    assert json_file.read_bytes() == before  # the input is never written
    # no temp files, no progress/
    assert sorted(p.name for p in output.iterdir()) == [CORRECTED_JSON, CORRECTIONS_JSON, RUN_RECORD]
    corrected = json.loads((output / CORRECTED_JSON).read_text())
    by_id = {a["id"]: a for a in corrected["annotations"]}
    original = {a["id"]: a for a in HAND_ANNOTATIONS}
    assert [a["id"] for a in corrected["annotations"]] == [a["id"] for a in HAND_ANNOTATIONS]
    assert corrected["images"] == _hand_dataset()["images"] and corrected["categories"] == CATEGORIES
    for ann_id, new_category in ((2, 10), (3, 20), (4, 30)):  # relabelled, in dataset category ids
        ann = by_id[ann_id]
        assert ann["category_id"] == new_category and ann["original_category_id"] == original[ann_id]["category_id"]
        assert ann["correction"]["reasons"] == ["class"] and ann["correction"]["mask_iou"] == 1.0
        assert {k: v for k, v in ann.items() if k not in ("category_id", "original_category_id", "correction")} == {
            k: v for k, v in original[ann_id].items() if k != "category_id"
        }  # clean_category_id too
    assert by_id[2]["correction"]["given_prob"] == pytest.approx(0.1)
    assert by_id[2]["correction"]["suggested_prob"] == pytest.approx(0.8)
    flagged = by_id[9]  # mask IoU 0.5 < 0.6: flagged, label kept
    assert flagged["category_id"] == 30 and "original_category_id" not in flagged
    assert flagged["correction"]["reasons"] == ["mask"] and flagged["correction"]["mask_iou"] == pytest.approx(0.5)
    for ann_id in (1, 5, 6, 7, 8, 10):
        assert by_id[ann_id] == original[ann_id]

    report = json.loads((output / CORRECTIONS_JSON).read_text())
    assert report["summary"] == summary
    assert [row["id"] for row in report["annotations"]] == [1, 2, 3, 4, 5, 7, 9]
    row = report["annotations"][4]  # annotation 5: the other class exactly at the threshold
    assert row["suggested_category_id"] == 30 and row["suggested_prob"] == 0.5 and row["reasons"] == []
    assert {s["id"]: s["reason"] for s in report["skipped"]} == {
        6: "crowd",
        8: "no usable box",
        10: "image not in dataset",
    }
    sweep = summary.pop("relabel_threshold_sweep")  # the same evidence at other thresholds
    assert sweep["0.5"] == summary["label_noise"]  # the run's own threshold: the same counts
    assert sweep["0.9"] == {
        "annotations": 10,
        "noisy_before": 3,
        "restored": 0,
        "changed_still_wrong": 0,
        "broken": 0,
        "noisy_after": 3,
    }  # nothing is that probable: nothing changes
    assert sweep["0.1"]["restored"] + sweep["0.1"]["changed_still_wrong"] + sweep["0.1"]["broken"] >= 3
    assert summary == {
        "images": 2,
        "annotations": 10,
        "seen": 7,
        "skipped": 3,
        "skipped_by_reason": {"crowd": 1, "no usable box": 1, "image not in dataset": 1},
        "relabelled": 3,
        "flagged": 1,
        "label_noise": {
            "annotations": 10,
            "noisy_before": 3,
            "restored": 1,
            "changed_still_wrong": 1,
            "broken": 1,
            "noisy_after": 3,
        },
    }
    # one model call per image, the given classes as contiguous ids, masks asked for
    assert [c["classes"][0].tolist() for c in fake.calls] == [[0, 1, 2, 0, 1], [1, 2]]
    assert all(c["masks"] for c in fake.calls)


def test_boxes_follow_the_test_resize(hand_dataset, fake, tmp_path):
    name, _ = hand_dataset
    _run(name, tmp_path / "out", augmentations=[T.ResizeShortestEdge(2 * SIZE, 1000)], mask_iou_threshold=None)
    first = fake.calls[0]
    assert first["inputs"][0]["image"].shape == (3, 2 * SIZE, 2 * SIZE)
    assert (first["inputs"][0]["height"], first["inputs"][0]["width"]) == (SIZE, SIZE)  # masks come at this size
    torch.testing.assert_close(first["boxes"][0][:2], torch.tensor([[0.0, 0, 20, 20], [24, 0, 44, 20]]))
    assert not first["masks"]  # no mask threshold: no masks asked for


def test_an_interrupted_run_resumes_with_the_same_settings(hand_dataset, monkeypatch, tmp_path):
    name, _ = hand_dataset
    monkeypatch.setattr(evidence, "IMAGES_PER_SHARD", 1)
    monkeypatch.setattr(instance_inference, "predict_on_given_boxes", FakePrediction(fail_on_call=2))
    output = tmp_path / "out"
    with pytest.raises(RuntimeError, match="interrupted"):
        _run(name, output)
    assert sorted(p.name for p in output.iterdir()) == ["progress", "run.json"]  # no half output
    with pytest.raises(UserInputError, match=r"already holds files \(progress, run.json\); choose a new folder"):
        _run(name, output)
    with pytest.raises(UserInputError, match="other settings.*relabel_threshold"):
        _run(name, output, relabel_threshold=0.7, resume=True)

    (shard,) = (output / "progress").iterdir()  # the first image's, whole: written under a temp name, renamed
    assert shard.name == "shard-000000" and (shard / "rows.class_probs.npy").is_file()
    meta = json.loads((shard / "shard.json").read_text())
    (shard / "shard.json").write_text(json.dumps({**meta, "fingerprint": "another run"}))
    with pytest.raises(UserInputError, match="shard-000000 was written by another run or with other settings"):
        _run(name, output, resume=True)
    (shard / "shard.json").write_text(json.dumps(meta))

    resumed = FakePrediction()
    monkeypatch.setattr(instance_inference, "predict_on_given_boxes", resumed)
    summary = _run(name, output, resume=True)
    assert len(resumed.calls) == 1  # only the second image is left
    fresh = FakePrediction()
    monkeypatch.setattr(instance_inference, "predict_on_given_boxes", fresh)
    assert _run(name, tmp_path / "fresh") == summary
    for file in (CORRECTED_JSON, CORRECTIONS_JSON):
        assert (output / file).read_bytes() == (tmp_path / "fresh" / file).read_bytes()
    assert _run(name, output, resume=True) == summary and len(resumed.calls) == 1  # finished: nothing to do


def test_bad_inputs_are_refused_with_one_clear_error(hand_dataset, fake, tmp_path):
    name, json_file = hand_dataset
    with pytest.raises(UserInputError, match="predicts 5 classes but dataset .* has 3"):
        correct_instance_labels(StandIn(num_classes=5), name, tmp_path / "a", augmentations=[])
    with pytest.raises(UserInputError, match="needs a model with a mask head"):
        correct_instance_labels(StandIn(mask_on=False), name, tmp_path / "b", mask_iou_threshold=0.5)
    for bad in (0, 1.5, "0.5", True):
        with pytest.raises(UserInputError, match="relabel_threshold must be a number"):
            _run(name, tmp_path / "c", relabel_threshold=bad)
    with pytest.raises(UserInputError, match="holds the input json"):
        _run(name, json_file.parent)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UserInputError, match="holds files but no run.json: it is not a run to resume"):
        _run(name, other, resume=True)
    (other / "run.json").write_text('{"settings": {}, "finished": false}')
    with pytest.raises(UserInputError, match=r"holds files of something else \(notes.txt\)"):
        _run(name, other, resume=True)
    assert not fake.calls and not (tmp_path / "a").exists()

    no_masks = _hand_dataset()
    for ann in no_masks["annotations"]:
        del ann["segmentation"]
    unmasked = _register(tmp_path / "unmasked", no_masks)
    with pytest.raises(UserInputError, match="no segmentation masks"):
        _run(unmasked, tmp_path / "d")
    DatasetCatalog.remove(unmasked)
    MetadataCatalog.remove(unmasked)


# ------------------------------------------------------------------- end to end with the real toy model
def test_toy_model_end_to_end_and_stage_two_registration(tiny_toy, toy_cfg, toy_model, tmp_path):
    json_file, image_root = coco_paths(tiny_toy, "train")
    dataset = json.loads(json_file.read_text())
    image_ids = [image["id"] for image in dataset["images"][:3]]
    small = {
        **dataset,
        "images": dataset["images"][:3],
        "annotations": [a for a in dataset["annotations"] if a["image_id"] in image_ids],
    }
    name = _register(tmp_path, small, image_root=image_root)
    settings = input_settings_from_config(toy_cfg)
    assert settings == {"augmentations": [], "image_format": "BGR"}

    summary = correct_instance_labels(
        toy_model,
        name,
        tmp_path / "out",
        relabel_threshold=0.05,
        mask_iou_threshold=0.5,
        augmentations=[T.ResizeShortestEdge(128, 1000)],
        image_format="BGR",
        progress=False,
    )
    report = json.loads((tmp_path / "out" / CORRECTIONS_JSON).read_text())
    assert summary["relabelled"] > 0 and summary["flagged"] > 0  # a random model disagrees: both paths written
    assert summary["seen"] == len(small["annotations"]) == len(report["annotations"]) and summary["skipped"] == 0
    for row in report["annotations"]:
        assert 0 <= row["given_prob"] <= 1 and 0 <= row["mask_iou"] <= 1
        assert row["suggested_category_id"] != row["given_category_id"]
    assert summary["relabelled"] == sum("class" in row["reasons"] for row in report["annotations"])

    stage2 = register_coco_file(str(tmp_path / "out" / CORRECTED_JSON), like=name)
    assert register_coco_file(str(tmp_path / "out" / CORRECTED_JSON), like=name) == stage2  # again: the same
    with pytest.raises(ValueError, match="is taken by"):
        register_coco_file(str(tmp_path / "elsewhere.json"), like=name, name=stage2)
    corrected = json.loads((tmp_path / "out" / CORRECTED_JSON).read_text())
    records = DatasetCatalog.get(stage2)
    assert MetadataCatalog.get(stage2).image_root == str(image_root)
    loaded = sorted(a["category_id"] for r in records for a in r["annotations"])
    assert loaded == sorted(a["category_id"] - 1 for a in corrected["annotations"])  # toy ids 1..8 -> 0..7
    for registered in (name, stage2):
        DatasetCatalog.remove(registered)
        MetadataCatalog.remove(registered)
