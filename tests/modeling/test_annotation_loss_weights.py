"""Per-annotation loss weights (an annotation's "loss_weight", e.g. the GMM clean probability in the weighted.json of
tools/find_label_errors.py): the mapper keeps them aligned with the instances, and the box predictor's
`annotation_loss_weights` multiplies each foreground RoI's classification loss by its annotation's weight."""

import copy
import json
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import detectron2.data.transforms as T
from detectron2.config import LazyConfig, get_cfg, instantiate
from detectron2.data import DatasetCatalog, DatasetMapper
from detectron2.layers import ShapeSpec
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.structures import BoxMode, Boxes, Instances
from detectron2.utils.events import EventStorage

from noisy_seg.config import add_noisy_seg_config
from noisy_seg.data import NoisyDatasetMapper, register_coco_file
from noisy_seg.data.datasets.toy_shapes import coco_paths
from noisy_seg.engine import load_lazy_config
from noisy_seg.losses import build_loss
from noisy_seg.modeling import NoisyCascadeROIHeads, NoisyFastRCNNOutputLayers

NUM_CLASSES = 4
BG = NUM_CLASSES
CONFIG = "configs/toy/mask_rcnn_R18_FPN_ce.py"


# ------------------------------------------------------------------------------------------------- the mapper
def _mapper(noise=None, augmentations=()):
    return NoisyDatasetMapper(
        is_train=True,
        augmentations=list(augmentations),
        image_format="BGR",
        use_instance_mask=True,
        noise=noise,
        num_classes=8,
    )


def _box_annotation(x, y, w, h, category_id, **extra):
    return {
        "bbox": [x, y, w, h],
        "bbox_mode": BoxMode.XYWH_ABS,
        "category_id": category_id,
        "iscrowd": 0,
        "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
        **extra,
    }


@pytest.fixture(scope="module")
def records(tiny_toy):
    return DatasetCatalog.get("toy_tiny_train")


def test_mapper_weights_follow_their_instances_through_crowd_removal_and_the_empty_filter(records):
    record = dict(
        records[0],
        annotations=[
            _box_annotation(4, 4, 20, 20, 1, loss_weight=0.25),
            _box_annotation(60, 10, 20, 20, 2, loss_weight=0.5),  # right of the crop: empty, filtered out
            _box_annotation(10, 40, 10, 10, 3, loss_weight=0.75, iscrowd=1),  # crowd: never an instance
            _box_annotation(10, 60, 20, 20, 4),  # no loss_weight: 1
            _box_annotation(30, 30, 30, 30, 5, loss_weight=0.0),  # cut by the crop, kept
        ],
    )
    crop = T.CropTransform(0, 0, 48, record["height"])
    instances = _mapper(augmentations=[crop])(copy.deepcopy(record))["instances"]
    assert instances.gt_classes.tolist() == [1, 4, 5]
    assert instances.gt_loss_weights.dtype == torch.float32
    assert instances.gt_loss_weights.tolist() == [0.25, 1.0, 0.0]
    assert not instances.has("gt_clean_classes")  # no noise: no clean labels either


def test_mapper_weights_stay_aligned_under_noise_and_a_crop(records):
    """Every annotation's weight encodes its clean class: after noise, the crop and the filter, each instance's
    weight must still name its own clean class."""
    weighted = [
        dict(r, annotations=[dict(a, loss_weight=(a["category_id"] + 1) / 10) for a in r["annotations"]])
        for r in records
    ]
    mapper = _mapper(
        noise={"type": "symmetric", "rate": 0.4, "seed": 3},
        augmentations=[T.CropTransform(0, 0, 40, records[0]["height"])],
    )
    kept = total = 0
    for record in weighted:
        instances = mapper(copy.deepcopy(record))["instances"]
        torch.testing.assert_close(instances.gt_loss_weights, (instances.gt_clean_classes + 1).float() / 10)
        assert ((instances.gt_classes < 8) & (instances.gt_clean_classes < 8)).all()  # unpacked
        kept += len(instances)
        total += sum(not a.get("iscrowd", 0) for a in record["annotations"])
    assert 0 < kept < total  # the crop emptied some instances


