"""End-to-end: tools/train_net.py trains a few iterations on toy data, evaluates, checkpoints, resumes."""

import json
import shutil
import subprocess
import sys

import pytest

from noisy_seg.cli import train_net

CONFIG = "configs/toy/mask_rcnn_R18_FPN_ce.py"
# score threshold 0: a 4-iteration model must still produce detections to evaluate
TINY_DATA = [
    "dataloader.train.dataset.names=toy_tiny_train",
    "dataloader.test.dataset.names=toy_tiny_val",
    "model.roi_heads.box_predictor.test_score_thresh=0.0",
]


def _args(config, *opts, resume=False, eval_only=False):
    argv = ["--config-file", config] + (["--resume"] if resume else []) + (["--eval-only"] if eval_only else [])
    return train_net.default_argument_parser().parse_args(argv + list(opts))


def _metrics(output_dir):
    return [json.loads(line) for line in (output_dir / "metrics.json").read_text().splitlines()]


@pytest.fixture
def trained(toy_run):
    """The suite's trained toy run (conftest.toy_run: 6 iterations, a checkpoint every 2, evaluated at the end)."""
    return toy_run


@pytest.mark.slow
def test_training_writes_checkpoints_metrics_events_and_evaluates(trained):
    out = trained
    assert (out / "model_final.pth").is_file() and (out / "model_0000001.pth").is_file()
    assert (out / "last_checkpoint").read_text().strip() == "model_final.pth"
    assert list(out.glob("events.out.tfevents.*")), "tensorboard events missing"
    rows = _metrics(out)
    assert [r["iteration"] for r in rows if "total_loss" in r] == [0, 1, 2, 3, 4, 5]
    final = [r for r in rows if "segm/AP" in r]
    assert final and final[-1]["iteration"] == 6  # evaluated after the last step (detectron2 logs it at max_iter)
    assert "bbox/AP" in final[-1]


@pytest.mark.slow
def test_resume_continues_from_last_checkpoint(repo_root, trained, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained, out)  # the suite's run stays as it is
    opts = [*TINY_DATA, f"train.output_dir={out}", "train.eval_period=0", "train.log_period=1"]
    train_net.main(_args(str(repo_root / CONFIG), *opts, "train.max_iter=8", resume=True))
    iters = [r["iteration"] for r in _metrics(out) if "total_loss" in r]
    assert iters == [0, 1, 2, 3, 4, 5, 6, 7], "resume must start at iteration 6, after the last checkpoint (iter 5)"


def test_eval_only_loads_weights_and_reports_ap(repo_root, trained, tmp_path):
    out = trained
    results = train_net.main(
        _args(
            str(repo_root / CONFIG),
            *TINY_DATA,
            f"train.output_dir={tmp_path}",
            f"train.init_checkpoint={out / 'model_final.pth'}",
            eval_only=True,
        )
    )
    assert set(results) == {"bbox", "segm"} and "AP" in results["segm"]


