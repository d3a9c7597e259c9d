import pytest

from detectron2.config import LazyConfig

from noisy_seg.engine import apply_overrides
from noisy_seg.utils.errors import UserInputError


@pytest.fixture(scope="module")
def coco_cfg(repo_root):
    return LazyConfig.load(str(repo_root / "configs/COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.py"))


def test_known_keys_are_applied(coco_cfg):
    cfg = apply_overrides(coco_cfg.copy(), ["train.max_iter=3", "train.output_dir=output/smoke", "optimizer.lr=0.5"])
    assert cfg.train.max_iter == 3 and cfg.train.output_dir == "output/smoke" and cfg.optimizer.lr == 0.5


def test_unknown_top_level_key_is_one_clear_line(coco_cfg):
    with pytest.raises(UserInputError) as e:
        apply_overrides(coco_cfg.copy(), ["train.max_iters=3"])
    msg = str(e.value)
    assert "unknown config key 'train.max_iters'" in msg and "train.max_iter" in msg
    assert "\n" not in msg


def test_lazycall_argument_is_checked_against_the_signature(coco_cfg):
    # test_topk_per_image is a FastRCNNOutputLayers argument the config does not set: accepted
    cfg = apply_overrides(coco_cfg.copy(), ["model.roi_heads.box_predictor.test_topk_per_image=50"])
    assert cfg.model.roi_heads.box_predictor.test_topk_per_image == 50
    with pytest.raises(UserInputError, match="has no argument 'not_an_arg'"):
        apply_overrides(coco_cfg.copy(), ["model.roi_heads.box_predictor.not_an_arg=1"])


def test_unparsable_override(coco_cfg):
    with pytest.raises(UserInputError, match="key=value"):
        apply_overrides(coco_cfg.copy(), ["train.max_iter"])


@pytest.fixture(scope="module")
def toy_cfg(repo_root):
    return LazyConfig.load(str(repo_root / "projects/NoisyClassLabels/configs/toy/combination_switch.py"))


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "dataloader.train.mapper.nosie=sym40",
            "NoisyDatasetMapper has no argument 'nosie'. Did you mean: dataloader.train.mapper.noise?",
        ),
        ("dataloader.train.mapper.use_instance_maks=true", "has no argument 'use_instance_maks'"),
        ("model.roi_heads.box_predictor.cls_los=gce", "has no argument 'cls_los'"),
    ],
)
def test_typos_under_targets_taking_kwargs_are_rejected(toy_cfg, override, message):
    with pytest.raises(UserInputError, match=message):
        apply_overrides(toy_cfg.copy(), [override])


def test_arguments_forwarded_through_kwargs_are_accepted(toy_cfg):
    cfg = apply_overrides(
        toy_cfg.copy(),
        ["dataloader.train.mapper.recompute_boxes=true", "model.roi_heads.box_predictor.test_topk_per_image=10"],
    )
    assert cfg.dataloader.train.mapper.recompute_boxes is True


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.max_iter=abc", "train.max_iter='abc': expected an int like the config's 500, got str 'abc'"),
        ("train.max_iter=2.5", "expected an int"),
        ("train.amp.enabled=3", "expected a bool"),
        ("optimizer.lr=fast", "expected a number"),
        ("model.roi_heads.box_predictor.loss_switch_iter=half", "expected an int like the config's 250"),
    ],
)
def test_values_of_known_scalar_keys_are_type_checked(toy_cfg, override, message):
    with pytest.raises(UserInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        apply_overrides(toy_cfg.copy(), [override])


def test_well_typed_values_pass(toy_cfg):
    cfg = apply_overrides(
        toy_cfg.copy(),
        [
            "optimizer.lr=1",
            "train.max_iter=10",
            "train.stop_iter=null",
            "model.roi_heads.box_predictor.loss_switch_iter=3",
        ],
    )
    assert cfg.optimizer.lr == 1 and cfg.model.roi_heads.box_predictor.loss_switch_iter == 3
