"""Every detectron2 ROI-head family (StandardROIHeads, CascadeROIHeads, Res5ROIHeads) from both config systems:
built as stock from the same seed with cls_loss="ce", one training step with a robust loss and its switch iteration,
one clear error for what is not supported. Tiny models on 64x64 images."""

import copy

import pytest
import torch

from detectron2 import model_zoo
from detectron2.config import LazyCall as L
from detectron2.config import LazyConfig, get_cfg, instantiate
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_model
from detectron2.modeling.backbone.resnet import BasicBlock, BasicStem, ResNet
from detectron2.modeling.roi_heads import CascadeROIHeads, Res5ROIHeads, ROIHeads, StandardROIHeads
from detectron2.structures import BitMasks, Boxes, Instances
from detectron2.utils.events import EventStorage

from noisy_seg.config import add_noisy_seg_config, use_noisy_roi_heads
from noisy_seg.noise import NOISE_REGISTRY, build_noise
from noisy_seg.modeling import (
    NoisyCascadeROIHeads,
    NoisyFastRCNNOutputLayers,
    NoisyMaskRCNNConvUpsampleHead,
    NoisyRes5ROIHeads,
    NoisyStandardROIHeads,
)
from noisy_seg.modeling.memorization import set_memorization_log_period

NUM_CLASSES = 4
FAMILIES = {
    StandardROIHeads: NoisyStandardROIHeads,
    CascadeROIHeads: NoisyCascadeROIHeads,
    Res5ROIHeads: NoisyRes5ROIHeads,
}
SUPPORTED = "supports the ROI heads StandardROIHeads, CascadeROIHeads, Res5ROIHeads"


def _lazy_model(family, repo_root, num_classes=NUM_CLASSES):
    """detectron2's own LazyConfig of the family, shrunk: the toy R18-FPN (or a 3-stage 16-64 channel C4 ResNet)."""
    if family is Res5ROIHeads:
        model = model_zoo.get_config("common/models/mask_rcnn_c4.py").model
        model.backbone = L(ResNet)(
            stem=L(BasicStem)(in_channels=3, out_channels=16, norm="FrozenBN"),
            stages=[
                L(ResNet.make_stage)(
                    block_class=BasicBlock,
                    num_blocks=1,
                    stride_per_block=[s],
                    in_channels=c_in,
                    out_channels=c_out,
                    norm="FrozenBN",
                )
                for s, c_in, c_out in ((1, 16, 16), (2, 16, 32), (2, 32, 64))
            ],
            out_features=["res4"],
            freeze_at=0,
        )
        model.proposal_generator.head.in_channels = 64
        model.roi_heads.pooler.output_size = 7
        model.roi_heads.res5.update(
            num_blocks=1, stride_per_block=[2], in_channels=64, bottleneck_channels=16, out_channels=128
        )
        model.roi_heads.mask_head.conv_dims = [16]
    else:
        tiny = LazyConfig.load(str(repo_root / "configs/common/models/mask_rcnn_R18_FPN_tiny.py")).model
        name = "cascade_rcnn" if family is CascadeROIHeads else "mask_rcnn_fpn"
        model = model_zoo.get_config(f"common/models/{name}.py").model
        model.backbone, model.proposal_generator = tiny.backbone, tiny.proposal_generator
        heads = model.roi_heads
        for box_head in heads.get("box_heads") or [heads.box_head]:
            box_head.update(input_shape=ShapeSpec(channels=32, height=7, width=7), fc_dims=[32, 32])
        for predictor in heads.get("box_predictors") or [heads.box_predictor]:
            predictor.input_shape = ShapeSpec(channels=32)
        heads.mask_head.update(input_shape=ShapeSpec(channels=32, width=14, height=14), conv_dims=[16])
    model.proposal_generator.update(pre_nms_topk=(200, 200), post_nms_topk=(50, 50))
    model.roi_heads.update(num_classes=num_classes, batch_size_per_image=32)
    return model


