"""yacs configs through tools/train_net.py (NoisyTrainer): label noise by name and by spec, the noisy heads, the
noise scalars, --eval-only, one-line errors with exit status 2, and no code run from a file the user loads (a
`!!python` tag in a config or its _BASE_, a pickle as MODEL.WEIGHTS or as the last checkpoint)."""

import json
import os
import pickle
import re
import shutil
import subprocess
import sys

import pytest
import torch

from noisy_seg.cli import train_net
from noisy_seg.data import NoisyDatasetMapper
from noisy_seg.engine import NoisyTrainer, is_yacs_config, load_yacs_config, load_yacs_model_for_eval
from noisy_seg.engine.checkpoint import SafeCheckpointer
from noisy_seg.utils.errors import UserInputError

INSTANCE = "configs/toy/yacs/mask_rcnn_R18_FPN_combination.yaml"
SEMANTIC = "configs/toy/yacs/semantic_R18_FPN_ce.yaml"
# tiny data, two images per step, score threshold 0: a 2-iteration model must still detect something to evaluate
TINY = [
    "DATASETS.TRAIN",
    "('toy_tiny_train',)",
    "DATASETS.TEST",
    "('toy_tiny_val',)",
    "SOLVER.IMS_PER_BATCH",
    "2",
    "DATALOADER.NUM_WORKERS",
    "0",
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
    "0.0",
]


def _rows(output_dir):
    return [json.loads(line) for line in (output_dir / "metrics.json").read_text().splitlines()]


def _args(*argv):
    return train_net.argument_parser().parse_args(list(argv))


@pytest.fixture(scope="module")
def trained(repo_root, tiny_toy, tmp_path_factory):
    """2 iterations of the combination-loss toy config (active from iteration 0) under sym40, given on the command
    line, through cli() as the shell runs it; evaluated at the end."""
    out = tmp_path_factory.mktemp("yacs_train")
    train_net.cli(
        [
            "--config-file",
            str(repo_root / INSTANCE),
            *TINY,
            "SOLVER.MAX_ITER",
            "2",
            "OUTPUT_DIR",
            str(out),
            "INPUT.LABEL_NOISE",
            "sym40",
            "MODEL.ROI_BOX_HEAD.LOSS_SWITCH_ITER",
            "0",
        ]
    )
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
    results = train_net.main(
        _args(
            "--config-file",
            str(repo_root / INSTANCE),
            "--eval-only",
            *TINY,
            "OUTPUT_DIR",
            str(tmp_path),
            "MODEL.WEIGHTS",
            str(trained / "model_final.pth"),
        )
    )
    assert set(results) == {"bbox", "segm"} and "AP" in results["segm"]


def test_resume_continues_after_the_last_checkpoint(repo_root, trained, tmp_path):
    for name in ("model_final.pth", "last_checkpoint"):  # a copy of the run: the other tests read its metrics
        shutil.copy(trained / name, tmp_path / name)
    train_net.main(
        _args(
            "--config-file",
            str(repo_root / INSTANCE),
            "--resume",
            *TINY,
            "DATASETS.TEST",
            "()",
            "SOLVER.MAX_ITER",
            "3",
            "OUTPUT_DIR",
            str(tmp_path),
            "INPUT.LABEL_NOISE",
            "sym40",
        )
    )
    assert [r["iteration"] for r in _rows(tmp_path) if "total_loss" in r] == [2]  # iterations 0-1 were done
    assert json.loads((tmp_path / "run_info.json").read_text())["start_iter"] == 2


def test_the_saved_config_yaml_is_a_yacs_config_of_the_run(trained):
    # default_setup saved the merged config: it loads back as a yacs config with what the run used
    assert is_yacs_config(str(trained / "config.yaml"))
    cfg = load_yacs_config(str(trained / "config.yaml"), [])
    assert cfg.INPUT.LABEL_NOISE == "sym40" and cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS == "combination"


