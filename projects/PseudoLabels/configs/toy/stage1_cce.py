# Stage 1 of the pseudo-label recipe (Wang et al. 2022, methods.md section 5): the strong 10% with class-aware CE,
# the softmax of each image restricted to its present classes (from its label map here; for weakly labelled images
# from their tags). The model is then run over the weak 90% by tools/generate_pseudo_labels.py, whose tag masking
# uses the weak images' tags (the records' image_tags, or --tag-file).
from detectron2.config import LazyConfig

from noisy_seg.modeling import NoisySemanticSegmentor

dataloader, lr_multiplier, model, optimizer, train = LazyConfig.load_rel(
    "strong10_ce.py", ("dataloader", "lr_multiplier", "model", "optimizer", "train")
)

model._target_ = NoisySemanticSegmentor  # hands the mapper's present_classes to the head
model.sem_seg_head.loss = "cce"
dataloader.train.mapper.image_tags = True
train.output_dir = "output/PseudoLabels/toy/stage1_cce"