def _yacs_cfg(family, name):
    cfg = get_cfg()
    add_noisy_seg_config(cfg)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.MASK_ON = True
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    cfg.MODEL.RPN.PRE_NMS_TOPK_TRAIN, cfg.MODEL.RPN.POST_NMS_TOPK_TRAIN = 200, 50
    cfg.MODEL.ROI_HEADS.NAME = name
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = NUM_CLASSES
    cfg.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE = 32
    cfg.MODEL.ROI_MASK_HEAD.CONV_DIM = 16
    if family is Res5ROIHeads:  # detectron2's C4 defaults: res4 features, the res5 block in the heads
        cfg.MODEL.RESNETS.WIDTH_PER_GROUP = 2  # res5 bottleneck 16 channels
        cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[16, 32, 64]]
        cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION = 7
        return cfg
    cfg.MODEL.BACKBONE.NAME = "build_resnet_fpn_backbone"
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.OUT_CHANNELS = 32
    cfg.MODEL.RPN.IN_FEATURES = ["p2", "p3", "p4", "p5", "p6"]
    cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[16], [32], [64], [128], [256]]
    cfg.MODEL.ROI_HEADS.IN_FEATURES = ["p2", "p3", "p4", "p5"]
    cfg.MODEL.ROI_BOX_HEAD.NAME = "FastRCNNConvFCHead"
    cfg.MODEL.ROI_BOX_HEAD.NUM_FC, cfg.MODEL.ROI_BOX_HEAD.FC_DIM = 2, 32
    cfg.MODEL.ROI_MASK_HEAD.NUM_CONV = 1
    cfg.MODEL.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG = family is CascadeROIHeads  # cascade needs it
    return cfg


def _build(family, system, repo_root, cls_loss=None, loss_switch_iter=0):
    """The tiny model of `family` from seed 0: detectron2's stock heads without a cls_loss, ours with one."""
    if system == "lazy":
        cfg = _lazy_model(family, repo_root)
        if cls_loss is not None:
            use_noisy_roi_heads(cfg, cls_loss=cls_loss, loss_switch_iter=loss_switch_iter)
    else:
        cfg = _yacs_cfg(family, family.__name__ if cls_loss is None else FAMILIES[family].__name__)
        cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS = cls_loss or "ce"
        cfg.MODEL.ROI_BOX_HEAD.LOSS_SWITCH_ITER = loss_switch_iter
    torch.manual_seed(0)
    return instantiate(cfg) if system == "lazy" else build_model(cfg)


def _batch():
    """Two 64x64 images with two objects each; the second object's label was flipped (gt_clean_classes)."""
    g = torch.Generator().manual_seed(0)
    boxes = torch.tensor([[4.0, 6.0, 30.0, 28.0], [30.0, 20.0, 60.0, 58.0]])
    masks = torch.zeros(2, 64, 64, dtype=torch.bool)
    for mask, (x0, y0, x1, y1) in zip(masks, boxes.int().tolist()):
        mask[y0:y1, x0:x1] = True
    batch = []
    for _ in range(2):
        inst = Instances(
            (64, 64),
            gt_boxes=Boxes(boxes),
            gt_classes=torch.tensor([1, 3]),
            gt_clean_classes=torch.tensor([1, 2]),
            gt_masks=BitMasks(masks),
        )
        batch.append({"image": torch.randint(0, 256, (3, 64, 64), generator=g, dtype=torch.uint8), "instances": inst})
    return batch


def _losses(model, batch, it):
    model.train()
    set_memorization_log_period(model, 1)  # every iteration is a writer's iteration
    torch.manual_seed(123)  # proposal sampling is random
    with EventStorage(it) as storage:
        losses = model(batch)
    return losses, storage.latest()


def _predictors(model):
    heads = model.roi_heads
    return list(heads.box_predictor) if isinstance(heads, CascadeROIHeads) else [heads.box_predictor]


def _build_with_mask_loss(family, system, repo_root, mask_loss):
    """The tiny model of `family` from seed 0 with the noisy mask head and `mask_loss` (the box side stock)."""
    if system == "lazy":
        cfg = _lazy_model(family, repo_root)
        use_noisy_roi_heads(cfg, mask_loss=mask_loss)
    else:
        cfg = _yacs_cfg(family, family.__name__)
        cfg.MODEL.ROI_MASK_HEAD.NAME = "NoisyMaskRCNNConvUpsampleHead"
        cfg.MODEL.ROI_MASK_HEAD.LOSS = mask_loss
    torch.manual_seed(0)
    return instantiate(cfg) if system == "lazy" else build_model(cfg)