def test_eval_only_without_weights_is_an_error(repo_root, tiny_toy, tmp_path):
    with pytest.raises(UserInputError, match="^--eval-only needs weights: pass MODEL.WEIGHTS"):
        train_net.main(
            _args(
                "--config-file",
                str(repo_root / INSTANCE),
                "--eval-only",
                *TINY,
                "MODEL.WEIGHTS",
                "",
                "OUTPUT_DIR",
                str(tmp_path),
            )
        )
    # the toy configs' default weights are the pretrained backbone alone: not a model to evaluate, and said so
    with pytest.raises(UserInputError, match="^weights noisy_seg://backbones/R18_tiny_corpus.pth do not fit"):
        train_net.main(
            _args("--config-file", str(repo_root / INSTANCE), "--eval-only", *TINY, "OUTPUT_DIR", str(tmp_path))
        )


def test_semantic_config_trains_with_named_noise(repo_root, tiny_toy, tmp_path):
    train_net.main(
        _args(
            "--config-file",
            str(repo_root / SEMANTIC),
            "SOLVER.MAX_ITER",
            "1",
            "SOLVER.IMS_PER_BATCH",
            "2",
            "DATALOADER.NUM_WORKERS",
            "0",
            "OUTPUT_DIR",
            str(tmp_path),
            "DATASETS.TRAIN",
            "('toy_tiny_cityscapes_sem_seg_train',)",
            "DATASETS.TEST",
            "()",
            "INPUT.LABEL_NOISE",
            "semrelabel40",
        )
    )
    rows = _rows(tmp_path)
    assert any(r.get("noise/realized_rate", 0) > 0 for r in rows)
    assert any("memorization/noisy_pixel_fraction" in r for r in rows)


def test_noise_spec_from_the_command_line(repo_root):
    cfg = load_yacs_config(
        str(repo_root / INSTANCE),
        [
            "INPUT.LABEL_NOISE_SPEC.TYPE",
            "symmetric",
            "INPUT.LABEL_NOISE_SPEC.RATE",
            "0.4",
            "INPUT.LABEL_NOISE_SPEC.SEED",
            "3",
            "INPUT.LABEL_NOISE_SPEC.INCLUDE_TRUE",
            "True",
        ],
    )
    noise = NoisyDatasetMapper(cfg, is_train=True).noise
    assert repr(noise.class_noise) == "SymmetricNoise(rate=0.4, num_classes=8, seed=3, include_true=True)"


def test_noise_spec_as_a_yaml_mapping(repo_root, tmp_path):
    config = tmp_path / "asym.yaml"
    config.write_text(
        f"_BASE_: {repo_root / INSTANCE}\n"
        "INPUT:\n  LABEL_NOISE_SPEC: {TYPE: asymmetric, RATE: 0.25, MAPPING: {'0': [1]}}\n"
    )
    assert is_yacs_config(str(config))
    transitions = NoisyDatasetMapper(
        load_yacs_config(str(config), []), is_train=True
    ).noise.class_noise.expected_transition_matrix()
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
        "INPUT.LABEL_NOISE_SPEC, INPUT.LABEL_NOISE_BACKGROUND?"
    ]


@pytest.mark.parametrize(
    "opts, message",
    [
        (["INPUT.LABEL_NOISE_SPEC.RATE", "0.4"], "error: INPUT.LABEL_NOISE_SPEC sets ['RATE'] but no TYPE"),
        (
            ["INPUT.LABEL_NOISE", "sym40", "INPUT.LABEL_NOISE_SPEC.TYPE", "drop"],
            "error: INPUT.LABEL_NOISE ('sym40') and ",
        ),
        (["SOLVER.MAX_ITER", "many"], "error: the command line: Type mismatch"),
    ],
)
def test_bad_noise_settings_are_one_error_line(repo_root, capsys, opts, message):
    with pytest.raises(SystemExit) as exit_:
        train_net.cli(["--config-file", str(repo_root / INSTANCE), *opts])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and err[0].startswith(message)


