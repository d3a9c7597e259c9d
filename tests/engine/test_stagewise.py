"""Stage-wise training (Yang et al.): stage 1 stops half-way on the full schedule; stage 2 resumes model,
optimizer, LR schedule and iteration from stage 1's checkpoint with the combination loss."""

import json

import pytest
import torch

from detectron2.config import LazyConfig

from noisy_seg.cli import train_net
from noisy_seg.utils.errors import UserInputError

P = "projects/NoisyClassLabels/configs/toy"
TINY = [
    "dataloader.train.dataset.names=toy_tiny_train",
    "dataloader.test.dataset.names=toy_tiny_val",
    "model.roi_heads.box_predictor.test_score_thresh=0.0",
    "train.max_iter=8",
    "train.eval_period=0",
    "train.log_period=1",
    "dataloader.train.mapper.noise=sym40",
]


def _run(repo_root, config, *opts):
    args = train_net.default_argument_parser().parse_args(["--config-file", str(repo_root / config), *TINY, *opts])
    return train_net.main(args)


def _train_rows(out):
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    return {r["iteration"]: r for r in rows if "total_loss" in r}


@pytest.mark.slow
def test_stage2_resumes_full_training_state(repo_root, tiny_toy, tmp_path):
    s1, s2 = tmp_path / "stage1", tmp_path / "stage2"
    step_at_80 = "lr_multiplier.scheduler.milestones=[400]"  # of the schedule's 500 updates, whatever max_iter
    _run(repo_root, f"{P}/stage1_ce.py", f"train.output_dir={s1}", "train.stop_iter=4", step_at_80)
    stage1 = _train_rows(s1)
    assert sorted(stage1) == [0, 1, 2, 3]
    state = torch.load(s1 / "model_final.pth", map_location="cpu", weights_only=False)
    assert state["iteration"] == 3
    assert "optimizer" in state["trainer"] and "LRScheduler" in state["trainer"]["hooks"]

    _run(
        repo_root,
        f"{P}/stage2_combination.py",
        f"train.output_dir={s2}",
        f"train.resume_from={s1 / 'model_final.pth'}",
        step_at_80,
    )
    stage2 = _train_rows(s2)
    assert sorted(stage2) == [4, 5, 6, 7], "stage 2 continues at the iteration after stage 1"
    # The schedule spans 8 iterations (warmup 1.6 iters, x0.1 at 80% = iter 6.4): a restored scheduler
    # gives the base LR at iter 4 and the decayed LR at iter 7; a fresh one would be warming up again.
    base_lr = LazyConfig.load(str(repo_root / f"{P}/stage1_ce.py")).optimizer.lr
    assert stage2[4]["lr"] == pytest.approx(base_lr)
    assert stage2[7]["lr"] == pytest.approx(base_lr * 0.1)
    assert stage1[3]["lr"] == pytest.approx(base_lr)


def test_stage2_without_stage1_checkpoint_is_a_clear_error(repo_root, tiny_toy, tmp_path):
    with pytest.raises(UserInputError, match="train.resume_from=.*does not exist: train the previous stage first"):
        _run(
            repo_root,
            f"{P}/stage2_combination.py",
            f"train.output_dir={tmp_path}",
            f"train.resume_from={tmp_path / 'missing.pth'}",
        )


def test_stop_iter_must_lie_inside_the_schedule(repo_root, tiny_toy, tmp_path):
    with pytest.raises(UserInputError, match="train.stop_iter=20 must be in"):
        _run(repo_root, f"{P}/stage1_ce.py", f"train.output_dir={tmp_path}", "train.stop_iter=20")


def _run_info(out):
    return json.loads((out / "run_info.json").read_text())


@pytest.mark.slow
def test_switch_and_stop_points_follow_a_shortened_schedule(repo_root, tiny_toy, tmp_path):
    """TINY sets train.max_iter=8: the configs' half-way points must move to 4, not stay at 250."""
    _run(repo_root, f"{P}/combination_switch.py", f"train.output_dir={tmp_path / 'switch'}")
    info = _run_info(tmp_path / "switch")
    assert info["loss_schedule"] == {"loss": "combination", "switch_iter": 4, "ce_iters": [0, 4], "loss_iters": [4, 8]}
    assert info["box_loss"] == "CE for iterations 0-3, then combination for iterations 4-7"
    assert info["noise"] == "sym40"
    _run(repo_root, f"{P}/stage1_ce.py", f"train.output_dir={tmp_path / 'stage1'}")
    assert sorted(_train_rows(tmp_path / "stage1")) == [0, 1, 2, 3]
    assert _run_info(tmp_path / "stage1")["stop_iter"] == 4


@pytest.mark.slow
def test_a_loss_that_never_becomes_active_is_reported_loudly(repo_root, tiny_toy, tmp_path, caplog):
    with caplog.at_level("WARNING", logger="noisy_seg"):
        _run(
            repo_root,
            f"{P}/combination_switch.py",
            f"train.output_dir={tmp_path}",
            "model.roi_heads.box_predictor.loss_switch_iter=50",
        )
    assert "NEVER becomes active" in caplog.text
    info = _run_info(tmp_path)
    assert info["loss_schedule"]["loss_iters"] is None
    assert info["box_loss"] == ("CE for iterations 0-7 (combination configured from iteration 50: never active)")