def test_mapper_without_weights_is_unchanged(records):
    stock = DatasetMapper(is_train=True, augmentations=[], image_format="BGR", use_instance_mask=True)
    a, b = _mapper()(copy.deepcopy(records[0])), stock(copy.deepcopy(records[0]))
    assert not a["instances"].has("gt_loss_weights")
    assert a["instances"].get_fields().keys() == b["instances"].get_fields().keys()
    assert torch.equal(a["instances"].gt_classes, b["instances"].gt_classes)


@pytest.mark.parametrize("value", [1.5, -0.1, "0.5", float("nan"), True, None])
def test_a_bad_loss_weight_is_one_clear_error_before_training(records, value):
    from noisy_seg.data.datasets.coco_files import check_loss_weights
    from noisy_seg.utils.errors import UserInputError

    name = f"bad_weight_{value!r}"
    bad = [
        dict(
            records[0],
            annotations=[
                _box_annotation(4, 4, 20, 20, 1, loss_weight=0.5),
                _box_annotation(30, 4, 20, 20, 2, id=7, loss_weight=value),
            ],
        )
    ]
    DatasetCatalog.register(name, lambda: bad)
    try:
        with pytest.raises(
            UserInputError,
            match=rf"dataset '{re.escape(name)}': an annotation of .* has loss_weight "
            r".*; it must be a number in \[0, 1\]",
        ):
            check_loss_weights([name], "DATASETS.TRAIN")
    finally:
        DatasetCatalog.remove(name)


def test_register_coco_file_keeps_the_loss_weights(tiny_toy, tmp_path):
    json_file, image_root = coco_paths(tiny_toy, "train")
    coco = json.loads(json_file.read_text())
    coco["annotations"][0]["loss_weight"] = 0.125
    path = tmp_path / "weighted.json"
    path.write_text(json.dumps(coco))
    name = register_coco_file(str(path), like="toy_tiny_train", image_root=str(image_root))
    record = next(r for r in DatasetCatalog.get(name) if r["image_id"] == coco["annotations"][0]["image_id"])
    weights = [a.get("loss_weight") for a in record["annotations"]]
    assert weights.count(0.125) == 1 and weights.count(None) == len(weights) - 1
    assert 0.125 in _mapper()(record)["instances"].gt_loss_weights.tolist()


def test_weighted_json_gives_scored_annotations_their_gmm_probability_and_leaves_the_rest():
    from noisy_seg.pseudo_labels.evidence_shards import Evidence
    from noisy_seg.pseudo_labels.label_issues import InstanceDataset, weighted_dataset

    coco = {
        "images": [{"id": 1}],
        "categories": [{"id": 1}],
        "annotations": [
            {"id": 10, "category_id": 1},
            {"id": 11, "category_id": 1, "iscrowd": 1},
            {"id": 12, "category_id": 1},
        ],
    }
    data = InstanceDataset("set", [], copy.deepcopy(coco), {1: 0}, "set.json")
    evidence = Evidence.empty(3)
    evidence.rows["index"] = np.asarray([0, 2])  # the evidence rows of annotations 0 and 2
    weighted = weighted_dataset(data, evidence, [0.123456, 1.0])
    annotations = list(weighted["annotations"])  # a generator: streamed into the file
    assert [a.get("loss_weight") for a in annotations] == [0.1235, None, 1.0]  # the crowd one: unscored
    assert data.coco == coco and weighted["images"] == coco["images"]  # the input is not edited


# ------------------------------------------------------------------------------------------------- the loss
def _predictor(**kwargs):
    torch.manual_seed(0)
    return NoisyFastRCNNOutputLayers(
        input_shape=ShapeSpec(channels=16),
        num_classes=NUM_CLASSES,
        box2box_transform=Box2BoxTransform((10, 10, 5, 5)),
        **kwargs,
    )


GT_CLASSES = torch.tensor([0, 3, BG, 1, BG, 2])  # RoIs 2 and 4 are background


def _proposals(weights=None, gt_classes=GT_CLASSES, with_gt=True):
    n = len(gt_classes)
    inst = Instances((64, 64))
    boxes = torch.tensor([[2.0, 2.0, 30.0, 30.0]]).repeat(n, 1) + torch.arange(n, dtype=torch.float32)[:, None]
    inst.proposal_boxes = Boxes(boxes)
    if with_gt:  # detectron2 copies gt_* fields only from an image with annotations
        inst.gt_boxes = Boxes(boxes + 1)
    inst.gt_classes = gt_classes
    if weights is not None:
        inst.gt_loss_weights = torch.tensor(weights, dtype=torch.float32)
    return inst


