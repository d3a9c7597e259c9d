# detectron2's Mask R-CNN R50-FPN (ImageNet-style FrozenBN backbone) with noisy_seg's ROI heads in "ce" mode:
# from the same seed the same weights and losses as detectron2's heads (tests/configs/test_baseline_memorization.py),
# plus the memorization curves (memorization/*) when the train mapper injects label noise.
from detectron2 import model_zoo

from noisy_seg.config import use_noisy_roi_heads

model = use_noisy_roi_heads(model_zoo.get_config("common/models/mask_rcnn_fpn.py").model, cls_loss="ce")
