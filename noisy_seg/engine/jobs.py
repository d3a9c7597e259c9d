"""Grids of processes: independent runs, each a process that writes a run folder of its own (a training, or a tool
such as find-label-errors), run `parallel` at a time on a shared CPU (`training_environment` splits the threads), a
finished one reused, a failed one reported with its log while the others go on, progress with an ETA. The loss x
noise x seed grid (grid.py), K-fold's fold trainings and the label-error evidence runner are grids of these jobs.

    jobs = [TrainingJob("fold0", config, opts, Path("out/fold0")), ToolJob("sym40", "find_label_errors", args, ...)]
    results = run_jobs(jobs, parallel=2, title="evidence")   # one JobResult per job, in the jobs' order
"""

from __future__ import annotations

import contextlib
import queue
import shlex
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Protocol, Sequence

from ..utils.errors import UserInputError
from ..utils.run_folder import FINISHED, run_state
from .launcher import run_tool, tool_command, train_in_folder, training_environment

__all__ = [
    "DeviceSlots",
    "Job",
    "JobResult",
    "ToolJob",
    "TrainingJob",
    "add_gpu_arguments",
    "check_gpu_arguments",
    "run_jobs",
]


@dataclass
class JobResult:
    name: str
    status: str  # "done", "reused" (finished before) or "failed"
    minutes: float  # NaN when reused
    log: Path
    command: str  # as a shell would take it
    folder: Path
    metrics: dict = field(default_factory=dict)  # a training's final metrics


class Job(Protocol):
    name: str
    folder: Path

    def run(self, env: dict) -> JobResult: ...


@dataclass(frozen=True)
class TrainingJob:
    """tools/train_net.py for `config` with `opts` into the run folder `folder` (engine.launcher.train_in_folder: a
    finished run reused, an interrupted one resumed, another command's folder refused)."""

    name: str
    config: str
    opts: tuple[str, ...]
    folder: Path
    log_file: Optional[Path] = None  # default <folder>/log.txt
    flag: str = "training"  # how error lines name the folder

    def run(self, env: dict) -> JobResult:
        run = train_in_folder(
            self.config, list(self.opts), self.folder, log_file=self.log_file, env=env, flag=self.flag
        )
        return JobResult(self.name, run.status, run.minutes, run.log, run.command, run.folder, run.metrics)


@dataclass(frozen=True)
class ToolJob:
    """A command of noisy_seg.cli (`tool`, e.g. "find_label_errors") whose `args` make it write the run folder
    `folder`: reused when that folder is finished; done when the tool exits 0 and marks it finished."""

    name: str
    tool: str
    args: tuple[str, ...]
    folder: Path
    log_file: Path

    def run(self, env: dict) -> JobResult:
        command = [*tool_command(self.tool), *self.args]
        printable = shlex.join(command)
        if run_state(self.folder) == FINISHED:
            return JobResult(self.name, "reused", float("nan"), self.log_file, printable, self.folder)
        start = time.monotonic()
        code = run_tool(command, self.log_file, env=env)
        status = "done" if code == 0 and run_state(self.folder) == FINISHED else "failed"
        return JobResult(self.name, status, (time.monotonic() - start) / 60, self.log_file, printable, self.folder)


class DeviceSlots:
    """GPUs handed to jobs: each GPU takes `jobs_per_gpu` jobs at once; a job runs with CUDA_VISIBLE_DEVICES set to
    the GPU it holds, so its process sees that one GPU as cuda:0."""

    def __init__(self, gpus: Sequence[str], jobs_per_gpu: int = 1):
        self._free: queue.Queue = queue.Queue()
        for _ in range(jobs_per_gpu):
            for gpu in gpus:
                self._free.put(str(gpu))

    @contextlib.contextmanager
    def hold(self, env: dict):
        gpu = self._free.get()  # blocks while every GPU runs its share of jobs
        try:
            yield {**env, "CUDA_VISIBLE_DEVICES": gpu}
        finally:
            self._free.put(gpu)


def _run(job: Job, env: dict, slots: Optional[DeviceSlots]) -> JobResult:
    if slots is None:
        return job.run(env)
    with slots.hold(env) as job_env:
        return job.run(job_env)


def run_jobs(
    jobs: Sequence[Job],
    parallel: int = 1,
    *,
    title: str = "jobs",
    report: Callable[[str], None] = print,
    describe: Callable[[JobResult], str] = lambda result: "",
    gpus: Sequence[str] = (),
    jobs_per_gpu: int = 1,
) -> list[JobResult]:
    """Run (or reuse) every job, `parallel` at a time; one progress line per job (`describe` adds to it, e.g. its
    metric) with the elapsed time and an ETA. Returns one JobResult per job, in the jobs' order. `gpus` (ids as
    CUDA_VISIBLE_DEVICES names them): each job runs on one of them, at most `jobs_per_gpu` jobs per GPU at once."""
    env = training_environment(parallel)  # the jobs share the CPUs
    slots = DeviceSlots(gpus, jobs_per_gpu) if gpus else None
    todo = {index for index, job in enumerate(jobs) if run_state(job.folder) != FINISHED}
    report(f"{title}: {len(jobs)} runs ({len(jobs) - len(todo)} finished before), {parallel} at a time")
    results: dict[int, JobResult] = {}
    start, durations = time.monotonic(), []
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = {pool.submit(_run, job, env, slots): index for index, job in enumerate(jobs)}
        for future in as_completed(futures):
            result = results[futures[future]] = future.result()
            if result.status != "reused":
                durations.append(result.minutes)
            left = len(todo - results.keys())
            if durations or not left:
                eta = f"{(sum(durations) / len(durations) if durations else 0.0) * left / parallel:.1f} min"
            else:
                eta = "known after the first run"
            report(
                f"[{len(results)}/{len(jobs)}] {result.name}: {result.status}{describe(result)}"
                + (f" (log: {result.log})" if result.status == "failed" else "")
                + f" | elapsed {(time.monotonic() - start) / 60:.1f} min, ETA {eta}"
            )
    return [results[index] for index in range(len(jobs))]


def add_gpu_arguments(parser) -> None:
    """--gpus / --jobs-per-gpu of a tool that runs a grid of jobs."""
    parser.add_argument(
        "--gpus", nargs="+", default=[], help="GPU ids for the jobs, each job on one (CUDA_VISIBLE_DEVICES), e.g. 0 1"
    )
    parser.add_argument("--jobs-per-gpu", type=int, default=1, help="jobs one GPU runs at once (default 1)")


def check_gpu_arguments(args) -> int:
    """The GPU flags make sense (one error line); returns how many jobs run at once: --jobs, else every GPU's
    share (--gpus x --jobs-per-gpu), else 1."""
    if any(not str(gpu).isdigit() for gpu in args.gpus) or len(set(args.gpus)) != len(args.gpus):
        raise UserInputError(f"--gpus takes distinct GPU ids (0, 1, ...), got {' '.join(map(str, args.gpus))}")
    if args.jobs_per_gpu < 1:
        raise UserInputError(f"--jobs-per-gpu must be at least 1, got {args.jobs_per_gpu}")
    if args.jobs_per_gpu > 1 and not args.gpus:
        raise UserInputError("--jobs-per-gpu needs --gpus (the GPUs to share)")
    jobs = args.jobs if args.jobs is not None else (len(args.gpus) * args.jobs_per_gpu if args.gpus else 1)
    if jobs < 1:
        raise UserInputError(f"--jobs must be at least 1, got {jobs}")
    return jobs
