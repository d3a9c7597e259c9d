# The built-in toy-shapes data as semantic label maps (Cityscapes layout and train ids: background = road 0,
# the 8 shapes = 11..18; ids 1..10 never occur, and SemSegEvaluator's mIoU leaves out classes that neither
# occur nor are predicted). Label noise is injected on the fly by the train mapper (clean by default):
#   dataloader.train.mapper.noise=sem40              (short names: noisy_seg/noise/registry.py)
#   "dataloader.train.mapper.noise={type:semantic,rate:0.3,ops:[relabel]}"
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L
from detectron2.data import DatasetMapper, build_detection_test_loader, build_detection_train_loader
from detectron2.data import get_detection_dataset_dicts
from omegaconf import OmegaConf

from noisy_seg.data import NoisySemSegDatasetMapper  # importing noisy_seg.data registers the toy sets
from noisy_seg.evaluation import SemSegEvaluator  # detectron2's, numpy-2-safe

dataloader = OmegaConf.create()
dataloader.train = L(build_detection_train_loader)(
    dataset=L(get_detection_dataset_dicts)(names="toy_shapes_cityscapes_sem_seg_train"),
    mapper=L(NoisySemSegDatasetMapper)(
        is_train=True,
        augmentations=[L(T.RandomFlip)(horizontal=True)],
        image_format="BGR",
        noise=None,
        num_classes=19,
        background_label=0,  # road: component noise leaves it alone, "background" ops relabel to it
    ),
    total_batch_size=8,
    num_workers=1,
)
dataloader.test = L(build_detection_test_loader)(
    dataset=L(get_detection_dataset_dicts)(names="toy_shapes_cityscapes_sem_seg_val", filter_empty=False),
    mapper=L(DatasetMapper)(is_train=False, augmentations=[], image_format="BGR"),
    num_workers=1,
)
dataloader.evaluator = L(SemSegEvaluator)(dataset_name="${..test.dataset.names}")
