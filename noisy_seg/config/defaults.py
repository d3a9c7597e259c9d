"""yacs keys for noisy_seg's registered heads (LazyConfig users set constructor arguments directly)."""
from detectron2.config import CfgNode as CN


def add_noisy_seg_config(cfg):
    """Add noisy_seg's keys to a detectron2 yacs config (like PointRend's add_pointrend_config).

    MODEL.ROI_HEADS.NAME: "NoisyStandardROIHeads", "NoisyCascadeROIHeads" or "NoisyRes5ROIHeads" (C4) to use
    them; a class-agnostic mask head is detectron2's MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK.
    MODEL.SEM_SEG_HEAD.NAME: "NoisySemSegFPNHead" or "NoisyDeepLabV3PlusHead" (DeepLab's own keys come from
    detectron2.projects.deeplab.add_deeplab_config).
    """
    cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS = "ce"
    cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS_KWARGS = CN(new_allowed=True)
    cfg.MODEL.ROI_BOX_HEAD.LOSS_SWITCH_ITER = 0
    # NoisySemSegFPNHead / NoisyDeepLabV3PlusHead: a loss name, "a * name + b * name", its options, switch point
    cfg.MODEL.SEM_SEG_HEAD.LOSS = "ce"
    cfg.MODEL.SEM_SEG_HEAD.LOSS_KWARGS = CN(new_allowed=True)
    cfg.MODEL.SEM_SEG_HEAD.LOSS_SWITCH_ITER = 0
    # NoisyDatasetMapper's noise spec with lowercase keys, e.g. type: symmetric, rate: 0.4, seed: 0
    cfg.INPUT.LABEL_NOISE = CN(new_allowed=True)
    return cfg
