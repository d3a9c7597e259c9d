# The built-in toy-shapes data as semantic label maps (Cityscapes layout and train ids: background = road 0,
# the 8 shapes = 11..18; ids 1..10 never occur, and SemSegEvaluator's mIoU leaves out classes that neither
# occur nor are predicted). Label noise is injected on the fly by the train mapper (clean by default):
#   dataloader.train.mapper.noise=semrelabel40 | boundary5   (short names: noisy_seg/noise/registry.py)
#   "dataloader.train.mapper.noise={type:semantic,rate:0.3,ops:[relabel]}"
import detectron2.data.transforms as T
from detectron2.config import LazyCall as L

from noisy_seg.evaluation import SemSegEvaluator  # detectron2's, numpy-2-safe

from .loaders import semantic_segmentation_dataloader  # importing noisy_seg.data registers the toy sets

dataloader = semantic_segmentation_dataloader(
    train_names="toy_shapes_cityscapes_sem_seg_train",
    test_names="toy_shapes_cityscapes_sem_seg_val",
    background_label=0,  # road: region noise leaves it alone, "background" ops relabel to it
    train_augmentations=[L(T.RandomFlip)(horizontal=True)],
    test_augmentations=[],
    total_batch_size=8,
    num_workers=1,
    evaluator=L(SemSegEvaluator)(),
)