@pytest.mark.parametrize("system", ["lazy", "yacs"])
@pytest.mark.parametrize("family", list(FAMILIES), ids=lambda f: f.__name__)
@pytest.mark.slow
def test_family_takes_a_mask_loss_stock_with_bce(family, system, repo_root):
    stock = _build(family, system, repo_root)
    bce = _build_with_mask_loss(family, system, repo_root, "bce")
    dice = _build_with_mask_loss(family, system, repo_root, "dice_bce")
    for model, loss in ((bce, "bce"), (dice, "dice_bce")):
        head = model.roi_heads.mask_head
        assert type(head) is NoisyMaskRCNNConvUpsampleHead and head.mask_loss_name == loss
    stock_state = stock.state_dict()
    for model in (bce, dice):
        state = model.state_dict()
        assert state.keys() == stock_state.keys() and all(torch.equal(stock_state[k], state[k]) for k in state)
    batch = _batch()
    stock_losses, _ = _losses(stock, batch, it=0)
    bce_losses, _ = _losses(bce, batch, it=0)
    dice_losses, _ = _losses(dice, batch, it=0)
    assert bce_losses.keys() == stock_losses.keys() == dice_losses.keys()
    assert all(torch.equal(stock_losses[k], bce_losses[k]) for k in bce_losses)
    for k in dice_losses:  # only the mask loss differs
        assert torch.equal(dice_losses[k], stock_losses[k]) != (k == "loss_mask"), k
    sum(dice_losses.values()).backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in dice.parameters())


@pytest.mark.parametrize("system", ["lazy", "yacs"])
@pytest.mark.parametrize("family", list(FAMILIES), ids=lambda f: f.__name__)
@pytest.mark.slow
def test_family_builds_as_stock_with_ce_and_trains_with_a_robust_loss(family, system, repo_root):
    stock = _build(family, system, repo_root)
    ce = _build(family, system, repo_root, cls_loss="ce")
    robust = _build(family, system, repo_root, cls_loss="combination", loss_switch_iter=1)
    assert type(stock.roi_heads) is family
    for model, loss in ((ce, "ce"), (robust, "combination")):
        assert type(model.roi_heads) is FAMILIES[family]
        predictors = _predictors(model)
        assert len(predictors) == (3 if family is CascadeROIHeads else 1)
        assert all(isinstance(p, NoisyFastRCNNOutputLayers) and p.cls_loss_name == loss for p in predictors)
    stock_state = stock.state_dict()  # same seed, same weights: no weights copied
    for model in (ce, robust):
        state = model.state_dict()
        assert state.keys() == stock_state.keys() and all(torch.equal(stock_state[k], state[k]) for k in state)

    batch = _batch()
    stock_losses, _ = _losses(stock, batch, it=0)
    ce_losses, _ = _losses(ce, batch, it=0)
    before, logged = _losses(robust, batch, it=0)  # before loss_switch_iter: plain CE, exactly stock
    for losses in (ce_losses, before):
        assert losses.keys() == stock_losses.keys()
        assert all(torch.equal(stock_losses[k], losses[k]) for k in losses), losses
    scope = "stage0/" if family is CascadeROIHeads else ""  # cascade: its first stage, in detectron2's name scope
    assert f"{scope}memorization/pred_is_clean_label" in logged  # the flipped label is seen

    # From loss_switch_iter on: the robust loss; the rest is stock. With no RoI in the combination loss's robust group
    # (a foreground RoI predicted foreground) it equals CE, and whether a random-init head predicts any foreground
    # depends on the machine's kernels: the background logit is pushed down in both models first, so the group is
    # never empty.
    for model in (stock, robust):
        with torch.no_grad():
            for predictor in _predictors(model):
                predictor.cls_score.bias[-1] -= 10.0
    stock_losses, _ = _losses(stock, batch, it=0)
    after, _ = _losses(robust, batch, it=1)
    assert after.keys() == stock_losses.keys() and all(torch.isfinite(v) for v in after.values())
    for k in after:
        assert torch.equal(after[k], stock_losses[k]) != k.startswith("loss_cls"), k
    sum(after.values()).backward()
    torch.optim.SGD(robust.parameters(), lr=0.01).step()
    assert all(torch.isfinite(p).all() for p in robust.parameters())


