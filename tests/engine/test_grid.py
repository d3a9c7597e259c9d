"""Grids: cells from blocks x seeds, bad cells listed before anything runs, runs that resume, failed cells
reported while the others go on, and mean +- std reports."""

import csv
import json
import math
import os
import subprocess
import runpy
import sys
from pathlib import Path

import pytest

from noisy_seg.data.datasets.toy_shapes import ensure_toy_dataset
from noisy_seg.engine.grid import CellResult, check_cells, grid_settings, load_grid, run_grid
from noisy_seg.engine.launcher import training_metrics, training_settings
from noisy_seg.utils.run_folder import FINISHED, STARTED, RunFolder, run_state
from noisy_seg.engine.grid_report import markdown, summarize, write_report
from noisy_seg.utils.errors import UserInputError

from noisy_seg.cli import run_grid as run_grid_tool

SPEC = {
    "seeds": [0, 1],
    "blocks": [{"losses": ["ce"], "noise": ["clean"]}, {"losses": ["ce", "combination"], "noise": ["symmix40"]}],
}


def test_cells_are_block_products_times_seeds_without_repeats(tmp_path):
    grid = load_grid({**SPEC, "blocks": SPEC["blocks"] + [{"losses": ["ce"], "noise": ["clean"]}]}, "t", tmp_path)
    assert [c.name for c in grid.cells] == [
        "ce__clean__s0",
        "ce__clean__s1",
        "ce__symmix40__s0",
        "ce__symmix40__s1",
        "combination__symmix40__s0",
        "combination__symmix40__s1",
    ]
    assert grid.loss_order == ["ce", "combination"] and grid.noise_order == ["clean", "symmix40"]
    cell = grid.cells[2]
    assert cell.config.endswith("toy/mask_rcnn_R18_FPN_ce.py")
    assert cell.command(tmp_path / "c", "cpu")[-4:] == [
        "dataloader.train.mapper.noise=symmix40",
        "train.seed=0",
        "train.device=cpu",
        f"train.output_dir='{tmp_path / 'c'}'",
    ]
    assert "--resume" in cell.command(tmp_path / "c", None, resume=True)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"blocks": []}, "no blocks"),
        ({**SPEC, "seeds": [-1]}, "seeds must be"),
        ({**SPEC, "dataset": "kitti"}, "unknown dataset 'kitti'"),
        ({**SPEC, "lossess": ["ce"]}, "unknown field(s) ['lossess']"),
        ({"blocks": [{"losses": ["ce"], "noises": ["sym40"]}]}, "a block is {losses"),
    ],
)
def test_bad_grid_fields_are_one_line(tmp_path, spec, message):
    with pytest.raises(UserInputError) as error:
        load_grid(spec, "t", tmp_path)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.slow
def test_every_bad_cell_is_listed_before_anything_runs(repo_root, tmp_path):
    spec = {"seeds": [0], "overrides": [], "blocks": [{"losses": ["ce", "focal_typo"], "noise": ["sym40", "sym150"]}]}
    grid = load_grid(spec, "bad", tmp_path)
    problems = check_cells(grid, None)
    assert len(problems) == 3  # ce x sym150, focal_typo x both
    assert any(p.startswith("ce__sym150__s0: dataloader.train.mapper.noise='sym150'") for p in problems)
    assert sum("unknown loss 'focal_typo'" in p for p in problems) == 2
    command = [
        sys.executable,
        "tools/run_grid.py",
        "--losses",
        "ce",
        "gcee",
        "--noise",
        "sym40",
        "asym40_coco",
        "--output",
        str(tmp_path / "out"),
    ]
    res = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith("error: 3 of 4 cells cannot run; nothing was started:")
    assert not (tmp_path / "out").exists()


