"""A checkpoint save killed mid-write (SIGKILL) leaves its hidden temp file, tens of MB, beside the run's
checkpoints; the next run's first save removes it (issue 21, item 3)."""

import torch

from noisy_seg.engine.checkpoint import SafeCheckpointer
from noisy_seg.utils.files import TEMP_PREFIX


def test_the_next_runs_first_save_removes_a_killed_saves_temp_file(tmp_path, writer_in_another_process):
    killed, stale = writer_in_another_process(tmp_path / "model_0000009.pth")
    killed.kill()
    killed.wait()
    assert stale.is_file() and stale.name.startswith(f"{TEMP_PREFIX}model_0000009.pth.")

    SafeCheckpointer(torch.nn.Linear(2, 2), str(tmp_path)).save("model_0000019")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last_checkpoint", "model_0000019.pth"]
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000019.pth"
