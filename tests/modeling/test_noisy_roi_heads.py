import copy

import pytest
import torch

from detectron2.config import LazyConfig, get_cfg, instantiate
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_model
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.modeling.roi_heads import FastRCNNOutputLayers, StandardROIHeads
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

from noisy_seg.config import add_noisy_seg_config, use_noisy_roi_heads
from noisy_seg.losses import build_loss
from noisy_seg.modeling import NoisyCascadeROIHeads, NoisyFastRCNNOutputLayers, NoisyStandardROIHeads
from noisy_seg.modeling.memorization import MEMORIZATION_LOG_PERIOD, set_memorization_log_period

NUM_CLASSES = 4


def _predictor_pair(**noisy_kwargs):
    torch.manual_seed(0)
    args = dict(
        input_shape=ShapeSpec(channels=16), box2box_transform=Box2BoxTransform((10, 10, 5, 5)), num_classes=NUM_CLASSES
    )
    stock = FastRCNNOutputLayers(**args)
    noisy = NoisyFastRCNNOutputLayers(**args, **noisy_kwargs)
    noisy.load_state_dict(stock.state_dict())
    return stock, noisy


def _proposals(n=40, clean=None, seed=1):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 40
    boxes = torch.cat([xy, xy + 5 + torch.rand(n, 2, generator=g) * 20], dim=1)
    inst = Instances((64, 64))
    inst.proposal_boxes = Boxes(boxes)
    inst.gt_boxes = Boxes(boxes + torch.randn(n, 4, generator=g))
    inst.gt_classes = torch.randint(0, NUM_CLASSES + 1, (n,), generator=g)
    if clean is not None:
        inst.gt_clean_classes = clean
    return inst


def test_ce_equals_stock_fast_rcnn_exactly():
    stock, noisy = _predictor_pair(cls_loss="ce")
    x = torch.randn(40, 16)
    props = [_proposals()]
    with EventStorage(0):
        a = stock.losses(stock(x), props)
        b = noisy.losses(noisy(x), props)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize(
    "name,kwargs", [("combination", {}), ("sce", {"alpha": 1.0, "beta": 0.1}), ("gce", {"q": 0.7}), ("nce_rce", {})]
)
def test_robust_loss_replaces_only_the_classification_loss(name, kwargs):
    stock, noisy = _predictor_pair(cls_loss=name, cls_loss_kwargs=kwargs)
    x = torch.randn(40, 16)
    props = [_proposals()]
    with EventStorage(0):
        a = stock.losses(stock(x), props)
        scores, deltas = noisy(x)
        b = noisy.losses((scores, deltas), props)
    assert torch.equal(a["loss_box_reg"], b["loss_box_reg"])
    if name == "combination":
        kwargs = {"bg_index": NUM_CLASSES}
    expected = build_loss(name, **kwargs)(scores, props[0].gt_classes)
    torch.testing.assert_close(b["loss_cls"], expected)
    assert not torch.allclose(a["loss_cls"], b["loss_cls"])


def test_loss_switch_iter_uses_ce_before_and_robust_loss_from_it_on():
    stock, noisy = _predictor_pair(cls_loss="gce", cls_loss_kwargs={"q": 0.7}, loss_switch_iter=10)
    x = torch.randn(40, 16)
    props = [_proposals()]
    with EventStorage(9):
        before = noisy.losses(noisy(x), props)["loss_cls"]
        ce = stock.losses(stock(x), props)["loss_cls"]
    with EventStorage(10):
        after = noisy.losses(noisy(x), props)["loss_cls"]
    assert torch.equal(before, ce)
    torch.testing.assert_close(after, build_loss("gce", q=0.7)(noisy(x)[0], props[0].gt_classes))


