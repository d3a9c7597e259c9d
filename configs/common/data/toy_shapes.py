# The built-in toy-shapes data (generated on first use, see noisy_seg/data/datasets/toy_shapes.py).
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

import noisy_seg.data  # noqa: F401  (registers the toy datasets)
from noisy_seg.evaluation import coco_fast_eval_available

dataloader = OmegaConf.create()

dataloader.train = L(build_detection_train_loader)(
    dataset=L(get_detection_dataset_dicts)(names="toy_shapes_train"),
    mapper=L(DatasetMapper)(
        is_train=True,
        augmentations=[L(T.RandomFlip)(horizontal=True)],
        image_format="BGR",
        use_instance_mask=True,
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
