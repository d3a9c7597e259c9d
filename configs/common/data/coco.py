# COCO 2017 instance segmentation, detectron2's defaults. Data under $DETECTRON2_DATASETS/coco
# (see datasets/README.md). On-the-fly label noise, clean by default:
#   dataloader.train.mapper.noise=sym40 | asym40_coco | coco_n_hard   (short names: noisy_seg/noise/registry.py)
from detectron2 import model_zoo

from noisy_seg.data import NoisyDatasetMapper
from noisy_seg.evaluation import coco_fast_eval_available

dataloader = model_zoo.get_config("common/data/coco.py").dataloader
dataloader.train.mapper._target_ = NoisyDatasetMapper
dataloader.train.mapper.noise = None
dataloader.train.mapper.num_classes = "${model.roi_heads.num_classes}"  # the model's count: one to set
dataloader.evaluator.use_fast_impl = coco_fast_eval_available()
