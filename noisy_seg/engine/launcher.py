"""Launching tools and trainings in processes of their own: the one place that does it, for the grid, the
pseudo-label recipes, K-fold label-error finding and the evidence runners.

    run = train_in_folder("configs/toy/mask_rcnn_R18_FPN_ce.py", ["train.seed=1"], "output/runs/ce_s1")
    run.status, run.metrics["segm/AP"]        # "done" (or "reused": a finished run of the same command; "failed")

A training's folder is a run folder (utils/run_folder.py) whose settings are its command: a finished one is
reused, an interrupted one continues from its last checkpoint (--resume), another command's is refused. Each process
gets its share of the CPUs (`training_environment`): torch's default, a thread per CPU of the host in every process,
oversubscribes a shared CPU.
"""

from __future__ import annotations

import math
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from ..utils.files import write_atomic
from ..utils.run_folder import FINISHED, STARTED, RunFolder, folder_problem
from .metrics import final_metrics, read_metrics

__all__ = [
    "FG_CALLED_BACKGROUND",
    "NO_PREDICTIONS",
    "REPO_ROOT",
    "TrainingRun",
    "cpu_threads_per_process",
    "last_error_line",
    "quoted",
    "run_tool",
    "tool_command",
    "train_in_folder",
    "training_command",
    "training_environment",
    "training_folder_problem",
    "training_metrics",
    "training_settings",
    "usable_cpus",
]

REPO_ROOT = Path(__file__).resolve().parents[2]


def tool_command(tool: str) -> list[str]:
    """The command that runs a tool (a module of noisy_seg.cli, e.g. "train_net") in a process of its own: the
    installed package's, so a `pip install` needs no checkout."""
    return [sys.executable, "-m", f"noisy_seg.cli.{tool}"]


def quoted(text) -> str:
    """`text` as a quoted value of a key=value config override (paths with any character)."""
    return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'") + "'"


def training_command(config: str, opts: Sequence[str], output_dir, resume: bool = False) -> list[str]:
    """tools/train_net.py for the LazyConfig `config` with the overrides `opts`, into `output_dir`."""
    return [
        *tool_command("train_net"),
        "--config-file",
        str(config),
        *(["--resume"] if resume else []),
        *opts,
        f"train.output_dir={quoted(output_dir)}",
    ]


def training_settings(config: str, opts: Sequence[str]) -> dict:
    """What a training's run folder records: its command, less what does not change the run (the launcher,
    --resume, the output folder)."""
    return {"command": ["--config-file", str(config), *opts]}


def training_folder_problem(folder, config: str, opts: Sequence[str], flag: str = "training") -> Optional[str]:
    """Why a training of `config` with `opts` cannot run or continue in `folder` (None if it can); writes nothing."""
    return folder_problem(folder, flag, settings=training_settings(config, opts), resume=True)


@dataclass
class TrainingRun:
    folder: Path
    status: str  # "done", "reused" or "failed"
    metrics: dict
    minutes: float  # NaN when reused
    log: Path
    command: str  # as a shell would take it


def train_in_folder(
    config: str,
    opts: Sequence[str],
    output_dir,
    *,
    log_file=None,
    env: Optional[dict] = None,
    flag: str = "training",
    cwd=REPO_ROOT,
) -> TrainingRun:
    """Train `config` with `opts` into `output_dir` in a process of its own (its output appended to `log_file`,
    default <output_dir>/log.txt), or reuse the finished run there; UserInputError for a folder of another run."""
    path = Path(output_dir)
    folder = RunFolder.open(path, training_settings(config, opts), resume=True, flag=flag)
    command = training_command(config, opts, path, resume=folder.state == STARTED)
    printable = shlex.join(command)
    log = Path(log_file) if log_file else path / "log.txt"
    if folder.state == FINISHED:
        return TrainingRun(path, "reused", training_metrics(path), float("nan"), log, printable)
    write_atomic(path / "command.txt", printable + "\n")  # the exact command, for people and tables
    start = time.monotonic()
    code = run_tool(command, log, env=env, cwd=cwd)
    metrics = training_metrics(path)
    status = "done" if code == 0 and metrics else "failed"
    if status == "done":
        folder.finish()
    return TrainingRun(path, status, metrics, (time.monotonic() - start) / 60, log, printable)


def last_error_line(log_file) -> str:
    """The last line of a launched process's log that reads like an error (else its last line)."""
    lines = [line.strip() for line in Path(log_file).read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:") or "Error" in line]
    return (errors or lines or ["no output"])[-1]


def run_tool(command: Sequence[str], log_file, *, env: Optional[dict] = None, cwd=REPO_ROOT) -> int:
    """Run `command` with its output appended to `log_file` and no input; its exit code. `env`: default
    `training_environment()` (one process at a time)."""
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "a") as log:
        return subprocess.run(
            list(command),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env if env is not None else training_environment(),
        ).returncode


NO_PREDICTIONS = "no predictions"
_INSTANCE_METRICS = ("bbox/AP", "bbox/AP50", "segm/AP", "segm/AP50", "boundary/AP")


FG_CALLED_BACKGROUND = "fg RoIs called bg (%)"  # at the end of training: is the box classifier the bottleneck?


def training_metrics(folder: Path) -> dict:
    """The run's final evaluation. A model that predicts nothing gets NaN box AP from COCOEvaluator and no mask
    AP at all; it found no object, so its AP is 0, and it is flagged so tables can say so. Instance runs also get
    FG_CALLED_BACKGROUND: detectron2's last logged `fast_rcnn/false_negative` (a median over the log period)."""
    metrics = dict(final_metrics(folder))
    if "bbox/AP" in metrics and math.isnan(metrics["bbox/AP"]):
        metrics.update({key: 0.0 for key in _INSTANCE_METRICS}, **{NO_PREDICTIONS: True})
    shares = [
        row["fast_rcnn/false_negative"]
        for row in read_metrics(folder / "metrics.json")
        if "fast_rcnn/false_negative" in row
    ]
    if metrics and shares:
        metrics[FG_CALLED_BACKGROUND] = 100.0 * shares[-1]
    return metrics


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity, capped by a cgroup (v2) CPU quota, where a container has
    one (os.cpu_count() counts the host's)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return cpus


def cpu_threads_per_process(jobs: int = 1) -> int:
    """CPU threads for each of `jobs` processes that run at once: the usable CPUs shared out, at least 1. An
    OMP_NUM_THREADS the user set wins (e.g. 1 on a machine others use too)."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    return max(1, usable_cpus() // jobs)


def training_environment(jobs: int = 1) -> dict:
    """The environment of a training (or tool) subprocess, one of `jobs` at once: os.environ with its CPU threads
    set (`cpu_threads_per_process`), as torch's default, a thread per CPU of the host in every process,
    oversubscribes a shared CPU. Every place that starts trainings (the grid, the recipes, find_label_errors' folds,
    the benchmarks) takes its environment from here."""
    threads = str(cpu_threads_per_process(jobs))
    return {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
