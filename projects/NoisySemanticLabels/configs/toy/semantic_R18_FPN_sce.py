# Symmetric CE (Wang et al. 2019) per pixel, with the carpartssegment seed's alpha 0.8, beta 0.2.
from .semantic_R18_FPN_ce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.sem_seg_head.loss = "sce"
model.sem_seg_head.loss_kwargs = dict(alpha=0.8, beta=0.2)
train.output_dir = "output/NoisySemanticLabels/toy/sce"
