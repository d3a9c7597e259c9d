#!/usr/bin/env python
"""What relabelling would restore and break on the audit's saved evidence, per policy: the tool's (one run's
out-of-sample posteriors: confident learning flags the class, the suggestion is applied above a probability bar),
the same on the mean posteriors of several runs (an ensemble), and two runs agreeing on the same suggestion.

    python benchmarks/audit_relabel_policies.py output/audit_evidence/seed0 output/audit_evidence/seed1 \\
        output/audit_evidence/seed2 [--bars 0.5 0.6 0.7]

Each folder is a label-error-evidence run (instance part, `noisy-seg label-error-evidence --parts instance --seed N`):
its noisy copies (sym40, coco_n_medium, drop20) are the same in every run (the noise has its own seed); the runs
differ in the fold split and the training seed, so their posteriors are independently trained out-of-sample views
of the same labels. From each run's evidence shards (the fold models' class posteriors, background last) and
scores.json (the clean label of every annotation): restored = a flipped label set back to its clean class, broken =
a clean label changed. The question it answers: can any of these policies relabel on noisy data without breaking
labels where there is no class noise (drop20)?
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from noisy_seg.label_errors.filter import find_class_issues
from noisy_seg.label_errors.rank import foreground_probs
from noisy_seg.pseudo_labels.evidence import class_evidence
from noisy_seg.utils.columns import load_tables

SETTINGS = ("sym40", "coco_n_medium", "drop20")


def load_run(folder: Path, setting: str):
    """(annotation ids, given classes, (N, K + 1) posteriors, clean classes; contiguous, -1: unknown), by id."""
    root = folder / "instance" / setting
    parts = [load_tables(shard)[0]["rows"] for shard in sorted(root.glob("evidence/fold*/shard-*"))]
    if not parts:
        raise SystemExit(f"{root}: no evidence shards (run label-error-evidence --parts instance first)")
    ids = np.concatenate([np.asarray(p["id"]) for p in parts])
    given = np.concatenate([np.asarray(p["given"]) for p in parts])
    probs = np.concatenate([np.asarray(p["class_probs"], np.float64) for p in parts])
    order = np.argsort(ids)
    ids, given, probs = ids[order], given[order], probs[order]
    scores = {row["annotation_id"]: row for row in json.loads((root / "scores.json").read_text())}
    to_contiguous = {scores[int(i)]["given_category_id"]: int(g) for i, g in zip(ids, given)}
    clean = np.array([to_contiguous.get(scores[int(i)].get("clean_category_id"), -1) for i in ids])
    return ids, given, probs, clean


def relabel(given: np.ndarray, probs: np.ndarray, bar: float) -> np.ndarray:
    """The suggested class where the tool's policy relabels, else the given class."""
    flagged, _ = find_class_issues(given, foreground_probs(probs), method="confident_learning")
    _, best_other, best_other_prob = class_evidence(torch.from_numpy(probs), torch.from_numpy(given))
    return np.where(flagged & (best_other_prob.numpy() > bar), best_other.numpy(), given)


def counts(given, corrected, clean) -> str:
    changed = corrected != given
    return f"{int((changed & (corrected == clean)).sum())} / {int((changed & (given == clean)).sum())}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="label-error-evidence output folders (2 or more)")
    parser.add_argument("--bars", type=float, nargs="+", default=[0.5, 0.6, 0.7], help="relabel probability bars")
    args = parser.parse_args(argv)
    if len(args.runs) < 2:
        parser.error("give at least 2 runs: the ensemble and agreement policies compare runs")
    print("restored / broken labels per policy and bar (a run: its index among the folders given)\n")
    for setting in SETTINGS:
        runs = [load_run(folder, setting) for folder in args.runs]
        ids, given, _, clean = runs[0]
        if any(not np.array_equal(run[0], ids) or not np.array_equal(run[1], given) for run in runs[1:]):
            raise SystemExit(f"{setting}: the runs scored other annotations or labels; give runs of one noisy copy")
        print(f"## {setting} ({int((given != clean).sum())} of {len(given)} labels flipped)\n")
        print("| policy | " + " | ".join(f"bar {bar}" for bar in args.bars) + " |")
        print("|---|" + "---|" * len(args.bars))
        singles = {bar: [relabel(given, run[2], bar) for run in runs] for bar in args.bars}
        for index in range(len(runs)):
            print(f"| run {index} | " + " | ".join(counts(given, singles[b][index], clean) for b in args.bars) + " |")
        for size in range(2, len(runs) + 1):
            for combo in itertools.combinations(range(len(runs)), size):
                mean = np.mean([runs[i][2] for i in combo], axis=0)
                cells = [counts(given, relabel(given, mean, bar), clean) for bar in args.bars]
                print(f"| mean posteriors of runs {combo} | " + " | ".join(cells) + " |")
        for a, b in itertools.combinations(range(len(runs)), 2):
            cells = []
            for bar in args.bars:
                first, second = singles[bar][a], singles[bar][b]
                cells.append(counts(given, np.where(first == second, first, given), clean))
            print(f"| runs {a} and {b} agree | " + " | ".join(cells) + " |")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
