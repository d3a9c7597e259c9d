"""projects/PseudoLabels: each step's config differs from the toy recipe only where the method says, and the
recipe runner's tables say what ran."""

from pathlib import Path

from detectron2.config import LazyConfig, instantiate

from noisy_seg.cli import run_pseudo_label_recipe as recipe
from noisy_seg.data import register_coco_file, register_pseudo_label_dataset
from noisy_seg.modeling import NoisySemanticSegmentor

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / "projects/PseudoLabels/configs/toy"


def load(name):
    return LazyConfig.load(str(TOY / name))


def test_semantic_stages():
    base = LazyConfig.load(str(REPO / "configs/toy/semantic_R18_FPN_ce.py"))
    strong, stage1, stage2 = load("strong10_ce.py"), load("stage1_cce.py"), load("stage2_ce.py")
    assert strong.dataloader.train.dataset.names == "toy_shapes_cityscapes_sem_seg_train_strong10"
    assert (strong.train.max_iter, strong.optimizer.lr) == (base.train.max_iter, base.optimizer.lr)
    assert strong.dataloader.test.dataset.names == base.dataloader.test.dataset.names  # one val set for all
    assert stage1.model.sem_seg_head.loss == "cce" and stage1.dataloader.train.mapper.image_tags
    assert isinstance(instantiate(stage1.model), NoisySemanticSegmentor)  # present_classes reach the head
    assert stage2.model.sem_seg_head.loss == "ce" and stage2.train.seed == strong.train.seed  # a fresh model
    strong_name, pseudo = stage2.dataloader.train.dataset.names
    assert strong_name == strong.dataloader.train.dataset.names
    assert pseudo._target_ is register_pseudo_label_dataset and pseudo.manifest_path.endswith("manifest.json")


def test_instance_stages_train_on_the_noisy_copy_then_the_corrected_one():
    stage1, combination, stage2 = (
        load("instance_stage1_ce.py"),
        load("instance_combination.py"),
        load("instance_stage2_ce.py"),
    )
    for cfg in (stage1, combination, stage2):
        assert cfg.dataloader.train.dataset.names._target_ is register_coco_file
        assert cfg.dataloader.train.dataset.names.like == "toy_shapes_train"
        assert cfg.dataloader.train.mapper.noise is None  # the copy is the noise: none added on the fly
    assert combination.dataloader.train.dataset.names.json_file == stage1.dataloader.train.dataset.names.json_file
    assert stage2.dataloader.train.dataset.names.json_file.endswith("corrected.json")
    assert stage1.model.roi_heads.box_predictor.cls_loss == stage2.model.roi_heads.box_predictor.cls_loss == "ce"
    assert combination.model.roi_heads.box_predictor.cls_loss == "combination"


def test_recipe_tables_give_mean_std_and_every_seed(tmp_path):
    semantic = {seed: {step: 10.0 + seed for step, _ in recipe.ROWS} for seed in (0, 1)}
    table = recipe.summary(semantic, tmp_path)
    assert "| CE on the strong 10% only | 10.5 +- 0.7 | 10.0, 11.0 |" in table and "n = 2" in table
    one_seed = recipe.summary({0: semantic[0]}, tmp_path)
    assert "10.0 (one seed)" in one_seed
    counts = dict(annotations=100, noisy_before=40, restored=25, changed_still_wrong=3, broken=2, noisy_after=20)
    instance = {0: {**counts, "stage1_ce": 5.0, "combination": 6.0, "stage2_ce": 7.0}}
    table = recipe.instance_summary(instance, tmp_path, "sym40", 0.5)
    assert "| CE on the corrected labels (stage 2) | 7.0 (one seed) | 7.0 |" in table
    assert "| 0 | 40 | 25 | 3 | 2 | 20 |" in table
