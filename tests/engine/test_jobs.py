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
