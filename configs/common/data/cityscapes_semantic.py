# Cityscapes fine semantic segmentation (19 train ids, ignore 255) with detectron2's Cityscapes semantic
# recipe (its DeepLab / Semantic FPN configs): multi-scale shortest edge 512-2048, 512x1024 crops, flips;
# evaluated with detectron2's CityscapesSemSegEvaluator. Data under $DETECTRON2_DATASETS/cityscapes.
# On-the-fly label noise, clean by default:
#   dataloader.train.mapper.noise=semrelabel40 | sem30 | boundary5   (short names: noisy_seg/noise/registry.py)
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L
from detectron2.evaluation import CityscapesSemSegEvaluator

from .loaders import semantic_segmentation_dataloader

dataloader = semantic_segmentation_dataloader(
    train_names="cityscapes_fine_sem_seg_train",
    test_names="cityscapes_fine_sem_seg_val",
    background_label=None,  # Cityscapes has no background class; 0 is road
    train_augmentations=[
        L(T.ResizeShortestEdge)(
            short_edge_length=(512, 768, 1024, 1280, 1536, 1792, 2048), sample_style="choice", max_size=4096
        ),
        L(T.RandomCrop_CategoryAreaConstraint)(
            crop_type="absolute", crop_size=(512, 1024), single_category_max_area=1.0, ignored_category=255
        ),
        L(T.RandomFlip)(horizontal=True),
    ],
    test_augmentations=[],
    total_batch_size=8,
    num_workers=4,
    evaluator=L(CityscapesSemSegEvaluator)(),
)
