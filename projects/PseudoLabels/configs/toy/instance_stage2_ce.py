# Instance label correction, stage 2: a fresh toy Mask R-CNN (same init seed) with plain CE on the corrected copy
# that tools/generate_pseudo_labels.py --task instance wrote from stage 1's class posteriors on the GT boxes.
# Another copy: dataloader.train.dataset.names.json_file=PATH
from .instance_stage1_ce import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.dataset.names.json_file = "output/PseudoLabels/toy/instance/correction/corrected.json"
train.output_dir = "output/PseudoLabels/toy/instance/stage2_ce"
