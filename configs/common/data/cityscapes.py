# Cityscapes fine instance segmentation with detectron2's Cityscapes recipe
# (configs/Cityscapes/mask_rcnn_R_50_FPN.yaml). Data under $DETECTRON2_DATASETS/cityscapes.
# On-the-fly label noise, clean by default:
#   dataloader.train.mapper.noise=sym40 | asym40_cityscapes | coco_n_medium   (Cityscapes-N levels)
from omegaconf import OmegaConf

import detectron2.data.transforms as T
from detectron2.config import LazyCall as L
from detectron2.data import (
    DatasetMapper,
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from noisy_seg.data import NoisyDatasetMapper
from noisy_seg.evaluation import CityscapesInstanceEvaluator  # detectron2's, numpy-2 safe

dataloader = OmegaConf.create()

dataloader.train = L(build_detection_train_loader)(
    dataset=L(get_detection_dataset_dicts)(names="cityscapes_fine_instance_seg_train"),
    mapper=L(NoisyDatasetMapper)(
        is_train=True,
        noise=None,
        num_classes=8,
        augmentations=[
            L(T.ResizeShortestEdge)(
                short_edge_length=(800, 832, 864, 896, 928, 960, 992, 1024),
                sample_style="choice",
                max_size=2048,
            ),
            L(T.RandomFlip)(horizontal=True),
        ],
        image_format="BGR",
        use_instance_mask=True,
    ),
    total_batch_size=8,
    num_workers=4,
)

dataloader.test = L(build_detection_test_loader)(
    dataset=L(get_detection_dataset_dicts)(names="cityscapes_fine_instance_seg_val", filter_empty=False),
    mapper=L(DatasetMapper)(
        is_train=False,
        augmentations=[L(T.ResizeShortestEdge)(short_edge_length=1024, max_size=2048)],
        image_format="${...train.mapper.image_format}",
    ),
    num_workers=4,
)

dataloader.evaluator = L(CityscapesInstanceEvaluator)(dataset_name="${..test.dataset.names}")
