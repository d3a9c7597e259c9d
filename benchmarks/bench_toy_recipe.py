#!/usr/bin/env python
"""Time the toy recipe against an earlier version of it, end to end (train + evaluate), in one run.

    python benchmarks/bench_toy_recipe.py                    # today's recipe vs the from-scratch one (355911b)
    python benchmarks/bench_toy_recipe.py --old-ref 267c712  # ... vs the 64-channel R18 recipe before it

The old configs are taken from git (`git archive <ref> configs`) into a temp folder and run with today's
tools/train_net.py, so only the recipe differs: model, batch, schedule. Each recipe trains once, on clean
labels, from its own default seed; the machine should be otherwise idle.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from noisy_seg.engine.launcher import tool_command, training_environment
from noisy_seg.engine.metrics import final_metrics

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG = "configs/toy/mask_rcnn_R18_FPN_ce.py"


def old_configs(ref: str, folder: Path) -> Path:
    """The `configs/` tree of `ref`, extracted under `folder`; returns the old toy config's path."""
    archive = folder / "configs.tar"
    with open(archive, "wb") as handle:
        subprocess.run(["git", "archive", ref, "configs"], cwd=REPO_ROOT, stdout=handle, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "old", filter="data")
    return folder / "old" / CONFIG


def timed_run(config: Path, output: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    subprocess.run(
        [*tool_command("train_net"), "--config-file", str(config), f"train.output_dir={output}"],
        cwd=REPO_ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=training_environment(),
    )
    return time.perf_counter() - start, final_metrics(output)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--old-ref",
        default="355911b",
        help="git ref of the old recipe (default: 355911b, the last recipe trained from scratch)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_toy_recipe_") as temp:
        folder = Path(temp)
        old = old_configs(args.old_ref, folder)
        results = {}
        for name, config in (("old", old), ("new", REPO_ROOT / CONFIG)):
            seconds, metrics = timed_run(config, folder / name)
            iters = json.loads((folder / name / "run_info.json").read_text())["max_iter"]
            results[name] = seconds
            print(
                f"{name} recipe ({config.relative_to(folder) if name == 'old' else CONFIG}): {iters} iterations, "
                f"{seconds / 60:.2f} min, mask AP {metrics.get('segm/AP', float('nan')):.1f}, "
                f"box AP {metrics.get('bbox/AP', float('nan')):.1f}",
                flush=True,
            )
        print(f"speed-up of the new recipe over the old ({args.old_ref}): {results['old'] / results['new']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
