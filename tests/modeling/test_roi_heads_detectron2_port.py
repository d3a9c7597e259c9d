"""detectron2's own tests/modeling/test_roi_heads.py::ROIHeadsTest::test_roi_heads (facebookresearch/detectron2,
Apache-2.0), ported: the same inputs at seed 121 and detectron2's hard-coded expected losses, with noisy_seg's
heads in "ce" mode in place of StandardROIHeads. Passing means the noisy heads build the same weights from the
same RNG stream and sample the same RoIs as stock detectron2."""

import pytest
import torch

from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec
from detectron2.modeling.proposal_generator.build import build_proposal_generator
from detectron2.modeling.roi_heads import StandardROIHeads, build_roi_heads
from detectron2.structures import BitMasks, Boxes, ImageList, Instances
from detectron2.utils.events import EventStorage

from noisy_seg.config import add_noisy_seg_config
from noisy_seg.modeling import NoisyStandardROIHeads

# detectron2 tests/modeling/test_roi_heads.py, test_roi_heads
EXPECTED_LOSSES = {
    "loss_cls": 4.5253729820251465,
    "loss_box_reg": 0.009785720147192478,
    "loss_mask": 0.693184494972229,
    "loss_rpn_cls": 0.08186662942171097,
    "loss_rpn_loc": 0.1104838103055954,
}


def _detector_losses(build_roi_heads_fn):
    torch.manual_seed(121)
    cfg = get_cfg()
    add_noisy_seg_config(cfg)
    cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS = "ce"
    cfg.MODEL.ROI_HEADS.NAME = "NoisyStandardROIHeads"
    cfg.MODEL.ROI_BOX_HEAD.NAME = "FastRCNNConvFCHead"
    cfg.MODEL.ROI_BOX_HEAD.NUM_FC = 2
    cfg.MODEL.ROI_BOX_HEAD.POOLER_TYPE = "ROIAlignV2"
    cfg.MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS = (10, 10, 5, 5)
    cfg.MODEL.MASK_ON = True
    num_images = 2
    images_tensor = torch.rand(num_images, 20, 30)
    image_sizes = [(10, 10), (20, 30)]
    images = ImageList(images_tensor, image_sizes)
    num_channels = 1024
    features = {"res4": torch.rand(num_images, num_channels, 1, 2)}
    feature_shape = {"res4": ShapeSpec(channels=num_channels, stride=16)}

    image_shape = (15, 15)
    gt_boxes0 = torch.tensor([[1, 1, 3, 3], [2, 2, 6, 6]], dtype=torch.float32)
    gt_instance0 = Instances(image_shape)
    gt_instance0.gt_boxes = Boxes(gt_boxes0)
    gt_instance0.gt_classes = torch.tensor([2, 1])
    gt_instance0.gt_masks = BitMasks(torch.rand((2,) + image_shape) > 0.5)
    gt_boxes1 = torch.tensor([[1, 5, 2, 8], [7, 3, 10, 5]], dtype=torch.float32)
    gt_instance1 = Instances(image_shape)
    gt_instance1.gt_boxes = Boxes(gt_boxes1)
    gt_instance1.gt_classes = torch.tensor([1, 2])
    gt_instance1.gt_masks = BitMasks(torch.rand((2,) + image_shape) > 0.5)
    gt_instances = [gt_instance0, gt_instance1]

    proposal_generator = build_proposal_generator(cfg, feature_shape)
    roi_heads = build_roi_heads_fn(cfg, feature_shape)

    with EventStorage():  # capture events in a new storage to discard them
        proposals, proposal_losses = proposal_generator(images, features, gt_instances)
        _, detector_losses = roi_heads(images, features, proposals, gt_instances)

    detector_losses.update(proposal_losses)
    return roi_heads, detector_losses


def _assert_expected(detector_losses):
    succ = all(
        torch.allclose(detector_losses[name], torch.tensor(EXPECTED_LOSSES.get(name, 0.0)))
        for name in detector_losses.keys()
    )
    assert succ, "Losses has changed! New losses: {}".format({k: v.item() for k, v in detector_losses.items()})


@pytest.mark.slow
def test_stock_roi_heads_reproduce_detectron2s_expected_losses():
    """The reference itself holds on this machine's torch (detectron2 relies on torch's RNG being stable)."""
    _, losses = _detector_losses(StandardROIHeads)
    _assert_expected(losses)


@pytest.mark.slow
def test_noisy_roi_heads_in_ce_mode_reproduce_detectron2s_expected_losses():
    roi_heads, losses = _detector_losses(NoisyStandardROIHeads)
    assert isinstance(roi_heads, NoisyStandardROIHeads) and roi_heads.box_predictor.cls_loss_name == "ce"
    _assert_expected(losses)


@pytest.mark.slow
def test_registry_build_reproduces_detectron2s_expected_losses():
    roi_heads, losses = _detector_losses(build_roi_heads)  # MODEL.ROI_HEADS.NAME = NoisyStandardROIHeads
    assert type(roi_heads) is NoisyStandardROIHeads
    _assert_expected(losses)
