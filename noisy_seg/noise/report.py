"""What the noise did to a dataset: realized rates, spatial op counts and the transition matrix, as text
(``format``) and json (``to_dict``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .mask_noise import CLEAN, OP_NAMES

__all__ = ["NoiseReport"]


@dataclass
class NoiseReport:
    """What the noise did to a dataset. Counts over noisable annotations (kept, not crowd)."""

    class_names: list[str]
    num_annotations: int
    num_crowd: int
    num_dropped: int
    num_noisable: int
    num_class_flipped: int
    transition_counts: np.ndarray  # int64 (K, K), clean x noisy, contiguous indices
    op_counts: dict[str, int] = field(default_factory=dict)

    @property
    def realized_class_rate(self) -> float:
        return self.num_class_flipped / self.num_noisable if self.num_noisable else 0.0

    def realized_transition_matrix(self) -> np.ndarray:
        """Row-normalized counts (K, K); rows of absent classes are zero."""
        totals = self.transition_counts.sum(axis=1, keepdims=True)
        return np.divide(self.transition_counts, totals, out=np.zeros(self.transition_counts.shape), where=totals > 0)

    def format(self, max_full_matrix: int = 20, top: int = 3) -> str:
        """Human-readable summary: rates, op counts, and the transition matrix with class names."""
        candidates = self.num_annotations - self.num_crowd
        drop_rate = self.num_dropped / candidates if candidates else 0.0
        lines = [
            f"annotations: {self.num_annotations} (crowd, never noised: {self.num_crowd}; "
            f"dropped: {self.num_dropped}, rate {drop_rate:.4f})",
            f"realized class-flip rate: {self.realized_class_rate:.4f} ({self.num_class_flipped}/{self.num_noisable})",
        ]
        spatial = {op: n for op, n in self.op_counts.items() if op != OP_NAMES[CLEAN] and n}
        if spatial:
            changed = sum(n for op, n in spatial.items() if op in OP_NAMES)
            rate = changed / self.num_noisable if self.num_noisable else 0.0
            lines.append(
                f"realized spatial rate: {rate:.4f} " + " ".join(f"{op}={n}" for op, n in sorted(spatial.items()))
            )
        if self.num_class_flipped:
            lines.append("realized transition matrix P(noisy | clean):")
            lines.extend(self._matrix_lines(max_full_matrix, top))
        return "\n".join(lines)

    def _matrix_lines(self, max_full_matrix: int, top: int) -> list[str]:
        matrix = self.realized_transition_matrix()
        counts = self.transition_counts.sum(axis=1)
        names = self.class_names
        width = max(len(n) for n in names)
        if len(names) <= max_full_matrix:
            column = max(6, max(len(n) for n in names))
            lines = [" " * width + " " + " ".join(n[:column].rjust(column) for n in names)]
            for i, name in enumerate(names):
                lines.append(name.ljust(width) + " " + " ".join(f"{v:{column}.3f}" for v in matrix[i]))
            return lines
        lines = []
        for i in np.flatnonzero(counts).tolist():  # large K: each class's stay rate and top flips
            row = matrix[i].copy()
            stay = row[i]
            row[i] = 0.0
            flips = [f"{names[j]} {row[j]:.3f}" for j in np.argsort(-row, kind="stable")[:top].tolist() if row[j] > 0]
            lines.append(
                f"{names[i].ljust(width)} n={counts[i]:<7d} stay {stay:.3f}"
                + (" -> " + ", ".join(flips) if flips else "")
            )
        return lines

    def to_dict(self) -> dict:
        """JSON-serializable form."""
        return {
            "class_names": list(self.class_names),
            "num_annotations": self.num_annotations,
            "num_crowd": self.num_crowd,
            "num_dropped": self.num_dropped,
            "num_noisable": self.num_noisable,
            "num_class_flipped": self.num_class_flipped,
            "realized_class_rate": self.realized_class_rate,
            "transition_counts": self.transition_counts.tolist(),
            "op_counts": dict(self.op_counts),
        }
