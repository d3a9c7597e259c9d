# The loader skeleton the semantic-segmentation data configs share (toy_shapes_semantic.py, cityscapes_semantic.py);
# not a config itself. Train: NoisySemSegDatasetMapper, so label noise is injected on the fly (clean by default,
# dataloader.train.mapper.noise=...); test: detectron2's DatasetMapper; the evaluator evaluates the test set.
from omegaconf import OmegaConf

from detectron2.config import LazyCall as L
from detectron2.data import (
    DatasetMapper,
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)

from noisy_seg.data import NoisySemSegDatasetMapper


def semantic_segmentation_dataloader(*, train_names, test_names, num_classes, background_label, train_augmentations,
                                     test_augmentations, total_batch_size, num_workers, evaluator):
    """`dataloader` with train / test / evaluator; `evaluator` is a LazyCall without its dataset_name."""
    dataloader = OmegaConf.create()
    dataloader.train = L(build_detection_train_loader)(
        dataset=L(get_detection_dataset_dicts)(names=train_names),
        mapper=L(NoisySemSegDatasetMapper)(
            is_train=True,
            augmentations=train_augmentations,
            image_format="BGR",
            noise=None,
            num_classes=num_classes,
            background_label=background_label,
        ),
        total_batch_size=total_batch_size,
        num_workers=num_workers,
    )
    dataloader.test = L(build_detection_test_loader)(
        dataset=L(get_detection_dataset_dicts)(names=test_names, filter_empty=False),
        mapper=L(DatasetMapper)(is_train=False, augmentations=test_augmentations, image_format="BGR"),
        num_workers=num_workers,
    )
    dataloader.evaluator = evaluator
    dataloader.evaluator.dataset_name = "${..test.dataset.names}"
    return dataloader