@pytest.mark.parametrize("family", list(FAMILIES), ids=lambda f: f.__name__)
def test_use_noisy_roi_heads_is_idempotent_and_reads_yaml_targets(family, repo_root):
    once = use_noisy_roi_heads(_lazy_model(family, repo_root), cls_loss="gce", cls_loss_kwargs={"q": 0.5})
    twice = use_noisy_roi_heads(_lazy_model(family, repo_root), cls_loss="combination", loss_switch_iter=3)
    use_noisy_roi_heads(twice, cls_loss="gce", cls_loss_kwargs={"q": 0.5})
    assert once == twice
    as_yaml = _lazy_model(family, repo_root)  # what a config saved to yaml holds: dotted names
    as_yaml.roi_heads._target_ = f"{family.__module__}.{family.__name__}"
    assert use_noisy_roi_heads(as_yaml).roi_heads._target_ is FAMILIES[family]


def test_a_subclass_of_a_family_keeps_its_class():
    class MyHeads(StandardROIHeads):
        pass

    model = model_zoo.get_config("common/models/mask_rcnn_fpn.py").model
    model.roi_heads._target_ = MyHeads
    use_noisy_roi_heads(model, cls_loss="gce", cls_loss_kwargs={"q": 0.5})
    assert model.roi_heads._target_ is MyHeads
    assert model.roi_heads.box_predictor._target_ is NoisyFastRCNNOutputLayers


class _OtherHeads(ROIHeads):
    pass


@pytest.mark.parametrize(
    "config,edit,match",
    [
        ("mask_rcnn_fpn", lambda m: setattr(m.roi_heads, "_target_", _OtherHeads), f"{SUPPORTED}.*is _OtherHeads$"),
        ("retinanet", lambda m: None, f"{SUPPORTED}.*is missing$"),
        (
            "mask_rcnn_c4",
            lambda m: setattr(m.roi_heads.box_predictor, "_target_", torch.nn.Linear),
            "replaces detectron2's FastRCNNOutputLayers; the box predictor is Linear$",
        ),
        ("cascade_rcnn", lambda m: m.roi_heads.pop("mask_head"), "cls_agnostic_mask=True needs a mask head"),
    ],
)
def test_what_is_not_supported_is_one_clear_error(config, edit, match):
    model = model_zoo.get_config(f"common/models/{config}.py").model
    edit(model)
    with pytest.raises(ValueError, match=match) as info:
        use_noisy_roi_heads(model, cls_loss="combination", cls_agnostic_mask=True)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("family", list(FAMILIES), ids=lambda f: f.__name__)
def test_a_dense_loss_is_refused_by_both_config_systems(family, repo_root):
    match = "cls_loss='dice' is a dense loss; the box classifier needs a classification loss: choose one of"
    model = _lazy_model(family, repo_root)
    before = copy.deepcopy(model)
    with pytest.raises(ValueError, match=match):
        use_noisy_roi_heads(model, cls_loss="dice")  # when the config is written, before anything is built
    assert model == before
    cfg = _yacs_cfg(family, FAMILIES[family].__name__)
    cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS = "dice"
    with pytest.raises(ValueError, match=match):
        build_model(cfg)


# ----------------------------------------------------------------------------------- images the noise emptied
TOY_CLASSES = 8


def _instance_noise_names() -> list:
    """A name of every short-name form of every registered instance noise (rate 90; each preset that fits the toy
    data's 8 classes), and drop100, which empties every image."""
    names = []
    for entry in NOISE_REGISTRY.values():
        if entry.part == "semantic_noise":
            continue
        for prefix in entry.short:
            forms = [
                prefix + ("90" if "rate" in entry.allowed else "") + (f"_{p}" if p else "")
                for p in entry.presets or [None]
            ]
            fitting = [name for name in forms if _builds(name)]
            assert fitting, f"no form of {prefix} fits the toy classes: {forms}"
            names += fitting
    return names + ["drop100"]


def _builds(name) -> bool:
    try:
        build_noise(name, TOY_CLASSES)
    except ValueError:  # a preset of another data set's classes (asym90_coco)
        return False
    return True


