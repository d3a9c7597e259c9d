# The built-in toy-shapes data (generated on first use, see noisy_seg/data/datasets/toy_shapes.py).
# Label noise is injected on the fly by the train mapper (clean by default); pick it on the command line:
#   dataloader.train.mapper.noise=sym40              (short names: noisy_seg/noise/registry.py)
#   dataloader.train.mapper.noise=asym40_cityscapes  (circle<->ellipse, square<->rectangle, star<->cross)
#   dataloader.train.mapper.noise=coco_n_medium
#   "dataloader.train.mapper.noise={type:symmetric,rate:0.3,seed:1}"
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L
from detectron2.evaluation import COCOEvaluator

from noisy_seg.evaluation import coco_fast_eval_available

from .loaders import instance_segmentation_dataloader  # importing noisy_seg.data registers the toy sets

dataloader = instance_segmentation_dataloader(
    train_names="toy_shapes_train",
    test_names="toy_shapes_val",
    train_augmentations=[L(T.RandomFlip)(horizontal=True)],
    test_augmentations=[],
    total_batch_size=4,
    num_workers=1,
    evaluator=L(COCOEvaluator)(use_fast_impl=coco_fast_eval_available()),
)
