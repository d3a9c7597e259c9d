# Instance label correction, stage 1: the toy Mask R-CNN with plain CE on a noisy copy of the toy train set that
# tools/make_noisy_dataset.py wrote (its annotations keep clean_category_id, so corrections can be scored).
# Another copy: dataloader.train.dataset.names.json_file=PATH
from detectron2.config import LazyCall as L
from detectron2.config import LazyConfig

from noisy_seg.data import register_coco_file

dataloader, lr_multiplier, model, optimizer, train = LazyConfig.load_rel(
    "../../../NoisyClassLabels/configs/toy/mask_rcnn_R18_FPN_ce.py",
    ("dataloader", "lr_multiplier", "model", "optimizer", "train"),
)

dataloader.train.dataset.names = L(register_coco_file)(
    json_file="output/PseudoLabels/toy/instance/train_sym40.json", like="toy_shapes_train"
)
train.output_dir = "output/PseudoLabels/toy/instance/stage1_ce"
