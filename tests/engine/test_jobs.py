"""engine.jobs: a grid of processes (trainings, tools) run `parallel` at a time, a failed one reported while the
others go on, a finished run folder reused, one progress line per job with an ETA."""

import math
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from noisy_seg.engine import jobs as jobs_module
from noisy_seg.engine.jobs import JobResult, ToolJob, run_jobs


@dataclass(frozen=True)
class FakeJob:
    name: str
    folder: Path
    fails: bool = False

    def run(self, env):
        assert env["OMP_NUM_THREADS"]  # every job gets its share of the CPU threads
        return JobResult(self.name, "failed" if self.fails else "done", 0.5, self.folder / "log", "cmd", self.folder)


def test_a_failed_job_is_reported_and_the_others_run(tmp_path):
    lines = []
    jobs = [FakeJob(f"job{i}", tmp_path / f"job{i}", fails=i == 1) for i in range(4)]
    results = run_jobs(jobs, parallel=2, title="fakes", report=lines.append)
    assert [r.name for r in results] == ["job0", "job1", "job2", "job3"]  # the jobs' order, whatever finished first
    assert [r.status for r in results] == ["done", "failed", "done", "done"]
    assert lines[0] == "fakes: 4 runs (0 finished before), 2 at a time"
    assert any(line.startswith("[") and "job1: failed (log:" in line for line in lines)
    assert len(lines) == 5 and all("ETA" in line for line in lines[1:]) and lines[-1].endswith("ETA 0.0 min")


def test_a_tool_job_is_done_when_its_folder_is_finished_and_reused_after(tmp_path, monkeypatch):
    script = "import sys; from noisy_seg.utils.run_folder import RunFolder; RunFolder.open(sys.argv[1], {}).finish()"
    monkeypatch.setattr(jobs_module, "tool_command", lambda tool: [sys.executable, "-c", script])
    job = ToolJob("writer", "any", (str(tmp_path / "out"),), tmp_path / "out", tmp_path / "log.txt")
    broken = ToolJob("broken", "any", (str(tmp_path / "file.txt"),), tmp_path / "never", tmp_path / "broken.txt")
    (tmp_path / "file.txt").write_text("a file, not a folder")
    first = run_jobs([job, broken], report=lambda line: None)
    assert [r.status for r in first] == ["done", "failed"] and not math.isnan(first[0].minutes)
    again = run_jobs([job], report=lambda line: None)
    assert again[0].status == "reused" and math.isnan(again[0].minutes)


def test_jobs_run_at_once_up_to_parallel(tmp_path):
    running, peak, lock = [0], [0], threading.Lock()
    both_started = threading.Barrier(2, timeout=10)

    @dataclass(frozen=True)
    class Waiting(FakeJob):
        def run(self, env):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            both_started.wait()  # deadlocks (times out) unless two run at once
            with lock:
                running[0] -= 1
            return super().run(env)

    results = run_jobs([Waiting(f"w{i}", tmp_path / f"w{i}") for i in range(2)], parallel=2, report=lambda s: None)
    assert peak[0] == 2 and [r.status for r in results] == ["done", "done"]


def test_each_job_holds_one_gpu_and_a_gpu_takes_its_share_of_jobs_at_once(tmp_path):
    """--gpus 0 1 --jobs-per-gpu 2: each job's process sees one GPU (CUDA_VISIBLE_DEVICES), never more than 2 jobs
    on one GPU at a time, and all 4 slots in use when 4 jobs run at once."""
    lock, running, peak, seen = threading.Lock(), {}, {}, []
    all_started = threading.Barrier(4, timeout=10)

    @dataclass(frozen=True)
    class OnGpu(FakeJob):
        def run(self, env):
            gpu = env["CUDA_VISIBLE_DEVICES"]
            with lock:
                seen.append(gpu)
                running[gpu] = running.get(gpu, 0) + 1
                peak[gpu] = max(peak.get(gpu, 0), running[gpu])
            if len(seen) <= 4:
                all_started.wait()  # the first 4 run together: every slot is taken
            with lock:
                running[gpu] -= 1
            return super().run(env)

    jobs = [OnGpu(f"g{i}", tmp_path / f"g{i}") for i in range(6)]
    results = run_jobs(jobs, parallel=4, report=lambda line: None, gpus=["0", "1"], jobs_per_gpu=2)
    assert [r.status for r in results] == ["done"] * 6 and sorted(set(seen)) == ["0", "1"]
    assert peak == {"0": 2, "1": 2}


def test_gpu_flags_are_checked_at_the_boundary():
    from types import SimpleNamespace

    import pytest

    from noisy_seg.engine.jobs import check_gpu_arguments
    from noisy_seg.utils.errors import UserInputError

    def flags(**kwargs):
        return SimpleNamespace(**{"gpus": [], "jobs_per_gpu": 1, "jobs": None, **kwargs})

    assert check_gpu_arguments(flags()) == 1 and check_gpu_arguments(flags(gpus=["0", "1"], jobs_per_gpu=2)) == 4
    assert check_gpu_arguments(flags(gpus=["0"], jobs=3)) == 3
    for bad, message in (
        (flags(gpus=["0", "0"]), "distinct GPU ids"),
        (flags(gpus=["cuda:0"]), "distinct GPU ids"),
        (flags(jobs_per_gpu=2), "--jobs-per-gpu needs --gpus"),
        (flags(gpus=["0"], jobs_per_gpu=0), "--jobs-per-gpu must be at least 1"),
        (flags(jobs=0), "--jobs must be at least 1"),
    ):
        with pytest.raises(UserInputError, match=message):
            check_gpu_arguments(bad)