@pytest.fixture(scope="module")
def emptied_batch(tiny_toy):
    """Per noise name, a toy image mapped by NoisyDatasetMapper under it, then the image its noise left without
    annotations (an annotated image first, as in the probe: proposals[0] had the clean labels, a later one none)."""
    import detectron2.data.transforms as T
    from detectron2.data import DatasetCatalog

    from noisy_seg.data import NoisyDatasetMapper

    record = next(r for r in DatasetCatalog.get("toy_tiny_train") if len(r["annotations"]) >= 3)
    batch = []
    for name in _instance_noise_names():
        mapper = NoisyDatasetMapper(
            is_train=True,
            augmentations=[T.Resize((48, 48))],
            image_format="BGR",
            use_instance_mask=True,
            noise=name,
            num_classes=TOY_CLASSES,
        )  # 48 px: fast
        mapped = mapper(copy.deepcopy(record))
        emptied = mapper(copy.deepcopy({**record, "annotations": []} if name != "drop100" else record))
        assert len(emptied["instances"]) == 0 and emptied["instances"].has("gt_clean_classes"), name
        batch += [mapped] if name != "drop100" else []
        batch.append(emptied)
    assert any((d["instances"].gt_classes != d["instances"].gt_clean_classes).any() for d in batch)
    return batch


@pytest.mark.parametrize("family", list(FAMILIES), ids=lambda f: f.__name__)
@pytest.mark.slow
def test_every_noise_trains_a_step_on_a_batch_with_images_it_emptied(family, repo_root, emptied_batch):
    """The probe: dataloader.train.mapper.noise=drop90 stopped training at the first iterations (AttributeError:
    Cannot find field 'gt_clean_classes'): detectron2 gives the proposals of an image without annotations no
    gt_* field. Every family, mask head included, trains on such a batch and still counts the flipped labels; so
    does a batch of emptied images only."""
    cfg = _lazy_model(family, repo_root, num_classes=TOY_CLASSES)
    use_noisy_roi_heads(cfg, cls_loss="combination")
    torch.manual_seed(0)
    model = instantiate(cfg)
    scope = "stage0/" if family is CascadeROIHeads else ""
    only_emptied = [d for d in emptied_batch if len(d["instances"]) == 0][:2]
    for batch in (emptied_batch, only_emptied):
        losses, logged = _losses(model, batch, it=0)
        assert all(torch.isfinite(v) for v in losses.values()), losses
        sum(losses.values()).backward()
        assert (f"{scope}memorization/pred_is_clean_label" in logged) == (batch is emptied_batch)


@pytest.mark.slow
def test_drop90_trains_through_train_net_and_its_memorization_rows_are_the_writers(repo_root, tiny_toy, tmp_path):
    """The probe's run, shortened: dataloader.train.mapper.noise=drop90 (with sym90 on what it keeps, so that the
    curves count something) trains on the toy config, and the memorization scalars land in the rows the writer
    writes every train.log_period iterations (they came every 20 iterations, in rows after the writer's: 19, 0)."""
    import json

    from noisy_seg.cli import train_net

    argv = [
        "--config-file",
        str(repo_root / "configs/toy/mask_rcnn_R18_FPN_ce.py"),
        f"train.output_dir={tmp_path}",
        "dataloader.train.dataset.names=toy_tiny_train",
        "dataloader.test.dataset.names=toy_tiny_val",
        "dataloader.train.mapper.noise=['sym90','drop90']",
        "dataloader.train.total_batch_size=4",
        "train.max_iter=5",
        "train.log_period=2",
        "train.eval_period=0",
        "model.roi_heads.box_predictor.test_score_thresh=0.0",
    ]  # detections to evaluate after 5 iterations
    train_net.main(train_net.default_argument_parser().parse_args(argv))
    rows = [json.loads(line) for line in (tmp_path / "metrics.json").read_text().splitlines()]
    assert [r["iteration"] for r in rows if "total_loss" in r] == [1, 3, 4]  # every 2 iterations and the last
    logged = [r for r in rows if "memorization/pred_is_clean_label" in r]
    assert logged and all("total_loss" in r for r in logged)  # in the writer's rows, not rows of their own
    for row in logged:
        shares = [row[f"memorization/pred_is_{s}"] for s in ("clean_label", "noisy_label", "other_label")]
        assert sum(shares) == pytest.approx(1.0) and 0 <= row["memorization/pred_is_background"] <= shares[2]