def _losses(predictor, proposals, scores=None):
    scores = (
        torch.randn(sum(len(p) for p in proposals), NUM_CLASSES + 1, generator=torch.Generator().manual_seed(2))
        if scores is None
        else scores
    )
    deltas = torch.zeros(len(scores), 4 * NUM_CLASSES)
    with EventStorage(0):
        return predictor.losses((scores, deltas), proposals), scores


def _gce(scores, gt_classes, q=0.7):
    return (1 - F.softmax(scores, dim=1)[torch.arange(len(gt_classes)), gt_classes] ** q) / q


@pytest.mark.parametrize("name,kwargs", [("ce", {}), ("gce", {"q": 0.7})])
def test_weights_of_one_give_the_unweighted_loss(name, kwargs):
    plain, weighted = (
        _predictor(cls_loss=name, cls_loss_kwargs=kwargs),
        _predictor(cls_loss=name, cls_loss_kwargs=kwargs, annotation_loss_weights=True),
    )
    expected, scores = _losses(plain, [_proposals()])
    got, _ = _losses(weighted, [_proposals([1.0] * 6)], scores)
    assert torch.equal(got["loss_box_reg"], expected["loss_box_reg"])
    if name == "ce":  # the registered weighted CE sums in another order than F.cross_entropy's mean: last bit
        torch.testing.assert_close(got["loss_cls"], expected["loss_cls"], rtol=1e-6, atol=0)
    else:
        assert torch.equal(got["loss_cls"], expected["loss_cls"])


@pytest.mark.parametrize(
    "name,kwargs,per_roi",
    [
        ("ce", {}, lambda s, y: F.cross_entropy(s, y, reduction="none")),
        ("gce", {"q": 0.7}, _gce),
    ],
)
def test_a_zero_weight_removes_exactly_that_rois_contribution(name, kwargs, per_roi):
    predictor = _predictor(cls_loss=name, cls_loss_kwargs=kwargs, annotation_loss_weights=True)
    scores = torch.randn(6, NUM_CLASSES + 1, generator=torch.Generator().manual_seed(3), requires_grad=True)
    losses, _ = _losses(predictor, [_proposals([1.0, 0.0, 1.0, 0.5, 1.0, 1.0])], scores)
    by_hand = per_roi(scores, GT_CLASSES).detach() * torch.tensor([1.0, 0.0, 1.0, 0.5, 1.0, 1.0])
    torch.testing.assert_close(losses["loss_cls"], by_hand.sum() / 6)  # "mean" still divides by all 6 RoIs
    losses["loss_cls"].backward()
    assert torch.equal(scores.grad[1], torch.zeros(NUM_CLASSES + 1))  # RoI 1 no longer trains the classifier
    assert (scores.grad[[0, 2, 3, 4, 5]].abs().sum(dim=1) > 0).all()


@pytest.mark.parametrize("name,kwargs", [("ce", {}), ("gce", {"q": 0.3})])
def test_background_rois_keep_weight_one(name, kwargs):
    """A background RoI carries the weight of the arbitrary annotation detectron2 copied to it: it is ignored."""
    predictor = _predictor(cls_loss=name, cls_loss_kwargs=kwargs, annotation_loss_weights=True)
    losses, scores = _losses(predictor, [_proposals([0.0] * 6)])
    background = GT_CLASSES == BG
    per_roi = build_loss(name, ignore_index=None, reduction="none", **kwargs)(scores, GT_CLASSES)
    torch.testing.assert_close(losses["loss_cls"], per_roi[background].sum() / 6)


def test_an_image_without_annotations_needs_no_weights():
    predictor = _predictor(cls_loss="gce", cls_loss_kwargs={"q": 0.7}, annotation_loss_weights=True)
    empty = _proposals(gt_classes=torch.full((3,), BG), with_gt=False)  # as detectron2 labels an image without gt
    losses, scores = _losses(predictor, [_proposals([0.5] * 6), empty])
    gt = torch.cat([GT_CLASSES, empty.gt_classes])
    weight = torch.tensor([0.5, 0.5, 1.0, 0.5, 1.0, 0.5, 1.0, 1.0, 1.0])
    torch.testing.assert_close(losses["loss_cls"], (_gce(scores, gt) * weight).sum() / 9)


