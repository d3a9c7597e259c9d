"""The mask heads with a mask loss by name (noisy_seg/modeling/mask_head.py): stock-identical with "bce", every mask
loss trains without a host sync, the switch iteration, the memorization curve from the mapper's clean masks,
Noisy Boundaries' noise-tolerant head, and one clear line for each bad option at construction."""

import pytest
import torch

from detectron2.config import LazyConfig, get_cfg
from detectron2.layers import ShapeSpec
from detectron2.modeling.roi_heads import MaskRCNNConvUpsampleHead
from detectron2.structures import BitMasks, Boxes, Instances
from detectron2.utils.events import EventStorage

from noisy_seg.config import add_noisy_seg_config, use_noisy_roi_heads
from noisy_seg.engine.config_checks import check_config, check_yacs_mask_loss
from noisy_seg.losses import available_losses, loss_spec
from noisy_seg.modeling import NoiseTolerantMaskHead, NoisyFastRCNNOutputLayers, NoisyMaskRCNNConvUpsampleHead
from noisy_seg.utils.errors import UserInputError

SHAPE = ShapeSpec(channels=8, height=7, width=7)  # a 14 x 14 RoI mask
OPTIONS = {"sbce": {"alpha": 1.0, "beta": 0.1}}
MASK_LOSSES = [n for n in available_losses() if loss_spec(n).takes_mask_logits]


def _head(cls=NoisyMaskRCNNConvUpsampleHead, seed=0, **options):
    torch.manual_seed(seed)
    return cls(SHAPE, num_classes=3, conv_dims=[8, 8], **options)


def _instances(noisy_masks=False):
    """Two images' foreground RoIs as the ROI heads hand them to the mask head; with noisy_masks, the mapper's
    clean masks of RoIs whose mask the noise changed (the second one: its mask shifted by 6 px)."""
    batch = []
    for offset in (0, 3):
        boxes = torch.tensor([[4.0, 4.0, 30.0, 30.0], [20.0, 10.0, 50.0, 44.0], [8.0, 30.0, 40.0, 60.0]]) + offset
        masks = torch.zeros(3, 64, 64, dtype=torch.bool)
        for mask, (x0, y0, x1, y1) in zip(masks, boxes.int().tolist()):
            mask[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2] = True
        inst = Instances(
            (64, 64), proposal_boxes=Boxes(boxes), gt_classes=torch.tensor([0, 2, 1]), gt_masks=BitMasks(masks)
        )
        if noisy_masks:
            clean = masks.clone()
            clean[1] = torch.roll(masks[1], shifts=6, dims=1)
            inst.gt_clean_masks = BitMasks(clean)
            inst.gt_mask_noisy = torch.tensor([False, True, False])
        batch.append(inst)
    return batch


def _features(seed=1):
    return torch.randn(6, 8, 7, 7, generator=torch.Generator().manual_seed(seed))


def test_with_bce_it_is_the_stock_head():
    stock, ours = _head(MaskRCNNConvUpsampleHead), _head()
    stock_state, state = stock.state_dict(), ours.state_dict()
    assert stock_state.keys() == state.keys() and all(torch.equal(stock_state[k], state[k]) for k in state)
    stock.train(), ours.train()
    with EventStorage(0) as storage:
        stock_losses = stock(_features(), _instances())
        stock_logged = dict(storage.latest())
    with EventStorage(0) as storage:
        losses = ours(_features(), _instances())
        assert storage.latest().keys() == stock_logged.keys()  # detectron2's mask_rcnn/accuracy, ... as stock
    assert torch.equal(losses["loss_mask"], stock_losses["loss_mask"])
    stock.eval(), ours.eval()
    detections = [Instances((64, 64), pred_boxes=i.proposal_boxes, pred_classes=i.gt_classes) for i in _instances()]
    stock_masks = [i.pred_masks for i in stock(_features(), [d[:] for d in detections])]
    assert all(torch.equal(a, b.pred_masks) for a, b in zip(stock_masks, ours(_features(), detections)))


