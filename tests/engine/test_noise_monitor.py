"""Noise you can see: the active label noise in the log, its realized rate and the memorization curves as scalars,
from the README's first noise command (stock toy config + dataloader.train.mapper.noise=...), shortened."""

import json
from types import SimpleNamespace

import pytest

from detectron2.utils.events import EventStorage

from noisy_seg.cli import train_net
from noisy_seg.engine.noise_monitor import NoiseMonitor

SHORT = ["train.max_iter=2", "train.eval_period=0", "train.log_period=1", "dataloader.train.total_batch_size=4"]


def _run(repo_root, config, out, *opts):
    argv = ["--config-file", str(repo_root / config), f"train.output_dir={out}", *SHORT, *opts]
    train_net.main(train_net.default_argument_parser().parse_args(argv))
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    return rows, (out / "log.txt").read_text()


def _latest(rows, key):
    values = [r[key] for r in rows if key in r]
    assert values, f"{key} was never logged"
    return values[-1]


@pytest.mark.slow
def test_the_readme_noise_command_logs_the_noise_and_memorization(repo_root, tiny_toy, tmp_path):
    rows, log = _run(
        repo_root,
        "configs/toy/mask_rcnn_R18_FPN_ce.py",
        tmp_path,
        "dataloader.train.mapper.noise=sym40",
        "dataloader.train.dataset.names=toy_tiny_train",
        "dataloader.test.dataset.names=toy_tiny_val",
    )
    assert (
        "[NoisyDatasetMapper] Label noise in training: sym40 -> NoisePipeline(class_noise=SymmetricNoise(rate=0.4"
        in log
    )
    realized = _latest(rows, "noise/realized_rate")
    assert 0 < realized < 1
    assert _latest(rows, "noise/class_flip_rate") == realized  # class noise only: every change is a flip
    for key in ("pred_is_clean_label", "pred_is_noisy_label", "noisy_fg_fraction"):
        assert 0 <= _latest(rows, f"memorization/{key}") <= 1
    assert "Box classifier loss of this run: CE for iterations 0-1" in log


def test_the_semantic_toy_config_logs_the_noise_and_memorization(repo_root, tiny_toy, tmp_path):
    rows, log = _run(
        repo_root,
        "configs/toy/semantic_R18_FPN_ce.py",
        tmp_path,
        "dataloader.train.mapper.noise=semrelabel40",
        "dataloader.train.dataset.names=toy_tiny_cityscapes_sem_seg_train",
        "dataloader.test.dataset.names=toy_tiny_cityscapes_sem_seg_val",
    )
    assert "[NoisySemSegDatasetMapper] Label noise in training: semrelabel40 -> SemanticNoise(rate=0.4" in log
    assert "background_label=0" in log.split("Label noise in training")[1].splitlines()[0]  # as the mapper built it
    assert 0 < _latest(rows, "noise/realized_rate") < 1
    assert 0 < _latest(rows, "noise/component_rate") < 1  # the realized rate in components, as the name gives it
    assert not any("noise/class_flip_rate" in r for r in rows)  # pixels have no class flips of their own
    assert 0 <= _latest(rows, "memorization/pred_is_clean_label") <= 1
    assert 0 < _latest(rows, "memorization/noisy_pixel_fraction") < 1
    assert "Semantic head loss of this run: CE for iterations 0-1" in log and "Box classifier" not in log


def _monitor(batches):
    monitor = NoiseMonitor()
    monitor.trainer = SimpleNamespace(storage=None)
    drawn = []
    for batch in monitor.observe(batches):
        drawn.append(batch)
        with EventStorage(len(drawn) - 1) as storage:
            monitor.trainer.storage = storage
            monitor.after_step()
    return monitor, drawn, {k: v[0] for k, v in storage.latest().items()}


def test_rates_are_over_all_batches_drawn_so_far_and_survive_a_resume():
    batches = [
        [{"noise_counts": {"total": 3, "changed": 1, "class_flip": 1}}, {"image": None}],
        [{"noise_counts": {"total": 5, "changed": 3, "class_flip": 1}}],
    ]
    monitor, drawn, scalars = _monitor(batches)
    assert drawn == batches  # the trainer gets the batches unchanged
    assert scalars == {"noise/realized_rate": pytest.approx(4 / 8), "noise/class_flip_rate": pytest.approx(2 / 8)}
    resumed = NoiseMonitor()
    resumed.load_state_dict(monitor.state_dict())
    resumed.trainer = SimpleNamespace(storage=None)
    with EventStorage(2) as storage:
        resumed.trainer.storage = storage
        for _ in resumed.observe([[{"noise_counts": {"total": 2, "changed": 0, "class_flip": 0}}]]):
            resumed.after_step()
    assert storage.latest()["noise/realized_rate"][0] == pytest.approx(4 / 10)


def test_clean_batches_write_nothing():
    _, _, scalars = _monitor([[{"image": None}], [{"image": None}]])
    assert scalars == {}