@pytest.mark.slow
def test_cli_bad_noise_name_is_one_line_and_status_2(repo_root):
    res = subprocess.run(
        [sys.executable, "tools/train_net.py", "--config-file", INSTANCE, "INPUT.LABEL_NOISE", "sym4O"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2, res.stderr[-2000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: INPUT.LABEL_NOISE sym4O: unknown noise name 'sym4O'")


def _train_net(repo_root, *argv):
    return subprocess.run(
        [sys.executable, "tools/train_net.py", *argv], cwd=repo_root, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_a_python_tag_in_a_config_or_its_base_runs_nothing(repo_root, tmp_path):
    marker = tmp_path / "made_by_the_config"
    evil = tmp_path / "evil.yaml"
    evil.write_text(
        f"_BASE_: {repo_root / INSTANCE}\nSOLVER:\n  MAX_ITER: !!python/object/apply:os.mkdir [{str(marker)!r}]\n"
    )
    child = tmp_path / "child.yaml"
    child.write_text("_BASE_: evil.yaml\nSOLVER:\n  BASE_LR: 0.01\n")  # the tag one _BASE_ down, relative
    message = (
        f"{evil} (line 3): the YAML tag !!python/object/apply:os.mkdir is refused: yacs config files are read "
        "with yaml.safe_load (Python tags would run code); write plain values"
    )
    for config in (evil, child):
        assert is_yacs_config(str(config))
        with pytest.raises(UserInputError) as err:
            load_yacs_config(str(config), [])
        assert str(err.value) == message
    res = _train_net(repo_root, "--config-file", str(child), "OUTPUT_DIR", str(tmp_path / "out"))
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [f"error: {message}"], res.stderr[-2000:]
    assert not marker.exists()


def test_safe_loading_follows_relative_nested_and_listed_bases(repo_root, tmp_path):
    (tmp_path / "bases").mkdir()
    (tmp_path / "bases" / "lr.yaml").write_text(f"_BASE_: {repo_root / INSTANCE}\nSOLVER:\n  BASE_LR: 0.005\n")
    (tmp_path / "bases" / "noise.yaml").write_text("INPUT:\n  LABEL_NOISE: sym40\n")
    config = tmp_path / "config.yaml"
    config.write_text("_BASE_: [bases/lr.yaml, bases/noise.yaml]\nSOLVER:\n  MAX_ITER: 7\n")
    cfg = load_yacs_config(str(config), [])
    assert (cfg.SOLVER.BASE_LR, cfg.INPUT.LABEL_NOISE, cfg.SOLVER.MAX_ITER) == (0.005, "sym40", 7)
    assert cfg.MODEL.ROI_BOX_HEAD.CLS_LOSS == "combination"  # from the base's own _BASE_


@pytest.mark.parametrize(
    "base, message",
    [
        ("configs/toy/mask_rcnn_R18_FPN_ce.py", "is not valid YAML"),  # a LazyConfig file
        ("listing.yaml", "is not a yacs config (a YAML mapping of MODEL, INPUT, SOLVER, ... keys)"),
        ("empty.yaml", "is not a yacs config"),
        ("image.yaml", "is not a text file, so not a yacs config"),
        ("missing.yaml", "does not exist"),
        ("loop.yaml", "its _BASE_ chain loops back on itself"),
        (3, "_BASE_ must be a config file path or a list of them, got 3"),
    ],
)
def test_a_base_that_is_not_a_yacs_config_is_one_line(repo_root, tmp_path, base, message):
    (tmp_path / "listing.yaml").write_text("- MODEL\n- SOLVER\n")
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "image.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    (tmp_path / "loop.yaml").write_text("_BASE_: config.yaml\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"_BASE_: {repo_root / base if str(base).startswith('configs') else base}\nSOLVER:\n  BASE_LR: 0.01\n"
    )
    with pytest.raises(UserInputError, match=re.escape(message)) as err:
        load_yacs_config(str(config), [])
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "opts, message",
    [
        (["SOLVER.MAX_ITER", "0"], "SOLVER.MAX_ITER must be an int >= 1, got 0"),
        (["SOLVER.IMS_PER_BATCH", "0"], "SOLVER.IMS_PER_BATCH must be an int >= 1, got 0"),
        (["SOLVER.CHECKPOINT_PERIOD", "0"], "SOLVER.CHECKPOINT_PERIOD must be an int >= 1, got 0"),
        (["TEST.EVAL_PERIOD", "-1"], "TEST.EVAL_PERIOD must be an int >= 0, got -1"),
        (["DATALOADER.NUM_WORKERS", "-2"], "DATALOADER.NUM_WORKERS must be an int >= 0, got -2"),
        (["SOLVER.WARMUP_ITERS", "-1"], "SOLVER.WARMUP_ITERS must be an int >= 0, got -1"),
        (["SOLVER.BASE_LR", "0.0"], "SOLVER.BASE_LR must be a number > 0, got 0.0"),
        (["SOLVER.BASE_LR", "-0.1"], "SOLVER.BASE_LR must be a number > 0, got -0.1"),
    ],
)
def test_counts_and_learning_rate_out_of_range_are_one_error_line(repo_root, capsys, opts, message):
    with pytest.raises(SystemExit) as exit_:
        train_net.cli(["--config-file", str(repo_root / INSTANCE), *opts])
    assert exit_.value.code == 2 and capsys.readouterr().err.strip().splitlines() == [f"error: {message}"]


class _MakeFolder:
    """Unpickled, it calls os.mkdir(folder): what the probe's payload did."""

    def __init__(self, folder):
        self.folder = str(folder)

    def __reduce__(self):
        return (os.mkdir, (self.folder,))


def _evil_pickle(path, marker):
    path.write_bytes(pickle.dumps({"model": _MakeFolder(marker), "__author__": "someone"}))
    return path


@pytest.mark.slow
def test_eval_only_refuses_a_pickle_as_weights(repo_root, tmp_path):
    marker = tmp_path / "made_by_the_pickle"
    evil = _evil_pickle(tmp_path / "evil.pkl", marker)
    res = _train_net(
        repo_root,
        "--config-file",
        INSTANCE,
        "--eval-only",
        "MODEL.WEIGHTS",
        str(evil),
        "OUTPUT_DIR",
        str(tmp_path / "out"),
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert res.stderr.strip().splitlines()[-1] == (
        f"error: {evil} is a pickle: loading it runs any code it contains. If you trust where it comes from (e.g. "
        "detectron2's model zoo), opt in with MODEL.ALLOW_PICKLE_CHECKPOINTS True"
    )
    assert not marker.exists()


@pytest.mark.slow
def test_training_refuses_a_pickle_as_weights_or_as_the_last_checkpoint(repo_root, tiny_toy, tmp_path):
    marker = tmp_path / "made_by_the_pickle"
    evil = _evil_pickle(tmp_path / "evil.pkl", marker)
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(evil, out / "model_final.pkl")
    (out / "last_checkpoint").write_text("model_final.pkl")
    as_weights = ([], ["MODEL.WEIGHTS", str(evil)], evil)
    as_last_checkpoint = (["--resume"], [], out / "model_final.pkl")
    for flags, weights, refused in (as_weights, as_last_checkpoint):
        with pytest.raises(
            UserInputError,
            match=f"^{re.escape(str(refused))} is a pickle: loading it runs any code.*"
            "MODEL.ALLOW_PICKLE_CHECKPOINTS True$",
        ) as err:
            train_net.main(
                _args(
                    *flags,
                    "--config-file",
                    str(repo_root / INSTANCE),
                    *TINY,
                    "SOLVER.MAX_ITER",
                    "1",
                    "OUTPUT_DIR",
                    str(out),
                    *weights,
                )
            )
        assert "\n" not in str(err.value)
    assert not marker.exists()
    with pytest.raises(UserInputError, match=r"^cannot load MODEL.WEIGHTS .*no\.pth \(Checkpoint .* not found!\)"):
        train_net.main(
            _args(
                "--config-file",
                str(repo_root / INSTANCE),
                *TINY,
                "SOLVER.MAX_ITER",
                "1",
                "OUTPUT_DIR",
                str(tmp_path / "other"),
                "MODEL.WEIGHTS",
                str(tmp_path / "no.pth"),
            )
        )


def test_the_trainer_saves_and_loads_through_a_safe_checkpointer(repo_root, tiny_toy, tmp_path):
    cfg = load_yacs_config(str(repo_root / INSTANCE), [*TINY, "OUTPUT_DIR", str(tmp_path)])
    trainer = NoisyTrainer(cfg)
    periodic = [hook for hook in trainer._hooks if hasattr(hook, "checkpointer")]
    assert isinstance(trainer.checkpointer, SafeCheckpointer) and not trainer.checkpointer.allow_pickle
    assert [hook.checkpointer for hook in periodic] == [trainer.checkpointer]  # the hook saves through it too
    assert set(trainer.checkpointer.checkpointables) == {"trainer"}  # DefaultTrainer's: it saves the optimizer too


def test_eval_only_loads_strictly_and_pickles_when_opted_in(repo_root, trained, tmp_path):
    weights = str(trained / "model_final.pth")
    cfg = load_yacs_config(
        str(repo_root / INSTANCE),
        [*TINY, "OUTPUT_DIR", str(tmp_path), "MODEL.WEIGHTS", weights, "MODEL.ROI_HEADS.NUM_CLASSES", "3"],
    )
    with pytest.raises(
        UserInputError, match=f"^weights {re.escape(weights)} do not fit the model of the config: .*cls_score"
    ):
        load_yacs_model_for_eval(cfg, resume=False)
    state = torch.load(weights, weights_only=True)["model"]
    trusted = tmp_path / "trusted.pkl"
    trusted.write_bytes(pickle.dumps({"model": {k: v.numpy() for k, v in state.items()}, "__author__": "me"}))
    cfg = load_yacs_config(
        str(repo_root / INSTANCE),
        [*TINY, "OUTPUT_DIR", str(tmp_path), "MODEL.WEIGHTS", str(trusted), "MODEL.ALLOW_PICKLE_CHECKPOINTS", "True"],
    )
    model = load_yacs_model_for_eval(cfg, resume=False)
    assert torch.equal(
        model.state_dict()["roi_heads.box_predictor.cls_score.weight"],
        state["roi_heads.box_predictor.cls_score.weight"],
    )


@pytest.mark.slow
def test_a_python_tag_in_a_saved_lazyconfig_yaml_runs_nothing(repo_root, tmp_path):
    """The LazyConfig path reads a run's saved config.yaml with detectron2's LazyConfig.load (yaml.unsafe_load):
    the same tag is refused there, by train_net and by a grid cell naming it."""
    from noisy_seg.engine.config_files import load_lazy_config
    from noisy_seg.engine.grid import training_problem

    marker = tmp_path / "made_by_the_config"
    saved = tmp_path / "config.yaml"
    saved.write_text(
        f"train:\n  max_iter: !!python/object/apply:os.mkdir [{str(marker)!r}]\nmodel: {{}}\ndataloader: {{}}\n"
    )
    message = (
        f"{saved} (line 2): the YAML tag !!python/object/apply:os.mkdir is refused: LazyConfig files are read "
        "with yaml.safe_load (Python tags would run code); write plain values"
    )
    with pytest.raises(UserInputError) as err:
        load_lazy_config(str(saved), [])
    assert str(err.value) == message
    assert message in training_problem(str(saved), [])
    res = _train_net(repo_root, "--config-file", str(saved), f"train.output_dir={tmp_path / 'out'}")
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [f"error: {message}"], res.stderr[-2000:]
    assert not marker.exists() and not (tmp_path / "out").exists()
