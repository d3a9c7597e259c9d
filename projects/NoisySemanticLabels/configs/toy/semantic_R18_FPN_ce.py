# Toy-shapes Semantic FPN with NoisySemSegFPNHead and plain CE (exactly the stock head's loss); every loss
# variant of this project builds on it. Under noise: e.g. dataloader.train.mapper.noise=semrelabel40.
from detectron2.config import LazyConfig

dataloader, lr_multiplier, model, optimizer, train = LazyConfig.load_rel(
    "../../../../configs/toy/semantic_R18_FPN_ce.py",
    ("dataloader", "lr_multiplier", "model", "optimizer", "train"),
)

train.output_dir = "output/NoisySemanticLabels/toy/ce"