def test_a_loss_beats_ce_only_beyond_twice_the_larger_std(tmp_path):
    grid = load_grid(SPEC, "t", tmp_path)
    ce = [_result(grid, "ce", "symmix40", s, ap) for s, ap in ((0, 6.0), (1, 7.0))]  # std 0.71
    for comb_aps, verdict in (((9.0, 9.2), "yes"), ((7.0, 8.4), "no")):  # gaps 2.6 > 1.41; 1.2 < 2 * 0.99
        comb = [_result(grid, "combination", "symmix40", s, ap) for s, ap in enumerate(comb_aps)]
        row = next(r for r in summarize(grid, ce + comb) if r["loss"] == "combination")
        assert row["beyond 2 std"] == verdict and math.isclose(row["vs ce"], sum(comb_aps) / 2 - 6.5)


def test_a_folder_of_another_run_or_a_file_as_output_is_refused(tmp_path):
    grid = load_grid(SPEC, "t", tmp_path / "out")
    cell = grid.cells[0]
    folder = grid.output / cell.name
    RunFolder.open(grid.output, grid_settings(grid))
    RunFolder.open(folder, training_settings(cell.config, cell.opts(None)))
    assert check_cells(grid, None) == []
    other = load_grid({**SPEC, "overrides": ["train.max_iter=7"]}, "t", tmp_path / "out")
    problems = check_cells(other, None)
    assert len(problems) == 1 and problems[0].startswith(
        f"{cell.name}: cell {folder} holds a run with other settings (command; e.g. command: "
    )
    assert check_cells(load_grid(SPEC, "another", tmp_path / "out"), None) == [
        f"--output {tmp_path / 'out'} holds a run with other settings (grid; e.g. grid: 't' there, 'another' now); "
        "resume with the same settings or choose a new folder"
    ]
    (tmp_path / "file").write_text("")
    assert check_cells(load_grid(SPEC, "t", tmp_path / "file"), None) == [
        f"--output {tmp_path / 'file'} is a file; give a folder"
    ]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("")
    assert check_cells(load_grid(SPEC, "t", tmp_path / "mine"), None) == [
        f"--output {tmp_path / 'mine'} holds files but no run.json: it is not a run to resume; choose a new folder"
    ]


def test_a_model_that_predicts_nothing_has_ap_0_and_is_flagged(tmp_path):
    # what COCOEvaluator logs for a model with no detections: NaN box AP, no mask AP
    (tmp_path / "metrics.json").write_text(json.dumps({"iteration": 4, "bbox/AP": float("nan")}) + "\n")
    metrics = training_metrics(tmp_path)
    assert metrics["segm/AP"] == 0.0 and metrics["bbox/AP"] == 0.0 and metrics["no predictions"] is True
    grid = load_grid(SPEC, "t", tmp_path)
    empty = CellResult(grid.cells[0], "done", metrics, 1.0, Path("/logs/a.txt"), "cmd", "")
    rows = summarize(grid, [empty, _result(grid, "ce", "clean", 1, 4.0)])
    assert rows[0]["segm/AP mean"] == 2.0 and rows[0]["no predictions"] == 1
    assert "| 2 (1 with no predictions: AP 0) |" in markdown(rows)