@pytest.mark.parametrize("name", MASK_LOSSES)
def test_every_mask_loss_trains_the_head_without_a_host_sync(name, forbid_host_syncs):
    head = _head(mask_loss=name, mask_loss_kwargs=OPTIONS.get(name, {}))
    head.train()
    instances = _instances()
    features = _features()
    with EventStorage(1):
        if name == "bce":  # the stock loss: detectron2's own, which logs its accuracy through the host
            loss = head(features, instances)["loss_mask"]
        else:
            with forbid_host_syncs():
                loss = head(features, instances)["loss_mask"]
                loss.backward()
    assert torch.isfinite(loss) and loss.requires_grad


def test_the_loss_switches_at_its_iteration():
    stock = _head(MaskRCNNConvUpsampleHead).train()
    head = _head(mask_loss="dice_bce", loss_switch_iter=5).train()
    with EventStorage(4):
        before = head(_features(), _instances())["loss_mask"]
        stock_loss = stock(_features(), _instances())["loss_mask"]
    with EventStorage(5):
        after = head(_features(), _instances())["loss_mask"]
    assert torch.equal(before, stock_loss) and not torch.allclose(after, stock_loss)


def test_an_image_without_rois_gives_a_zero_loss_with_a_graph():
    head = _head(mask_loss="boundary_bce", mask_loss_kwargs={"band_unit": "image"}).train()
    empty = Instances(
        (64, 64),
        proposal_boxes=Boxes(torch.zeros(0, 4)),
        gt_classes=torch.zeros(0, dtype=torch.long),
        gt_masks=BitMasks(torch.zeros(0, 64, 64, dtype=torch.bool)),
    )
    features = torch.zeros(0, 8, 7, 7, requires_grad=True)
    with EventStorage(0):
        loss = head(features, [empty])["loss_mask"]
    loss.backward()
    assert loss.item() == 0.0


def test_the_memorization_curve_follows_the_clean_and_the_noisy_masks():
    head = _head(mask_loss="bootstrap_hard").train()
    head.memorization.set_period(1)
    with EventStorage(0) as storage:
        head(_features(), _instances(noisy_masks=True))
        logged = {k: v[0] for k, v in storage.latest().items() if k.startswith("memorization/")}
    assert logged["memorization/mask_noisy_fraction"] == pytest.approx(2 / 6)  # one RoI of three per image
    for key in ("mask_iou_with_clean_mask", "mask_iou_with_noisy_mask", "mask_iou_uncorrupted"):
        assert 0.0 <= logged[f"memorization/{key}"] <= 1.0
    # a model that predicts exactly the noisy masks: IoU 1 with them, below 1 with the clean ones
    head.predictor.weight.data.zero_()
    head.predictor.bias.data.fill_(-20.0)
    with EventStorage(0) as storage:
        noisy = _instances(noisy_masks=True)
        from noisy_seg.modeling.mask_head import roi_mask_targets

        selected, targets, boxes = roi_mask_targets(torch.zeros(6, 3, 14, 14), noisy)
        head._log_memorization((targets * 40 - 20), targets, boxes, noisy)
        logged = {k: v[0] for k, v in storage.latest().items() if k.startswith("memorization/")}
    assert logged["memorization/mask_iou_with_noisy_mask"] == pytest.approx(1.0)
    assert logged["memorization/mask_iou_with_clean_mask"] < 0.9
    assert logged["memorization/mask_iou_uncorrupted"] == pytest.approx(1.0)


