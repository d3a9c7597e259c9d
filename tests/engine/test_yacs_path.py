"""yacs configs through tools/train_net.py (NoisyTrainer): label noise by name and by spec, the noisy heads, the
noise scalars, --eval-only, and one-line errors with exit status 2."""
import json
import shutil
import subprocess
import sys

import pytest

import train_net
from noisy_seg.data import NoisyDatasetMapper
from noisy_seg.engine import is_yacs_config, load_yacs_config
from noisy_seg.utils.errors import UserInputError

INSTANCE = "configs/toy/yacs/mask_rcnn_R18_FPN_combination.yaml"
SEMANTIC = "configs/toy/yacs/semantic_R18_FPN_ce.yaml"
# tiny data, two images per step, score threshold 0: a 2-iteration model must still detect something to evaluate
TINY = ["DATASETS.TRAIN", "('toy_tiny_train',)", "DATASETS.TEST", "('toy_tiny_val',)", "SOLVER.IMS_PER_BATCH", "2",
        "DATALOADER.NUM_WORKERS", "0", "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"]


def _rows(output_dir):
    return [json.loads(line) for line in (output_dir / "metrics.json").read_text().splitlines()]


def _args(*argv):
    return train_net.argument_parser().parse_args(list(argv))


@pytest.fixture(scope="module")
def trained(repo_root, tiny_toy, tmp_path_factory):
    """2 iterations of the combination-loss toy config (active from iteration 0) under sym40, given on the command
    line, through cli() as the shell runs it; evaluated at the end."""
    out = tmp_path_factory.mktemp("yacs_train")
    train_net.cli(["--config-file", str(repo_root / INSTANCE), *TINY, "SOLVER.MAX_ITER", "2", "OUTPUT_DIR", str(out),
                   "INPUT.LABEL_NOISE", "sym40", "MODEL.ROI_BOX_HEAD.LOSS_SWITCH_ITER", "0"])
    return out


def test_training_logs_noise_and_the_noisy_heads_and_evaluates(trained):
    rows = _rows(trained)
    steps = [r for r in rows if "total_loss" in r]
    assert [r["iteration"] for r in steps] == [1]  # the stock writer: every 20 iterations and at the last
    assert 0 < steps[-1]["noise/realized_rate"] <= 1 and "noise/class_flip_rate" in steps[-1]
    assert "loss_cls" in steps[-1]
    assert any("memorization/pred_is_noisy_label" in r for r in rows)  # NoisyFastRCNNOutputLayers' curves
    run_info = json.loads((trained / "run_info.json").read_text())
    assert run_info["box_loss"] == "combination for iterations 0-1" and run_info["noise"] == "sym40"
    assert any("segm/AP" in r and "bbox/AP" in r for r in rows)
    assert (trained / "model_final.pth").is_file() and (trained / "config.yaml").is_file()


def test_eval_only_on_the_written_checkpoint_gives_coco_metrics(repo_root, trained, tmp_path):
    results = train_net.main(_args("--config-file", str(repo_root / INSTANCE), "--eval-only", *TINY,
                                   "OUTPUT_DIR", str(tmp_path), "MODEL.WEIGHTS", str(trained / "model_final.pth")))
    assert set(results) == {"bbox", "segm"} and "AP" in results["segm"]


def test_resume_continues_after_the_last_checkpoint(repo_root, trained, tmp_path):
    for name in ("model_final.pth", "last_checkpoint"):  # a copy of the run: the other tests read its metrics
        shutil.copy(trained / name, tmp_path / name)
    train_net.main(_args("--config-file", str(repo_root / INSTANCE), "--resume", *TINY, "DATASETS.TEST", "()",
                         "SOLVER.MAX_ITER", "3", "OUTPUT_DIR", str(tmp_path), "INPUT.LABEL_NOISE", "sym40"))
    assert [r["iteration"] for r in _rows(tmp_path) if "total_loss" in r] == [2]  # iterations 0-1 were done
    assert json.loads((tmp_path / "run_info.json").read_text())["start_iter"] == 2


def test_the_saved_config_yaml_is_a_yacs_config_of_the_run(trained):
    # default_setup saved the merged config: it loads back as a yacs config with what the run used
    assert is_yacs_config(str(trained / "config.yaml"))
    cfg = load_yacs_config(str(trained / "config.yaml"), [])
    assert cfg.INPUT.LABEL_NOISE == "sym40" and cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS == "combination"


