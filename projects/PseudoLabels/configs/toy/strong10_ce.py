# The lower reference: the toy Semantic FPN trained with plain CE on the strong 10% only (the label maps of a seeded
# 10% of the toy train images, `toy_shapes_cityscapes_sem_seg_train_strong10`; noisy_seg/data/datasets/splits.py).
from detectron2.config import LazyConfig

dataloader, lr_multiplier, model, optimizer, train = LazyConfig.load_rel(
    "../../../../configs/toy/semantic_R18_FPN_ce.py",
    ("dataloader", "lr_multiplier", "model", "optimizer", "train"),
)

dataloader.train.dataset.names = "toy_shapes_cityscapes_sem_seg_train_strong10"
train.output_dir = "output/PseudoLabels/toy/strong10_ce"
