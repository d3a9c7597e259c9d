"""Checkpoints are never silently wrong and never unsafe: eval-only refusals, pickles refused unless opted in,
resume past a truncated or missing last checkpoint, max_to_keep across kill + resume, atomic saves."""

import json
import pickle

import pytest
import torch

from noisy_seg.cli import train_net
from noisy_seg.engine.checkpoint import SafeCheckpointer
from noisy_seg.utils.errors import UserInputError

CONFIG = "configs/toy/mask_rcnn_R18_FPN_ce.py"
TINY = [
    "dataloader.train.dataset.names=toy_tiny_train",
    "dataloader.test.dataset.names=toy_tiny_val",
    "model.roi_heads.box_predictor.test_score_thresh=0.0",
    "train.eval_period=0",
    "train.log_period=1",
    "dataloader.train.num_workers=0",
]


def _main(repo_root, *opts, resume=False, eval_only=False):
    argv = (
        ["--config-file", str(repo_root / CONFIG)]
        + (["--resume"] if resume else [])
        + (["--eval-only"] if eval_only else [])
    )
    return train_net.main(train_net.default_argument_parser().parse_args(argv + TINY + list(opts)))


def _cli(run_in_process, repo_root, *opts, flags=()):
    """train_net as its script runs it (in this process); the refusals tested with it happen before any dataset is
    read."""
    return run_in_process(train_net.cli, ["--config-file", repo_root / CONFIG, *flags, *TINY, *opts])


def _iterations(out):
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines()]
    return [r["iteration"] for r in rows if "total_loss" in r]


@pytest.fixture
def run6(toy_run):
    """The suite's trained toy run (6 iterations, a checkpoint every 2: model_0000001, 3, 5 and model_final)."""
    return toy_run


def test_eval_only_without_weights_is_one_line(repo_root, tmp_path, run_in_process):
    res = _cli(
        run_in_process, repo_root, f"train.output_dir={tmp_path}", "train.init_checkpoint=", flags=["--eval-only"]
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("error: --eval-only needs weights")


def test_eval_only_with_the_pretrained_backbone_alone_is_one_line(repo_root, tmp_path, run_in_process):
    """The toy configs start from the pretrained backbone: evaluating it as if it were a trained model says so."""
    res = _cli(run_in_process, repo_root, f"train.output_dir={tmp_path}", flags=["--eval-only"])
    assert res.returncode == 2 and "Traceback" not in res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "error: weights noisy_seg://backbones/R18_tiny_corpus.pth do not fit the model of the config"
    )


