# Cityscapes fine instance segmentation with detectron2's Cityscapes recipe
# (configs/Cityscapes/mask_rcnn_R_50_FPN.yaml). Data under $DETECTRON2_DATASETS/cityscapes.
# On-the-fly label noise, clean by default:
#   dataloader.train.mapper.noise=sym40 | asym40_cityscapes | coco_n_medium   (Cityscapes-N levels)
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L

from noisy_seg.evaluation import CityscapesInstanceEvaluator  # detectron2's, numpy-2 safe

from .loaders import instance_segmentation_dataloader

dataloader = instance_segmentation_dataloader(
    train_names="cityscapes_fine_instance_seg_train",
    test_names="cityscapes_fine_instance_seg_val",
    train_augmentations=[
        L(T.ResizeShortestEdge)(
            short_edge_length=(800, 832, 864, 896, 928, 960, 992, 1024),
            sample_style="choice",
            max_size=2048,
        ),
        L(T.RandomFlip)(horizontal=True),
    ],
    test_augmentations=[L(T.ResizeShortestEdge)(short_edge_length=1024, max_size=2048)],
    total_batch_size=8,
    num_workers=4,
    evaluator=L(CityscapesInstanceEvaluator)(),
)
