# COCO 2017 instance segmentation, detectron2's defaults. Data under $DETECTRON2_DATASETS/coco
# (see datasets/README.md).
from detectron2 import model_zoo

from noisy_seg.evaluation import coco_fast_eval_available

dataloader = model_zoo.get_config("common/data/coco.py").dataloader
dataloader.evaluator.use_fast_impl = coco_fast_eval_available()