@pytest.mark.slow
def test_eval_only_with_weights_of_another_model_is_one_line(repo_root, run6, tmp_path, run_in_process):
    res = _cli(
        run_in_process,
        repo_root,
        f"train.output_dir={tmp_path}",
        "model.roi_heads.num_classes=3",
        "dataloader.train.mapper.num_classes=8",  # the data's count: only the model's differs from the weights'
        f"train.init_checkpoint={run6 / 'model_final.pth'}",
        flags=["--eval-only"],
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-3000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: weights {run6 / 'model_final.pth'} do not fit the model of the config")
    assert "roi_heads.box_predictor.cls_score.weight: (9, 128) in the file, (4, 128) in the model" in last
    res = _cli(
        run_in_process,
        repo_root,
        f"train.output_dir={tmp_path}",
        f"train.init_checkpoint={tmp_path}/no.pth",
        flags=["--eval-only"],
    )
    assert res.returncode == 2 and res.stderr.strip().splitlines()[-1].startswith("error: weights")


def test_the_one_strict_loader_refuses_parameters_the_model_does_not_have(tmp_path):
    """Issue 23: --eval-only accepted a file with parameters the model lacks, which the tools' loader refused; both
    use load_strict now, with the stricter rule."""
    model = torch.nn.Linear(3, 2)
    state = {**model.state_dict(), "extra.weight": torch.zeros(1)}
    torch.save({"model": state}, tmp_path / "extra.pth")
    with pytest.raises(
        UserInputError,
        match=r"do not fit the model of the config: parameters 1 not in the model "
        r"\(extra.weight\)",
    ):
        SafeCheckpointer(model).load_strict(str(tmp_path / "extra.pth"))
    torch.save({"model": model.state_dict()}, tmp_path / "fits.pth")
    SafeCheckpointer(model).load_strict(str(tmp_path / "fits.pth"))  # no error
    (tmp_path / "broken.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(UserInputError, match=r"^weights .*broken.pth cannot be read as a checkpoint \("):
        SafeCheckpointer(model).load_strict(str(tmp_path / "broken.pth"))


class _Payload:
    """A pickle that runs code when it is loaded."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


@pytest.mark.slow
def test_pickles_are_refused_unless_opted_in(repo_root, run6, tmp_path, run_in_process):
    evil = tmp_path / "weights.pkl"
    marker = tmp_path / "code_ran"
    evil.write_bytes(pickle.dumps({"model": _Payload(marker), "__author__": "someone"}))
    with pytest.raises(UserInputError, match="is a pickle: loading it runs any code.*allow_pickle_checkpoints=True"):
        _main(repo_root, f"train.output_dir={tmp_path / 'out'}", "train.max_iter=1", f"train.init_checkpoint={evil}")
    res = _cli(
        run_in_process,
        repo_root,
        f"train.output_dir={tmp_path / 'eval'}",
        f"train.init_checkpoint={evil}",
        flags=["--eval-only"],
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith(f"error: {evil} is a pickle: loading it runs any code")
    out = _copy_run(run6, tmp_path / "resumed")  # --resume, the last checkpoint tag naming a pickle
    (out / "model_final.pkl").write_bytes(evil.read_bytes())
    (out / "last_checkpoint").write_text("model_final.pkl")
    with pytest.raises(UserInputError, match=f"^{out / 'model_final.pkl'} is a pickle: .*allow_pickle_checkpoints"):
        _main(repo_root, f"train.output_dir={out}", "train.max_iter=8", resume=True)
    assert not marker.exists()
    # opted in, a trusted detectron2-style pickle (numpy weights) loads
    state = torch.load(run6 / "model_final.pth", weights_only=True)["model"]
    trusted = tmp_path / "trusted.pkl"
    trusted.write_bytes(pickle.dumps({"model": {k: v.numpy() for k, v in state.items()}, "__author__": "me"}))
    model = torch.nn.Module()
    checkpointer = SafeCheckpointer(model, allow_pickle=True)
    assert checkpointer._load_file(str(trusted))["__author__"] == "me"
    with pytest.raises(UserInputError, match="is a pickle"):
        SafeCheckpointer(model)._load_file(str(trusted))


def _copy_run(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.slow
def test_resume_falls_back_past_a_truncated_or_missing_last_checkpoint(repo_root, run6, tmp_path):
    out = _copy_run(run6, tmp_path / "truncated")
    assert (out / "last_checkpoint").read_text() == "model_final.pth"
    data = (out / "model_final.pth").read_bytes()
    (out / "model_final.pth").write_bytes(data[: len(data) // 3])  # killed mid-write (stock saves in place)
    (out / "model_0000005.pth").write_bytes(b"")  # and the one before is empty
    _main(repo_root, f"train.output_dir={out}", "train.max_iter=8", "train.checkpointer.period=2", resume=True)
    assert _iterations(out)[-4:] == [4, 5, 6, 7], "resumed after model_0000003, the newest readable one"

    out = _copy_run(run6, tmp_path / "missing")
    (out / "model_final.pth").unlink()
    _main(repo_root, f"train.output_dir={out}", "train.max_iter=8", "train.checkpointer.period=2", resume=True)
    assert _iterations(out)[-2:] == [6, 7], "resumed after model_0000005"

    out = _copy_run(run6, tmp_path / "nothing")
    for f in out.glob("model_*.pth"):
        f.write_bytes(b"junk")
    with pytest.raises(UserInputError, match="--resume: no readable checkpoint in"):
        _main(repo_root, f"train.output_dir={out}", "train.max_iter=8", resume=True)


@pytest.mark.slow
def test_max_to_keep_holds_after_kill_and_resume(repo_root, tiny_toy, tmp_path):
    keep = ["train.checkpointer.period=1", "train.checkpointer.max_to_keep=2"]
    _main(repo_root, f"train.output_dir={tmp_path}", "train.max_iter=4", *keep)
    assert sorted(f.name for f in tmp_path.glob("model_0*.pth")) == ["model_0000002.pth", "model_0000003.pth"]
    _main(repo_root, f"train.output_dir={tmp_path}", "train.max_iter=7", *keep, resume=True)
    assert sorted(f.name for f in tmp_path.glob("model_0*.pth")) == ["model_0000005.pth", "model_0000006.pth"]


def test_a_save_that_fails_midway_leaves_the_previous_checkpoint_intact(run6, tmp_path, monkeypatch):
    out = _copy_run(run6, tmp_path / "run")
    before = (out / "model_final.pth").read_bytes()
    model = torch.nn.Linear(2, 2)
    checkpointer = SafeCheckpointer(model, str(out))

    def dying_save(obj, f, *args, **kwargs):
        f.write(b"partial bytes")
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        checkpointer.save("model_final")
    assert (out / "model_final.pth").read_bytes() == before
    assert (out / "last_checkpoint").read_text() == "model_final.pth"
