# COCO Mask R-CNN R50-FPN with a mask head that takes its loss by name (NoisyMaskRCNNConvUpsampleHead, "bce": the
# stock loss). Any mask loss is one override away, the COCO-N benchmark another:
#   python tools/train_net.py --config-file projects/NoisyMasks/configs/COCO/mask_rcnn_R_50_FPN_1x.py \
#       model.roi_heads.mask_head.mask_loss=dice_bce dataloader.train.mapper.noise=coco_n_medium
# (options: model.roi_heads.mask_head.mask_loss_kwargs="{band_width: 2.0, band_unit: image}"; Noisy Boundaries' head:
# projects/NoisyMasks/configs/COCO/mask_rcnn_R_50_FPN_1x_noisy_boundaries.py).
# Boundary AP beside mask AP: dataloader.evaluator._target_=noisy_seg.evaluation.BoundaryAPEvaluator
from detectron2.config import LazyConfig

from noisy_seg.config import use_noisy_roi_heads

dataloader, lr_multiplier, model, optimizer, train = LazyConfig.load_rel(
    "../../../../configs/COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.py",
    ("dataloader", "lr_multiplier", "model", "optimizer", "train"),
)

use_noisy_roi_heads(model, mask_loss="bce")
train.output_dir = "output/NoisyMasks/coco/bce"
