# The loader skeleton every data config shares (toy_shapes*.py, cityscapes*.py); not a config itself.
# Train: a noisy mapper, so label noise is injected on the fly (clean by default, dataloader.train.mapper.noise=...);
# test: detectron2's DatasetMapper with the train mapper's image format; the evaluator evaluates the test set.
from omegaconf import OmegaConf

from detectron2.config import LazyCall as L
from detectron2.data import (
    DatasetMapper,
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)

from noisy_seg.data import NoisyDatasetMapper, NoisySemSegDatasetMapper


def segmentation_dataloader(
    *, train_mapper, train_names, test_names, test_augmentations, total_batch_size, num_workers, evaluator
):
    """`dataloader` with train / test / evaluator; `evaluator` is a LazyCall without its dataset_name."""
    dataloader = OmegaConf.create()
    dataloader.train = L(build_detection_train_loader)(
        dataset=L(get_detection_dataset_dicts)(names=train_names),
        mapper=train_mapper,
        total_batch_size=total_batch_size,
        num_workers=num_workers,
    )
    dataloader.test = L(build_detection_test_loader)(
        dataset=L(get_detection_dataset_dicts)(names=test_names, filter_empty=False),
        mapper=L(DatasetMapper)(
            is_train=False,
            augmentations=test_augmentations,
            image_format="${...train.mapper.image_format}",
        ),
        num_workers=num_workers,
    )
    dataloader.evaluator = evaluator
    dataloader.evaluator.dataset_name = "${..test.dataset.names}"
    return dataloader


# The train mapper's class count (the noise draws other classes from it) is the model's: one count to set, as in
# detectron2 (an explicit dataloader.train.mapper.num_classes still wins, checked against the dataset's classes).
MODEL_THING_CLASSES = "${model.roi_heads.num_classes}"
MODEL_STUFF_CLASSES = "${model.sem_seg_head.num_classes}"


def instance_segmentation_dataloader(*, train_augmentations, num_classes=MODEL_THING_CLASSES, **loader):
    return segmentation_dataloader(
        train_mapper=L(NoisyDatasetMapper)(
            is_train=True,
            augmentations=train_augmentations,
            image_format="BGR",
            use_instance_mask=True,
            noise=None,
            num_classes=num_classes,
        ),
        **loader,
    )


def semantic_segmentation_dataloader(
    *, background_label, train_augmentations, num_classes=MODEL_STUFF_CLASSES, **loader
):
    return segmentation_dataloader(
        train_mapper=L(NoisySemSegDatasetMapper)(
            is_train=True,
            augmentations=train_augmentations,
            image_format="BGR",
            noise=None,
            num_classes=num_classes,
            background_label=background_label,
            keep_clean_sem_seg=True,
        ),  # under noise: memorization curves
        **loader,
    )