def test_the_share_of_foreground_rois_called_background_at_the_end_is_reported(tmp_path):
    rows = [
        {"iteration": 19, "fast_rcnn/false_negative": 0.9},
        {"iteration": 39, "fast_rcnn/false_negative": 0.25},
        {"iteration": 40, "segm/AP": 30.0, "bbox/AP": 31.0},
    ]
    (tmp_path / "metrics.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    metrics = training_metrics(tmp_path)
    assert metrics["fg RoIs called bg (%)"] == 25.0 and metrics["segm/AP"] == 30.0
    grid = load_grid(SPEC, "t", tmp_path)
    result = CellResult(grid.cells[0], "done", metrics, 1.0, Path("/logs/a.txt"), "cmd", "")
    assert "25.0" in markdown(summarize(grid, [result]))
    (tmp_path / "metrics.json").write_text(json.dumps({"iteration": 40, "sem_seg/mIoU": 60.0}) + "\n")
    assert "fg RoIs called bg (%)" not in training_metrics(tmp_path)  # semantic runs have no RoIs


def _result(grid, loss, noise, seed, ap, status="done"):
    cell = next(c for c in grid.cells if (c.loss, c.noise, c.seed) == (loss, noise, seed))
    return CellResult(
        cell,
        status,
        {} if status == "failed" else {"segm/AP": ap, "bbox/AP": ap + 1},
        2.0,
        Path(f"/logs/{cell.name}.txt"),
        "cmd",
        "CE for iterations 0-9",
    )


def test_report_gives_mean_std_and_n_and_names_failed_cells(tmp_path):
    grid = load_grid(SPEC, "t", tmp_path)
    results = [
        _result(grid, "ce", "clean", 0, 10.0),
        _result(grid, "ce", "clean", 1, 14.0),
        _result(grid, "ce", "symmix40", 0, 6.0),
        _result(grid, "ce", "symmix40", 1, 0, status="failed"),
        _result(grid, "combination", "symmix40", 0, 8.0),
        _result(grid, "combination", "symmix40", 1, 9.0),
    ]
    rows = summarize(grid, results)
    clean = rows[0]
    assert (clean["loss"], clean["noise"], clean["n"]) == ("ce", "clean", 2)
    assert clean["segm/AP mean"] == 12.0 and math.isclose(clean["segm/AP std"], math.sqrt(8.0))
    assert rows[1]["n"] == 1 and rows[1]["failed"] == 1 and "ce__symmix40__s1" in rows[1]["failed_logs"]
    combination = rows[2]  # 8.5 +- 0.7 against CE's 6.0 (one seed: no std, so no verdict)
    assert combination["vs ce"] == 2.5 and combination["beyond 2 std"] == "n/a (one seed)"
    table = markdown(rows)
    assert "| ce | clean | CE for iterations 0-9 | 12.0 +- 2.8 | 13.0 +- 2.8 | 2 | |" in table
    assert "| 2 | +2.5 (n/a (one seed)) |" in table
    assert "1 (1 failed: /logs/ce__symmix40__s1.txt)" in table
    paths = write_report(grid, results)
    assert paths["plot"].stat().st_size > 1000
    with open(paths["cells_csv"]) as f:
        cells = list(csv.DictReader(f))
    assert len(cells) == 6 and cells[3]["status"] == "failed" and cells[0]["command"] == "cmd"


@pytest.mark.slow
def test_a_grid_runs_resumes_and_reports_a_crashed_cell(repo_root, tmp_path):
    """Two tiny real cells through tools/train_net.py, one of which crashes; then the grid is run again."""
    base = tmp_path / "datasets"
    name = "toy_shapes_seed0_train8_val4_size64"
    ensure_toy_dataset(base / name, seed=0, num_train=8, num_val=4, image_size=64)
    tiny = [
        f"dataloader.train.dataset.names={name}_train",
        f"dataloader.test.dataset.names={name}_val",
        "train.max_iter=2",
        "model.roi_heads.box_predictor.test_score_thresh=0.0",
        "dataloader.train.num_workers=0",
        "dataloader.test.num_workers=0",
    ]
    broken = tmp_path / "broken.py"  # valid as a config, fails when the run starts
    broken.write_text(
        "from detectron2.config import LazyConfig\n"
        f"cfg = LazyConfig.load({str(repo_root / 'configs/toy/mask_rcnn_R18_FPN_ce.py')!r})\n"
        "dataloader, lr_multiplier, model, optimizer, train = (cfg.dataloader, cfg.lr_multiplier, cfg.model, "
        "cfg.optimizer, cfg.train)\n"
        "train.init_checkpoint = '/nonexistent/weights.pth'\n"
    )
    spec = {
        "seeds": [0],
        "overrides": tiny,
        "blocks": [{"losses": ["ce", "broken"], "noise": ["sym40"]}],
        "configs": {"broken": str(broken)},
    }
    os.environ["NOISY_SEG_DATASETS"] = str(base)  # the cells' processes register the tiny set by name
    try:
        grid = load_grid(spec, "tiny", tmp_path / "grid")
        assert check_cells(grid, None) == []  # its problem only shows when it runs
        lines = []
        results = run_grid(grid, jobs=2, report=lines.append)
        assert [r.status for r in results] == ["done", "failed"]
        assert "ETA" in lines[-1] and any("broken__sym40__s0: failed (log:" in line for line in lines)
        assert "train.init_checkpoint=/nonexistent/weights.pth does not exist" in results[1].log.read_text()
        assert json.loads((tmp_path / "grid/ce__sym40__s0/run_info.json").read_text())["seed"] == 0
        assert run_state(tmp_path / "grid/ce__sym40__s0") == FINISHED  # a crashed cell is resumed next time
        assert run_state(tmp_path / "grid/broken__sym40__s0") == STARTED
        again = run_grid(grid, jobs=1, report=lines.append)
        assert [r.status for r in again] == ["reused", "failed"]
        assert "--resume" in again[1].command
        assert again[0].metrics == results[0].metrics
    finally:
        del os.environ["NOISY_SEG_DATASETS"]


def test_the_tool_refuses_bad_arguments(repo_root):
    with pytest.raises(SystemExit, match="give both --losses and --noise"):
        run_grid_tool.main(["--losses", "ce"])
    with pytest.raises(SystemExit, match="grid 'nope' not found"):
        run_grid_tool.main(["--grid", "nope"])
    with pytest.raises(SystemExit, match="--jobs must be at least 1"):
        run_grid_tool.main(["--grid", "demo", "--jobs", "0"])


def test_a_semantic_grid_uses_the_semantic_project_and_reports_miou(tmp_path):
    spec = {
        "dataset": "toy_semantic",
        "seeds": [0, 1],
        "blocks": [{"losses": ["ce", "combination"], "noise": ["semrelabel40"]}],
    }
    grid = load_grid(spec, "sem", tmp_path)
    assert all(c.config.startswith("projects/NoisySemanticLabels/configs/toy/") for c in grid.cells)
    results = [
        CellResult(
            c,
            "done",
            {"sem_seg/mIoU": 10.0 + c.seed + (2 if c.loss == "combination" else 0)},
            2.0,
            Path(f"/logs/{c.name}.txt"),
            "cmd",
            "CE",
        )
        for c in grid.cells
    ]
    rows = summarize(grid, results)
    combination = next(r for r in rows if r["loss"] == "combination")
    assert combination["sem_seg/mIoU mean"] == 12.5 and combination["vs ce"] == 2.0
    paths = write_report(grid, results)
    assert paths["plot"].name == "sem_seg_mIoU.png" and paths["plot"].stat().st_size > 1000


# ------------------------------------------------------------------------------------------------- CPU threads
def test_every_training_launcher_sets_the_threads_of_its_processes(tmp_path, monkeypatch):
    """Issue 21: tools that train several processes on a shared CPU left torch's default threads (a thread per CPU
    in every process). Every launcher takes its environment from training_environment, as the grid does."""
    import subprocess as subprocess_module

    from noisy_seg.cli import run_pseudo_label_recipe
    from noisy_seg.engine import launcher

    from noisy_seg.engine.jobs import ToolJob, run_jobs

    bench_toy_recipe = runpy.run_path(str(Path(__file__).resolve().parents[2] / "benchmarks" / "bench_toy_recipe.py"))

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cpus = launcher.usable_cpus()
    assert launcher.cpu_threads_per_process(1) == cpus and launcher.cpu_threads_per_process(cpus + 1) == 1
    seen = []

    def fake_run(command, **kwargs):
        seen.append(kwargs.get("env") or {})
        return subprocess_module.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess_module, "run", fake_run)  # each module calls subprocess.run
    launcher.train_in_folder("c.py", [], tmp_path / "fold")  # the launcher of K-fold's and the recipes' trainings
    run_pseudo_label_recipe._run(["train"], tmp_path / "recipe")
    bench_toy_recipe["timed_run"](tmp_path / "config.py", tmp_path / "toy")
    tool = ToolJob("tool", "find_label_errors", (), tmp_path / "tool_run", tmp_path / "tool.log")
    assert run_jobs([tool], report=lambda line: None)[0].status == "failed"  # K-fold's and the evidence runner's grid
    grid = load_grid({"seeds": [0, 1], "blocks": [{"losses": ["ce"], "noise": ["clean"]}]}, "t", tmp_path / "grid")
    run_grid(grid, jobs=2, report=lambda line: None)
    expected = [str(cpus)] * 4 + [str(max(1, cpus // 2))] * 2
    assert [env.get("OMP_NUM_THREADS") for env in seen] == expected
    assert [env.get("MKL_NUM_THREADS") for env in seen] == expected

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the user's choice (a busy machine) reaches every process
    seen.clear()
    run_grid(
        load_grid({"seeds": [0], "blocks": [{"losses": ["ce"], "noise": ["clean"]}]}, "t", tmp_path / "g2"),
        jobs=1,
        report=lambda line: None,
    )
    launcher.run_tool(["tool"], tmp_path / "tool.log")
    assert [env["OMP_NUM_THREADS"] for env in seen] == ["1", "1"]


# ------------------------------------------------------------------------------------------------- the output folder
@pytest.mark.slow
def test_an_output_that_cannot_be_made_is_one_line_and_nothing_starts(repo_root, tmp_path, monkeypatch):
    """Issue 21: run_grid --output under a read-only folder ended in a PermissionError traceback."""
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    under_a_file = load_grid(SPEC, "t", blocker / "grid")
    assert check_cells(under_a_file, None) == [
        f"--output {blocker / 'grid'} cannot be made: {blocker} is a file; give a folder"
    ]
    result = subprocess.run(
        [sys.executable, "tools/run_grid.py", "--losses", "ce", "--noise", "clean", "--output", str(blocker / "grid")],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip() == f"error: --output {blocker / 'grid'} cannot be made: {blocker} is a file; give "
        "a folder"
    )

    read_only = tmp_path / "read_only"
    read_only.mkdir(mode=0o555)
    if not os.access(read_only, os.W_OK):  # root may write anyway: then the patched mkdir below stands in
        assert (
            "is read-only; give a folder you can write"
            in check_cells(load_grid(SPEC, "t", read_only / "grid"), None)[0]
        )

    def refused(self, *args, **kwargs):  # what a read-only mount answers, whoever asks
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refused)
    monkeypatch.setattr(run_grid_tool, "run_grid", lambda *args, **kwargs: pytest.fail("a cell was started"))
    with pytest.raises(SystemExit) as exit_info:
        run_grid_tool.main(["--losses", "ce", "--noise", "clean", "--output", str(read_only / "grid")])
    assert exit_info.value.code == (
        f"error: cannot make --output {read_only / 'grid'}: Permission denied; give a folder you can write"
    )


def test_a_mask_loss_grid_compares_with_bce(tmp_path):
    """The NoisyMasks grid (dataset toy_masks): its names are the mask losses' configs, its baseline BCE."""
    spec = {"dataset": "toy_masks", "seeds": [0, 1], "blocks": [{"losses": ["bce", "dice_bce"], "noise": ["clean"]}]}
    grid = load_grid(spec, "masks", tmp_path)
    assert grid.baseline == "bce"
    assert [c.config for c in grid.cells][::2] == [
        "projects/NoisyMasks/configs/toy/mask_rcnn_R18_FPN_bce.py",
        "projects/NoisyMasks/configs/toy/mask_rcnn_R18_FPN_dice_bce.py",
    ]
    results = [
        CellResult(c, "done", {"segm/AP": 20.0 + c.seed + (5 if c.loss == "dice_bce" else 0)}, 2.0, Path("l"), "x")
        for c in grid.cells
    ]
    rows = summarize(grid, results)
    assert next(r for r in rows if r["loss"] == "dice_bce")["vs bce"] == 5.0
    assert "vs bce, same noise" in markdown(rows) and "+5.0 (yes)" in markdown(rows)
    assert load_grid({**spec, "baseline": "dice_bce"}, "masks", tmp_path).baseline == "dice_bce"