def test_weights_before_the_switch_iteration_weight_the_plain_ce():
    predictor = _predictor(
        cls_loss="gce", cls_loss_kwargs={"q": 0.7}, loss_switch_iter=10, annotation_loss_weights=True
    )
    weights = [1.0, 0.0, 1.0, 0.5, 1.0, 1.0]
    losses, scores = _losses(predictor, [_proposals(weights)])  # iteration 0: CE
    ce = F.cross_entropy(scores, GT_CLASSES, reduction="none")
    torch.testing.assert_close(losses["loss_cls"], (ce * torch.tensor(weights)).sum() / 6)


def test_off_by_default_and_then_stock_ce_exactly():
    from detectron2.modeling.roi_heads import FastRCNNOutputLayers

    noisy = _predictor()
    assert noisy.annotation_loss_weights is False
    torch.manual_seed(0)
    stock = FastRCNNOutputLayers(
        input_shape=ShapeSpec(channels=16), num_classes=NUM_CLASSES, box2box_transform=Box2BoxTransform((10, 10, 5, 5))
    )
    got, scores = _losses(noisy, [_proposals([0.0] * 6)])  # weights present, option off: ignored
    expected, _ = _losses(stock, [_proposals()], scores)
    assert all(torch.equal(got[k], expected[k]) for k in expected)


def test_missing_weights_are_one_clear_error():
    predictor = _predictor(annotation_loss_weights=True)
    with pytest.raises(ValueError, match='training annotations carry no "loss_weight"') as info:
        _losses(predictor, [_proposals()])
    message = str(info.value)
    assert "weighted.json" in message and "find_label_errors" in message and "register_coco_file" in message


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"annotation_loss_weights": "yes"}, "annotation_loss_weights must be True or False"),
        ({"annotation_loss_weights": True, "use_sigmoid_ce": True}, "annotation_loss_weights=True needs softmax"),
    ],
)
def test_bad_options_fail_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _predictor(**kwargs)


# ------------------------------------------------------------------------------------------------- configs
def _yacs_cfg():
    cfg = get_cfg()
    add_noisy_seg_config(cfg)
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = NUM_CLASSES
    return cfg


def test_the_yacs_key_reaches_the_predictor():
    cfg = _yacs_cfg()
    assert cfg.MODEL.ROI_BOX_HEAD.ANNOTATION_LOSS_WEIGHTS is False
    assert NoisyFastRCNNOutputLayers(cfg, ShapeSpec(channels=16)).annotation_loss_weights is False
    cfg.merge_from_list(["MODEL.ROI_BOX_HEAD.ANNOTATION_LOSS_WEIGHTS", "True"])
    assert NoisyFastRCNNOutputLayers(cfg, ShapeSpec(channels=16)).annotation_loss_weights is True


def test_a_yacs_cascade_weights_its_first_stage_only():
    """Later stages re-match their boxes: their proposals carry no annotation weights."""
    cfg = _yacs_cfg()
    cfg.MODEL.ROI_BOX_HEAD.ANNOTATION_LOSS_WEIGHTS = True
    cfg.MODEL.ROI_HEADS.IN_FEATURES = ["res4"]
    cfg.MODEL.ROI_BOX_HEAD.NAME = "FastRCNNConvFCHead"
    cfg.MODEL.ROI_BOX_HEAD.NUM_FC, cfg.MODEL.ROI_BOX_HEAD.FC_DIM = 1, 16
    cfg.MODEL.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG = True
    predictors = NoisyCascadeROIHeads._init_box_head(cfg, {"res4": ShapeSpec(channels=8, stride=16)})["box_predictors"]
    assert [p.annotation_loss_weights for p in predictors] == [True, False, False]


