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