def test_the_noise_tolerant_head_fuses_a_coarse_branch_and_trains_both():
    head = _head(NoiseTolerantMaskHead, mask_loss="bpm_bce").train()
    stock = _head(MaskRCNNConvUpsampleHead)
    # the stock layers are drawn first, from the same seed: the coarse branch comes on top
    assert all(torch.equal(stock.state_dict()[k], v) for k, v in head.state_dict().items() if k in stock.state_dict())
    assert {"coarse_convs.0.weight", "coarse_predictor.weight", "coarse_upsample.weight", "fuse.weight"} <= set(
        head.state_dict()
    )
    with EventStorage(0):
        losses = head(_features(), _instances())
    assert set(losses) == {"loss_mask", "loss_mask_coarse"} and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert head.coarse_predictor.weight.grad.abs().sum() > 0 and head.predictor.weight.grad.abs().sum() > 0
    head.eval()
    detections = [Instances((64, 64), pred_boxes=i.proposal_boxes, pred_classes=i.gt_classes) for i in _instances()]
    assert head(_features(), detections)[0].pred_masks.shape == (3, 1, 14, 14)
    with pytest.raises(ValueError, match="needs at least one conv before the deconv"):
        NoiseTolerantMaskHead(SHAPE, num_classes=3, conv_dims=[8])


@pytest.mark.parametrize(
    "options,message",
    [
        ({"mask_loss": "dice_v2"}, "unknown loss 'dice_v2'"),
        ({"mask_loss": "ce"}, "mask_loss='ce' is a classification / dense loss; the mask head needs a mask loss"),
        ({"mask_loss": "lovasz"}, "mask_loss='lovasz' is a dense"),
        ({"mask_loss": "boundary_bce", "mask_loss_kwargs": {"band_width": -1}}, "band_width must be a finite number"),
        ({"mask_loss": "boundary_bce", "mask_loss_kwargs": {"band_width": 15}}, "wider than the 14 x 14 RoI mask"),
        ({"mask_loss": "sbce"}, "missing a required argument: 'alpha'"),
        ({"mask_loss": "bce", "loss_switch_iter": -2}, "loss_switch_iter must be an int >= 0"),
    ],
)
def test_bad_options_are_one_line_at_construction(options, message):
    with pytest.raises(ValueError, match=message) as err:
        _head(**options)
    assert "\n" not in str(err.value)


def test_a_mask_loss_is_refused_by_the_box_classifier():
    with pytest.raises(ValueError, match="cls_loss='bce' is a mask loss; the box classifier needs"):
        NoisyFastRCNNOutputLayers.check_cls_loss("bce")


def _toy_model(repo_root):
    return LazyConfig.load(str(repo_root / "configs/toy/mask_rcnn_R18_FPN_ce.py"))


def test_lazyconfig_switches_the_mask_head_and_checks_at_writing(repo_root):
    cfg = _toy_model(repo_root)
    use_noisy_roi_heads(
        cfg.model, mask_loss="boundary_bce", mask_loss_kwargs={"band_width": 3}, mask_loss_switch_iter=7
    )
    head = cfg.model.roi_heads.mask_head
    assert head._target_ is NoisyMaskRCNNConvUpsampleHead and head.mask_loss == "boundary_bce"
    assert head.loss_switch_iter == 7
    use_noisy_roi_heads(cfg.model, mask_loss="bpm_bce", noise_tolerant_mask_head=True)
    assert cfg.model.roi_heads.mask_head._target_ is NoiseTolerantMaskHead
    with pytest.raises(ValueError, match="is a classification / dense loss"):
        use_noisy_roi_heads(cfg.model, mask_loss="gce")
    cfg.model.roi_heads.mask_head.mask_loss = "boundary_bce"
    cfg.model.roi_heads.mask_head.mask_loss_kwargs = {"band_width": 40}  # checked against the 14-px pooler: 28 px
    with pytest.raises(UserInputError, match="model.roi_heads.mask_head: mask_loss_kwargs band_width=40 is wider"):
        check_config(cfg)
    box_only = _toy_model(repo_root)
    del box_only.model.roi_heads["mask_head"]
    with pytest.raises(ValueError, match="needs a mask head; model.roi_heads has none"):
        use_noisy_roi_heads(box_only.model, mask_loss="dice_bce")