def test_the_lazy_config_key_trains_the_toy_model_with_the_mapped_weights(repo_root, records):
    cfg = load_lazy_config(str(repo_root / CONFIG), ["model.roi_heads.box_predictor.annotation_loss_weights=True"])
    assert cfg.model.roi_heads.box_predictor.annotation_loss_weights is True
    off = LazyConfig.load(str(repo_root / CONFIG))
    torch.manual_seed(0)
    model = instantiate(cfg.model)
    torch.manual_seed(0)
    stock = instantiate(off.model)
    assert model.roi_heads.box_predictor.annotation_loss_weights is True
    assert stock.roi_heads.box_predictor.annotation_loss_weights is False

    def loss_cls(net, weight):
        batch = [
            _mapper()(dict(r, annotations=[dict(a, loss_weight=weight) for a in r["annotations"]])) for r in records[:2]
        ]
        assert all(b["instances"].has("gt_loss_weights") for b in batch)
        net.train()
        torch.manual_seed(123)  # proposal sampling is random
        with EventStorage(0):
            return net(batch)["loss_cls"]

    one, zero = loss_cls(model, 1.0), loss_cls(model, 0.0)
    torch.testing.assert_close(one, loss_cls(stock, 1.0), rtol=1e-6, atol=0)
    assert 0 < zero < one  # only the background RoIs are left
    plain = [_mapper()(copy.deepcopy(r)) for r in records[:2]]
    with pytest.raises(ValueError, match='carry no "loss_weight"'), EventStorage(0):
        model(plain)


# ------------------------------------------------------------------------------------------------- boundary checks
def test_the_boundary_checks_refuse_weights_on_without_weighted_annotations(repo_root, tiny_toy, tmp_path):
    """train_net checks before training (LazyConfig and yacs): one UserInputError naming the datasets, none when
    some annotation carries a weight or the option is off."""
    from noisy_seg.engine import check_annotation_weights, check_yacs_datasets
    from noisy_seg.utils.errors import UserInputError

    json_file, image_root = coco_paths(tiny_toy, "train")
    coco = json.loads(json_file.read_text())
    coco["annotations"][0]["loss_weight"] = 0.5
    weighted = tmp_path / "weighted.json"
    weighted.write_text(json.dumps(coco))
    plain = register_coco_file(str(json_file), like="toy_tiny_train", image_root=str(image_root), name="plain_tiny")
    on = ["model.roi_heads.box_predictor.annotation_loss_weights=True"]
    check_annotation_weights(load_lazy_config(str(repo_root / CONFIG), [f"dataloader.train.dataset.names={plain}"]))
    cfg = load_lazy_config(str(repo_root / CONFIG), on + [f"dataloader.train.dataset.names={plain}"])
    with pytest.raises(
        UserInputError,
        match=r"no annotation of dataloader.train.dataset.names=\['plain_tiny'\] "
        r'has a "loss_weight": train on the weighted.json',
    ):
        check_annotation_weights(cfg)
    cfg.dataloader.train.dataset.names = register_coco_file(
        str(weighted), like="toy_tiny_train", image_root=str(image_root), name="weighted_tiny"
    )
    check_annotation_weights(cfg)  # one weighted annotation is enough

    yacs = _yacs_cfg()
    yacs.DATASETS.TRAIN, yacs.DATASETS.TEST = (plain,), ("toy_tiny_val",)
    check_yacs_datasets(yacs, eval_only=False)
    yacs.MODEL.ROI_BOX_HEAD.ANNOTATION_LOSS_WEIGHTS = True
    with pytest.raises(UserInputError, match=r"DATASETS.TRAIN=\['plain_tiny'\]"):
        check_yacs_datasets(yacs, eval_only=False)
    check_yacs_datasets(yacs, eval_only=True)  # evaluation needs no weights
    yacs.DATASETS.TRAIN = ("weighted_tiny",)
    check_yacs_datasets(yacs, eval_only=False)


@pytest.mark.slow
def test_train_net_says_so_in_one_line_before_training(repo_root, tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            str(repo_root / "tools" / "train_net.py"),
            "--config-file",
            "toy/yacs/mask_rcnn_R18_FPN_ce.yaml",
            "MODEL.ROI_BOX_HEAD.ANNOTATION_LOSS_WEIGHTS",
            "True",
            "OUTPUT_DIR",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=repo_root,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [
        "error: per-annotation loss weights are on but no annotation of DATASETS.TRAIN=['toy_shapes_train'] has a "
        '"loss_weight": train on the weighted.json of tools/find_label_errors.py, registered with '
        "register_coco_file(json_file, like=...), or turn the option off"
    ]
    assert not (tmp_path / "out").exists()
