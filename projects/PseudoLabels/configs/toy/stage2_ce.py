# Stage 2: a fresh model (same init seed) trained with plain CE on the strong 10% plus the stage-1 pseudo labels of
# the weak 90%, registered from the manifest that tools/generate_pseudo_labels.py writes (when the loader is built,
# so the config loads before the manifest exists). Another manifest:
#   dataloader.train.dataset.names.1.manifest_path=DIR/manifest.json
from detectron2.config import LazyCall as L
from detectron2.config import LazyConfig

from noisy_seg.data import register_pseudo_label_dataset

dataloader, lr_multiplier, model, optimizer, train = LazyConfig.load_rel(
    "strong10_ce.py", ("dataloader", "lr_multiplier", "model", "optimizer", "train")
)

dataloader.train.dataset.names = [
    "toy_shapes_cityscapes_sem_seg_train_strong10",
    L(register_pseudo_label_dataset)(manifest_path="output/PseudoLabels/toy/pseudo_labels/manifest.json"),
]
train.output_dir = "output/PseudoLabels/toy/stage2_ce"