def _cli(repo_root, *argv):
    return subprocess.run(
        [sys.executable, "tools/train_net.py", *argv], cwd=repo_root, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_cli_unknown_override_key_is_one_line(repo_root):
    res = _cli(repo_root, "--config-file", CONFIG, "train.max_iters=3")
    assert res.returncode != 0
    assert res.stderr.strip().splitlines() == [
        "error: unknown config key 'train.max_iters': it is not in the config. "
        "Did you mean: train.max_iter? Check its spelling against the config file."
    ]


def test_cli_missing_config_file(run_in_process):
    res = run_in_process(train_net.cli, ["--config-file", "configs/nope.py"])
    assert res.returncode != 0 and "config file 'configs/nope.py' not found" in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_missing_dataset_paths_is_one_clear_line(repo_root, tmp_path, run_in_process):
    config = repo_root / "configs/COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.py"
    res = run_in_process(train_net.cli, ["--config-file", config, f"train.output_dir={tmp_path}"])
    assert res.returncode == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: dataset 'coco_2017_train'") and "DETECTRON2_DATASETS" in last


def test_cli_missing_detectron2_is_one_line(repo_root, tmp_path):
    # a `detectron2` that fails to import, first on the path, stands in for a missing install
    fake = tmp_path / "detectron2"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('No module named detectron2')\n")
    res = subprocess.run(
        [sys.executable, "tools/train_net.py", "--config-file", CONFIG],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "error: detectron2 is not importable (No module named detectron2). Install it with `make install` "
        "or `python tools/install_detectron2.py`."
    ]


@pytest.mark.slow
def test_two_process_cpu_training(repo_root, tiny_toy, tmp_path):
    """--num-gpus 2 on a CPU machine: detectron2's launch starts 2 gloo processes; DDP without device_ids."""
    from noisy_seg.engine.ddp import launch_processes

    opts = TINY_DATA + [
        f"train.output_dir={tmp_path}",
        "train.max_iter=2",
        "train.eval_period=0",
        "train.log_period=1",
        "dataloader.train.num_workers=0",
    ]
    args = _args(str(repo_root / CONFIG), *opts)
    launch_processes(_ddp_worker, 2, dist_url="auto", args=(args, str(tiny_toy)))
    rows = _metrics(tmp_path)
    assert [r["iteration"] for r in rows if "total_loss" in r] == [0, 1]
    assert (tmp_path / "model_final.pth").is_file()


def _ddp_worker(args, toy_root):
    # spawned processes start fresh: register the tiny toy data in each
    from detectron2.data import DatasetCatalog

    from noisy_seg.data.datasets.builtin import register_toy_datasets

    if "toy_tiny_train" not in DatasetCatalog.list():
        register_toy_datasets(toy_root, prefix="toy_tiny", num_train=16, num_val=4, image_size=96)
    train_net.main(args)


@pytest.mark.slow
def test_the_same_seed_gives_the_same_run_and_is_recorded(repo_root, tiny_toy, tmp_path):
    """train.seed reaches detectron2's default_setup (model init, data order, augmentation): two runs with one
    seed log the same losses on this CPU; another seed gives another run. The seed is in run_info.json."""
    losses = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        out = tmp_path / name
        opts = TINY_DATA + [
            f"train.output_dir={out}",
            "train.max_iter=3",
            "train.eval_period=0",
            "train.log_period=1",
            f"train.seed={seed}",
            "dataloader.train.num_workers=0",
        ]
        train_net.main(_args(str(repo_root / CONFIG), *opts))
        losses[name] = [r["total_loss"] for r in _metrics(out) if "total_loss" in r]
        assert json.loads((out / "run_info.json").read_text())["seed"] == seed
    assert losses["a"] == losses["b"] and losses["a"] != losses["c"]


@pytest.mark.slow
def test_a_config_without_train_seed_still_runs_and_records_a_drawn_seed(repo_root, tiny_toy, tmp_path):
    """Configs written before train.seed existed (or without it) keep working from the command line."""
    config = tmp_path / "no_seed.py"
    config.write_text(
        "from detectron2.config import LazyConfig\n"
        f"cfg = LazyConfig.load({str(repo_root / CONFIG)!r})\n"
        "dataloader, lr_multiplier, model, optimizer, train = (cfg.dataloader, cfg.lr_multiplier, cfg.model, "
        "cfg.optimizer, cfg.train)\n"
        "del train['seed']\n"
    )
    out = tmp_path / "out"
    train_net.cli(
        [
            "--config-file",
            str(config),
            *TINY_DATA,
            f"train.output_dir={out}",
            "train.max_iter=1",
            "train.eval_period=0",
            "dataloader.train.num_workers=0",
        ]
    )
    assert json.loads((out / "run_info.json").read_text())["seed"] >= 0


def test_a_negative_seed_is_drawn_and_recorded(repo_root, tiny_toy, tmp_path):
    opts = TINY_DATA + [
        f"train.output_dir={tmp_path}",
        "train.max_iter=1",
        "train.eval_period=0",
        "train.seed=-1",
        "dataloader.train.num_workers=0",
    ]
    train_net.main(_args(str(repo_root / CONFIG), *opts))
    assert json.loads((tmp_path / "run_info.json").read_text())["seed"] >= 0


@pytest.mark.parametrize("loss", ["ce", "combination"])
@pytest.mark.slow
def test_semantic_toy_config_trains_with_a_named_loss_and_reports_miou(repo_root, tiny_toy, tmp_path, loss):
    opts = [
        "dataloader.train.dataset.names=toy_tiny_cityscapes_sem_seg_train",
        "dataloader.test.dataset.names=toy_tiny_cityscapes_sem_seg_val",
        f"train.output_dir={tmp_path}",
        "train.max_iter=3",
        "train.eval_period=3",
        "train.log_period=1",
        "dataloader.train.total_batch_size=2",
        "dataloader.train.mapper.noise=sem40",
        f"model.sem_seg_head.loss={loss}",
        "model.sem_seg_head.loss_kwargs=" + ("{bg_index:[0]}" if loss == "combination" else "{}"),
    ]
    train_net.main(_args(str(repo_root / "configs/toy/semantic_R18_FPN_ce.py"), *opts))
    rows = _metrics(tmp_path)
    assert [r["iteration"] for r in rows if "total_loss" in r] == [0, 1, 2]
    final = [r for r in rows if "sem_seg/mIoU" in r]
    assert final and final[-1]["iteration"] == 3 and 0 <= final[-1]["sem_seg/mIoU"] <= 100
    schedule = json.loads((tmp_path / "run_info.json").read_text())["loss_schedule"]
    assert schedule["loss"] == loss and schedule["ce_iters" if loss == "ce" else "loss_iters"] == [0, 3]
