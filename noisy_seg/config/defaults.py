"""yacs keys for noisy_seg's registered heads, label noise and optimizer (LazyConfig users set constructor arguments
directly)."""

from detectron2.config import CfgNode as CN

from ..noise import spec_keys

OPTIMIZERS = ("SGD", "ADAMW")


def add_noisy_seg_config(cfg):
    """Add noisy_seg's keys to a detectron2 yacs config (like PointRend's add_pointrend_config).

    MODEL.ROI_HEADS.NAME: "NoisyStandardROIHeads", "NoisyCascadeROIHeads" or "NoisyRes5ROIHeads" (C4) to use
    them; a class-agnostic mask head is detectron2's MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK.
    MODEL.ROI_MASK_HEAD.NAME: "NoisyMaskRCNNConvUpsampleHead" (or Noisy Boundaries' "NoiseTolerantMaskHead") for a
    mask loss chosen by MODEL.ROI_MASK_HEAD.LOSS ("bce", the stock loss, by default), LOSS_KWARGS, LOSS_SWITCH_ITER.
    MODEL.SEM_SEG_HEAD.NAME: "NoisySemSegFPNHead" or "NoisyDeepLabV3PlusHead" (DeepLab's own keys come from
    detectron2.projects.deeplab.add_deeplab_config).

    Label noise of the training mapper (NoisyDatasetMapper / NoisySemSegDatasetMapper), set one of:
      INPUT.LABEL_NOISE       a short name (noisy_seg/noise/registry.py): "sym40", "symmix40", "asym20_cityscapes",
                              "coco_n_medium_s1", "semrelabel40"; "" or "clean": clean labels (the default)
      INPUT.LABEL_NOISE_SPEC  a spec: TYPE (a registered noise type) and that type's keys, upper case; every key
                              any registered type takes is declared here (None: not set), so the command line sets
                              them like any yacs key:
                                  INPUT.LABEL_NOISE_SPEC.TYPE symmetric INPUT.LABEL_NOISE_SPEC.RATE 0.4 \\
                                  INPUT.LABEL_NOISE_SPEC.SEED 1
                              and a yaml file as a mapping (MAPPING, asymmetric's {class: [classes]}, is a node):
                                  INPUT:
                                    LABEL_NOISE_SPEC: {TYPE: asymmetric, RATE: 0.2, PRESET: cityscapes}
      INPUT.LABEL_NOISE_BACKGROUND  semantic maps' background class (toy data: 0, road), given to semantic noise
                              that does not set its own background_label; -1: none
    A bad name or spec, or both keys set, is one ValueError when the mapper is built.

    SOLVER.OPTIMIZER: "SGD" (detectron2's, the default) or "ADAMW" (torch.optim.AdamW with SOLVER.BASE_LR and
    SOLVER.WEIGHT_DECAY, as the toy recipes train): read by noisy_seg.engine.NoisyTrainer.

    MODEL.BACKBONE.NAME "build_basic_resnet_fpn_backbone": a ResNet-18/34 layout at any width (detectron2's fixes
    R18/R34 at 64 channels), as the toy recipes build it; MODEL.RESNETS.STAGE_WIDTHS the widths of res2..res5 (empty:
    RES2_OUT_CHANNELS x 1, 2, 4, 8).

    MODEL.ALLOW_PICKLE_CHECKPOINTS: load `.pkl` weights (MODEL.WEIGHTS, --resume); False (the default) refuses them,
    as unpickling runs any code the file holds (LazyConfig: train.allow_pickle_checkpoints).
    """
    cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS = "ce"
    cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS_KWARGS = CN(new_allowed=True)
    cfg.MODEL.ROI_BOX_HEAD.LOSS_SWITCH_ITER = 0
    # weight each foreground RoI's classification loss by its annotation's "loss_weight" (find_label_errors'
    # weighted.json: the GMM clean probability); see NoisyFastRCNNOutputLayers' annotation_loss_weights
    cfg.MODEL.ROI_BOX_HEAD.ANNOTATION_LOSS_WEIGHTS = False
    # NoisyMaskRCNNConvUpsampleHead / NoiseTolerantMaskHead: a mask loss name, its options, switch point
    cfg.MODEL.ROI_MASK_HEAD.LOSS = "bce"
    cfg.MODEL.ROI_MASK_HEAD.LOSS_KWARGS = CN(new_allowed=True)
    cfg.MODEL.ROI_MASK_HEAD.LOSS_SWITCH_ITER = 0
    # NoisySemSegFPNHead / NoisyDeepLabV3PlusHead: a loss name, "a * name + b * name", its options, switch point
    cfg.MODEL.SEM_SEG_HEAD.LOSS = "ce"
    cfg.MODEL.SEM_SEG_HEAD.LOSS_KWARGS = CN(new_allowed=True)
    cfg.MODEL.SEM_SEG_HEAD.LOSS_SWITCH_ITER = 0
    # the 1x1 class predictor drawn from N(0, std), bias 0; 0 keeps the stock head's init
    cfg.MODEL.SEM_SEG_HEAD.PREDICTOR_INIT_STD = 0.0
    cfg.INPUT.LABEL_NOISE = ""
    cfg.INPUT.LABEL_NOISE_SPEC = CN({"TYPE": None})
    for key, takes_mapping in sorted(spec_keys().items()):
        cfg.INPUT.LABEL_NOISE_SPEC[key.upper()] = CN(new_allowed=True) if takes_mapping else None
    cfg.INPUT.LABEL_NOISE_BACKGROUND = -1
    cfg.SOLVER.OPTIMIZER = "SGD"
    cfg.MODEL.ALLOW_PICKLE_CHECKPOINTS = False
    cfg.MODEL.RESNETS.STAGE_WIDTHS = []
    return cfg