def _memorization(noisy, predicted, batch, iteration=MEMORIZATION_LOG_PERIOD - 1):
    """The memorization scalars of one losses() call at a writer iteration (every 20th by default); `predicted`:
    the class each RoI of the batch predicts."""
    scores = torch.full((len(predicted), NUM_CLASSES + 1), -5.0)
    scores[torch.arange(len(predicted)), torch.tensor(predicted)] = 5.0
    with EventStorage(iteration) as storage:
        noisy.losses((scores, torch.zeros(len(predicted), 4 * NUM_CLASSES)), batch)
        return {k.split("/")[1]: v for k, (v, _) in storage.latest().items() if k.startswith("memorization/")}


def _flipped():
    """6 RoIs; RoIs 1 and 3 carry a corrupted foreground label (clean 1 -> 2, clean 3 -> 1); RoI 4 is background."""
    props = _proposals(n=6, clean=torch.tensor([0, 1, 2, 3, 2, 0]))
    props.gt_classes = torch.tensor([0, 2, 2, 1, 4, 0])
    return props


def _emptied(n=4):
    """The proposals detectron2 gives an image without annotations (the noise dropped them all): background
    gt_classes, no other gt_* field."""
    props = Instances((64, 64), proposal_boxes=Boxes(torch.tensor([[0.0, 0.0, 9.0, 9.0]]).repeat(n, 1)))
    props.gt_classes = torch.full((n,), NUM_CLASSES)
    return props


def test_memorization_curve_is_logged_when_clean_labels_are_known():
    _, noisy = _predictor_pair(cls_loss="combination")
    logged = _memorization(noisy, [0, 1, 2, 1, 4, 0], [_flipped()])  # RoI 1 predicts clean, RoI 3 noisy
    assert logged == pytest.approx(
        {
            "pred_is_clean_label": 0.5,
            "pred_is_noisy_label": 0.5,
            "pred_is_other_label": 0,
            "pred_is_background": 0,
            "noisy_fg_fraction": 2 / 6,
        }
    )


def test_a_classifier_that_calls_every_roi_background_reads_as_such():
    """Both curves at 0 read as "no memorization"; the third share says where the corrupted labels went."""
    _, noisy = _predictor_pair(cls_loss="combination")
    logged = _memorization(noisy, [NUM_CLASSES] * 6, [_flipped()])
    assert logged["pred_is_clean_label"] == logged["pred_is_noisy_label"] == 0
    assert logged["pred_is_other_label"] == logged["pred_is_background"] == 1
    logged = _memorization(noisy, [0, 3, 2, 0, 4, 0], [_flipped()])  # another foreground class: other, not bg
    assert logged["pred_is_other_label"] == 1 and logged["pred_is_background"] == 0


@pytest.mark.parametrize("order", ["emptied_first", "emptied_later"])
def test_images_without_annotations_anywhere_in_the_batch(order):
    """The probe: drop90 stopped training (AttributeError: Cannot find field 'gt_clean_classes') when a later image
    had no annotations; an emptied first image silently turned the curves off for the whole batch."""
    _, noisy = _predictor_pair(cls_loss="combination")
    batch = [_emptied(), _flipped()] if order == "emptied_first" else [_flipped(), _emptied()]
    predicted = [0, 1, 2, 1, 4, 0]
    predicted = [NUM_CLASSES] * 4 + predicted if order == "emptied_first" else predicted + [NUM_CLASSES] * 4
    logged = _memorization(noisy, predicted, batch)
    assert logged == pytest.approx(
        {
            "pred_is_clean_label": 0.5,
            "pred_is_noisy_label": 0.5,
            "pred_is_other_label": 0,
            "pred_is_background": 0,
            "noisy_fg_fraction": 2 / 10,
        }
    )


