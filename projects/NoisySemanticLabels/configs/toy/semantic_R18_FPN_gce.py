# Generalized CE (Zhang & Sabuncu 2018) per pixel, with the carpartssegment seed's q 0.4.
from .semantic_R18_FPN_ce import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.sem_seg_head.loss = "gce"
model.sem_seg_head.loss_kwargs = dict(q=0.4)
train.output_dir = "output/NoisySemanticLabels/toy/gce"