def _yacs(**keys):
    cfg = add_noisy_seg_config(get_cfg())
    cfg.MODEL.MASK_ON = True
    cfg.MODEL.ROI_MASK_HEAD.NAME = "NoisyMaskRCNNConvUpsampleHead"
    for key, value in keys.items():
        setattr(cfg.MODEL.ROI_MASK_HEAD, key, value)
    return cfg


def test_yacs_keys_are_checked_when_the_config_is_loaded():
    check_yacs_mask_loss(_yacs(LOSS="dice_bce"))
    cfg = _yacs(LOSS="dice_bce")
    cfg.MODEL.MASK_ON = False
    with pytest.raises(UserInputError, match="needs a mask head: MODEL.MASK_ON is False"):
        check_yacs_mask_loss(cfg)
    cfg = _yacs(LOSS="dice_bce")
    cfg.MODEL.ROI_MASK_HEAD.NAME = "MaskRCNNConvUpsampleHead"
    with pytest.raises(UserInputError, match="set MODEL.ROI_MASK_HEAD.NAME to NoisyMaskRCNNConvUpsampleHead"):
        check_yacs_mask_loss(cfg)
    cfg = _yacs(LOSS="boundary_bce")
    cfg.MODEL.ROI_MASK_HEAD.LOSS_KWARGS.BAND_WIDTH = 2  # yacs upper-case keys are not the loss's options
    with pytest.raises(UserInputError, match="unexpected keyword argument 'BAND_WIDTH'"):
        check_yacs_mask_loss(cfg)
    cfg = _yacs(LOSS="boundary_bce")
    cfg.MODEL.ROI_MASK_HEAD.LOSS_KWARGS.band_width = 29
    with pytest.raises(UserInputError, match="wider than the 28 x 28 RoI mask"):
        check_yacs_mask_loss(cfg)
    with pytest.raises(UserInputError, match="LOSS_SWITCH_ITER must be an int >= 0"):
        check_yacs_mask_loss(_yacs(LOSS="bce", LOSS_SWITCH_ITER=-1))


@pytest.mark.parametrize(
    "config", ["COCO/mask_rcnn_R_50_FPN_1x.py", "Cityscapes/mask_rcnn_R_50_FPN.py"], ids=["coco", "cityscapes"]
)
def test_the_real_data_configs_take_a_mask_loss_in_one_override(repo_root, config):
    from detectron2.config import instantiate

    cfg = LazyConfig.load(str(repo_root / "projects/NoisyMasks/configs" / config))
    cfg = LazyConfig.apply_overrides(
        cfg,
        [
            "model.roi_heads.mask_head.mask_loss=boundary_bce",
            "model.roi_heads.mask_head.mask_loss_kwargs={band_width: 2.0, band_unit: image}",
        ],
    )
    check_config(cfg)
    head = instantiate(cfg.model.roi_heads.mask_head)
    assert type(head) is NoisyMaskRCNNConvUpsampleHead and head.mask_loss_name == "boundary_bce"
    assert head.mask_loss.options["band_unit"] == "image" and head.mask_side == 28


def test_a_mask_loss_is_refused_by_the_semantic_heads():
    from noisy_seg.modeling import SemSegLoss

    with pytest.raises(ValueError, match="loss 'dice_bce' is a mask loss; a semantic head needs a dense loss"):
        SemSegLoss("dice_bce", {}, 0, ignore_value=255, num_classes=4)


def test_the_mask_curve_samples_every_fifth_iteration_and_the_writers():
    head = _head(mask_loss="dice_bce").train()
    with EventStorage(1):  # neither a sampled nor a writer's iteration: no clean mask is cropped
        head(_features(), _instances(noisy_masks=True))
    assert head.memorization._counts is None
    with EventStorage(4):  # every fifth
        head(_features(), _instances(noisy_masks=True))
    assert head.memorization._counts[0].item() == 2  # the two corrupted RoIs counted
    assert [i for i in range(40) if head.memorization.samples_at(i)] == [4, 9, 14, 19, 24, 29, 34, 39]