def test_memorization_is_written_at_the_writers_iterations_over_the_whole_period():
    """As detectron2's PeriodicWriter(period=5) of a run stopping at 12 writes: after iterations 4, 9 and 11, each
    value over all RoIs since the last write (iterations 0-3 predict the clean label, 4 the noisy one)."""
    _, noisy = _predictor_pair(cls_loss="combination")
    set_memorization_log_period(noisy, 5, max_iter=12)
    written = {}
    for it in range(12):
        predicted = [0, 1, 2, 3, 4, 0] if it < 4 else [0, 2, 2, 1, 4, 0]
        for name, value in _memorization(noisy, predicted, [_flipped()], iteration=it).items():
            written.setdefault(name, {})[it] = value
    assert written["pred_is_clean_label"] == {4: pytest.approx(0.8), 9: 0, 11: 0}
    assert written["pred_is_noisy_label"] == {4: pytest.approx(0.2), 9: 1, 11: 1}


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"cls_loss": "nope"}, "unknown loss 'nope'"),
        ({"cls_loss": "gce", "cls_loss_kwargs": {"q": 1.5}}, "q"),
        ({"cls_loss": "sce", "cls_loss_kwargs": {"alpha": -1.0, "beta": 1.0}}, "alpha"),
        ({"cls_loss": "combination", "cls_loss_kwargs": {"bg_index": 0}}, "inconsistent with num_classes"),
        ({"loss_switch_iter": -1}, "loss_switch_iter"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _predictor_pair(**kwargs)


@pytest.mark.parametrize("name", ["dice", "lovasz", "cce", "region_aware", "ce_dice"])
def test_a_dense_loss_as_box_classifier_loss_fails_at_construction(name):
    with pytest.raises(
        ValueError,
        match=f"cls_loss='{name}' is a dense loss; the box classifier needs a "
        f"classification loss: choose one of .*combination.*gce",
    ) as info:
        _predictor_pair(cls_loss=name)
    assert "\n" not in str(info.value) and "dice" not in str(info.value).split("choose one of")[1]


def test_box_head_fills_in_what_the_loss_declares():
    _, noisy = _predictor_pair(cls_loss="combination")
    assert noisy.cls_loss.options["bg_index"] == NUM_CLASSES  # declared needs_bg_index
    _, noisy = _predictor_pair(cls_loss="focal")
    assert noisy.cls_loss.options["ignore_index"] is None and "bg_index" not in noisy.cls_loss.options


@pytest.fixture(scope="module")
def toy_lazy_cfg(repo_root):
    return LazyConfig.load(str(repo_root / "configs/toy/mask_rcnn_R18_FPN_ce.py"))


def _toy_batch(tiny_toy):
    from detectron2.data import DatasetCatalog, DatasetMapper
    import detectron2.data.transforms as T

    mapper = DatasetMapper(is_train=True, augmentations=[T.NoOpTransform()], image_format="BGR", use_instance_mask=True)
    return [mapper(copy.deepcopy(d)) for d in DatasetCatalog.get("toy_tiny_train")[:2]]


def test_noisy_standard_roi_heads_with_ce_match_stock_model_from_the_same_seed(toy_lazy_cfg, tiny_toy):
    batch = _toy_batch(tiny_toy)
    stock_cfg = copy.deepcopy(toy_lazy_cfg)  # the toy config has our heads in "ce" mode: put detectron2's back
    stock_cfg.model.roi_heads._target_ = StandardROIHeads
    stock_cfg.model.roi_heads.box_predictor._target_ = FastRCNNOutputLayers
    for key in ("cls_loss", "cls_loss_kwargs", "loss_switch_iter"):
        del stock_cfg.model.roi_heads.box_predictor[key]
    torch.manual_seed(0)
    stock = instantiate(stock_cfg.model)
    assert type(stock.roi_heads) is StandardROIHeads
    noisy_cfg = copy.deepcopy(toy_lazy_cfg)
    use_noisy_roi_heads(noisy_cfg.model, cls_loss="ce")
    torch.manual_seed(0)
    noisy = instantiate(noisy_cfg.model)
    assert isinstance(noisy.roi_heads, NoisyStandardROIHeads)
    stock_state, noisy_state = stock.state_dict(), noisy.state_dict()  # no weights copied: built alike
    assert stock_state.keys() == noisy_state.keys()
    assert all(torch.equal(stock_state[k], noisy_state[k]) for k in stock_state)
    losses = []
    for model in (stock, noisy):
        model.train()
        torch.manual_seed(123)  # proposal sampling is random
        with EventStorage(0):
            losses.append(model(batch))
    assert losses[0].keys() == losses[1].keys()
    for k in losses[0]:
        assert torch.equal(losses[0][k], losses[1][k]), k


def test_class_agnostic_mask_head_trains(toy_lazy_cfg, tiny_toy):
    cfg = copy.deepcopy(toy_lazy_cfg)
    use_noisy_roi_heads(cfg.model, cls_loss="combination", cls_agnostic_mask=True)
    model = instantiate(cfg.model)
    assert model.roi_heads.mask_head.predictor.out_channels == 1
    model.train()
    with EventStorage(0):
        losses = model(_toy_batch(tiny_toy))
    assert torch.isfinite(losses["loss_mask"]) and torch.isfinite(losses["loss_cls"])
    model.eval()
    with torch.no_grad():
        out = model([{"image": _toy_batch(tiny_toy)[0]["image"]}])
    assert out[0]["instances"].pred_masks.shape[1:] == (96, 96)


def _yacs_cfg(head):
    cfg = get_cfg()
    add_noisy_seg_config(cfg)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    cfg.MODEL.BACKBONE.NAME = "build_resnet_fpn_backbone"
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.RPN.IN_FEATURES = ["p2", "p3", "p4", "p5", "p6"]
    cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[32], [64], [128], [256], [512]]
    cfg.MODEL.ROI_HEADS.IN_FEATURES = ["p2", "p3", "p4", "p5"]
    cfg.MODEL.ROI_BOX_HEAD.NAME = "FastRCNNConvFCHead"
    cfg.MODEL.ROI_BOX_HEAD.NUM_FC = 2
    cfg.MODEL.MASK_ON = True
    cfg.MODEL.ROI_MASK_HEAD.NAME = "MaskRCNNConvUpsampleHead"
    cfg.MODEL.ROI_HEADS.NAME = head
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = NUM_CLASSES
    cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS = "gce"
    cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS_KWARGS.q = 0.5
    cfg.MODEL.ROI_BOX_HEAD.LOSS_SWITCH_ITER = 7
    if "Cascade" in head:
        cfg.MODEL.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG = True
    return cfg


