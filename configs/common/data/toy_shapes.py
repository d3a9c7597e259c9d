# The built-in toy-shapes data (generated on first use, see noisy_seg/data/datasets/toy_shapes.py).
# Label noise is injected on the fly by the train mapper (clean by default); pick it on the command line:
#   dataloader.train.mapper.noise=sym40              (names: noisy_seg/noise/named.py)
#   dataloader.train.mapper.noise=asym40_cityscapes  (circle<->ellipse, square<->rectangle, star<->cross)
#   dataloader.train.mapper.noise=coco_n_medium
#   "dataloader.train.mapper.noise={type:symmetric,rate:0.3,seed:1}"
from omegaconf import OmegaConf

import detectron2.data.transforms as T
from detectron2.config import LazyCall as L
from detectron2.data import (
    DatasetMapper,
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from detectron2.evaluation import COCOEvaluator

from noisy_seg.data import NoisyDatasetMapper  # importing noisy_seg.data registers the toy datasets
from noisy_seg.evaluation import coco_fast_eval_available

dataloader = OmegaConf.create()

dataloader.train = L(build_detection_train_loader)(
    dataset=L(get_detection_dataset_dicts)(names="toy_shapes_train"),
    mapper=L(NoisyDatasetMapper)(
        is_train=True,
        augmentations=[L(T.RandomFlip)(horizontal=True)],
        image_format="BGR",
        use_instance_mask=True,
        noise=None,
        num_classes=8,
    ),
    total_batch_size=4,
    num_workers=1,
)

dataloader.test = L(build_detection_test_loader)(
    dataset=L(get_detection_dataset_dicts)(names="toy_shapes_val", filter_empty=False),
    mapper=L(DatasetMapper)(
        is_train=False,
        augmentations=[],
        image_format="${...train.mapper.image_format}",
    ),
    num_workers=1,
)

dataloader.evaluator = L(COCOEvaluator)(
    dataset_name="${..test.dataset.names}",
    use_fast_impl=coco_fast_eval_available(),
)