def test_eval_only_without_weights_is_an_error(repo_root, tiny_toy, tmp_path):
    with pytest.raises(UserInputError, match="^--eval-only needs weights: pass MODEL.WEIGHTS"):
        train_net.main(_args("--config-file", str(repo_root / INSTANCE), "--eval-only", *TINY, "OUTPUT_DIR",
                             str(tmp_path)))


def test_semantic_config_trains_with_named_noise(repo_root, tiny_toy, tmp_path):
    train_net.main(_args("--config-file", str(repo_root / SEMANTIC), "SOLVER.MAX_ITER", "1", "SOLVER.IMS_PER_BATCH",
                         "2", "DATALOADER.NUM_WORKERS", "0", "OUTPUT_DIR", str(tmp_path),
                         "DATASETS.TRAIN", "('toy_tiny_cityscapes_sem_seg_train',)", "DATASETS.TEST", "()",
                         "INPUT.LABEL_NOISE", "semrelabel40"))
    rows = _rows(tmp_path)
    assert any(r.get("noise/realized_rate", 0) > 0 for r in rows)
    assert any("memorization/noisy_pixel_fraction" in r for r in rows)


def test_noise_spec_from_the_command_line(repo_root):
    cfg = load_yacs_config(str(repo_root / INSTANCE), [
        "INPUT.LABEL_NOISE_SPEC.TYPE", "symmetric", "INPUT.LABEL_NOISE_SPEC.RATE", "0.4",
        "INPUT.LABEL_NOISE_SPEC.SEED", "3", "INPUT.LABEL_NOISE_SPEC.INCLUDE_TRUE", "True"])
    noise = NoisyDatasetMapper(cfg, is_train=True).noise
    assert repr(noise.class_noise) == "SymmetricNoise(rate=0.4, num_classes=8, seed=3, include_true=True)"


def test_noise_spec_as_a_yaml_mapping(repo_root, tmp_path):
    config = tmp_path / "asym.yaml"
    config.write_text(f"_BASE_: {repo_root / INSTANCE}\n"
                      "INPUT:\n  LABEL_NOISE_SPEC: {TYPE: asymmetric, RATE: 0.25, MAPPING: {'0': [1]}}\n")
    assert is_yacs_config(str(config))
    transitions = NoisyDatasetMapper(load_yacs_config(str(config), []), is_train=True).noise.class_noise \
        .expected_transition_matrix()
    assert transitions[0, 1] == pytest.approx(0.25) and transitions[2, 2] == 1.0


def test_lazyconfig_yaml_and_py_files_are_not_yacs(tmp_path, repo_root):
    saved = tmp_path / "config.yaml"
    saved.write_text("model: {}\ntrain: {max_iter: 3}\ndataloader: {}\n")
    assert not is_yacs_config(str(saved))
    assert not is_yacs_config(str(repo_root / "configs/toy/mask_rcnn_R18_FPN_ce.py"))


def test_unknown_key_is_one_error_line_and_status_2(repo_root, capsys):
    with pytest.raises(SystemExit) as exit_:
        train_net.cli(["--config-file", str(repo_root / INSTANCE), "INPUT.LABEL_NOISES", "sym40"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: unknown config key INPUT.LABEL_NOISES (the command line). Did you mean: INPUT.LABEL_NOISE, "
        "INPUT.LABEL_NOISE_SPEC, INPUT.LABEL_NOISE_BACKGROUND?"]


@pytest.mark.parametrize("opts, message", [
    (["INPUT.LABEL_NOISE_SPEC.RATE", "0.4"], "error: INPUT.LABEL_NOISE_SPEC sets ['RATE'] but no TYPE"),
    (["INPUT.LABEL_NOISE", "sym40", "INPUT.LABEL_NOISE_SPEC.TYPE", "drop"], "error: INPUT.LABEL_NOISE ('sym40') and "),
    (["SOLVER.MAX_ITER", "many"], "error: the command line: Type mismatch"),
])
def test_bad_noise_settings_are_one_error_line(repo_root, capsys, opts, message):
    with pytest.raises(SystemExit) as exit_:
        train_net.cli(["--config-file", str(repo_root / INSTANCE), *opts])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and err[0].startswith(message)


def test_cli_bad_noise_name_is_one_line_and_status_2(repo_root):
    res = subprocess.run([sys.executable, "tools/train_net.py", "--config-file", INSTANCE, "INPUT.LABEL_NOISE",
                          "sym4O"], cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr[-2000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: INPUT.LABEL_NOISE sym4O: unknown noise name 'sym4O'")