@pytest.mark.parametrize("head", ["NoisyStandardROIHeads", "NoisyCascadeROIHeads"])
@pytest.mark.slow
def test_yacs_config_selects_heads_and_loss(head):
    model = build_model(_yacs_cfg(head))
    expected = {"NoisyStandardROIHeads": NoisyStandardROIHeads, "NoisyCascadeROIHeads": NoisyCascadeROIHeads}[head]
    assert isinstance(model.roi_heads, expected)
    predictors = getattr(model.roi_heads, "box_predictor")
    predictors = list(predictors) if isinstance(predictors, torch.nn.ModuleList) else [predictors]
    assert predictors and all(isinstance(p, NoisyFastRCNNOutputLayers) for p in predictors)
    assert all(p.cls_loss_name == "gce" and p.loss_switch_iter == 7 for p in predictors)


@pytest.mark.parametrize(
    "stock,noisy", [("StandardROIHeads", "NoisyStandardROIHeads"), ("CascadeROIHeads", "NoisyCascadeROIHeads")]
)
@pytest.mark.slow
def test_yacs_noisy_heads_build_stock_weights_from_the_same_seed(stock, noisy):
    states = []
    for head in (stock, noisy):
        cfg = _yacs_cfg(head)
        cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS = "combination"
        cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS_KWARGS = type(cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS_KWARGS)(new_allowed=True)
        torch.manual_seed(5)
        states.append(build_model(cfg).state_dict())
        states.append(torch.rand(3))  # the RNG stream after building
    assert states[0].keys() == states[2].keys()
    assert all(torch.equal(states[0][k], states[2][k]) for k in states[0])
    assert torch.equal(states[1], states[3])


def test_yacs_class_agnostic_mask_is_detectron2s_own_option():
    cfg = _yacs_cfg("NoisyStandardROIHeads")
    cfg.MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK = True
    assert build_model(cfg).roi_heads.mask_head.predictor.out_channels == 1
