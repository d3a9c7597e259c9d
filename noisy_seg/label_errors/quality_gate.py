"""Whether the models behind an audit are good enough to act on: their held-out AP against a bar.

A label-error ranking is only as good as the model's view of the data. A model that has not learned its task (the
case this guards against: held-out mask AP 0.01, class AUROC 0.56 on flipped labels) calls most labels wrong, and a
correction that follows it breaks more labels than it restores. The tools put the held-out AP of the models that
scored the data in their summary (K-fold: each fold model on its held-out fold; a given checkpoint: on the config's
test set) and, below the bar, say plainly that the scores are unreliable and write no corrected json unless asked.

The bar, DEFAULT_MIN_HELDOUT_AP = 5 (COCO AP, 0-100; mask AP, or box AP without masks), is a floor, not a target:
the held-out AP is measured against the dataset's own labels, noise included, so it under-states the model. On the
toy data the 2-fold models whose rankings found flipped classes and bad masks well above cleanlab (AP 0.71 and
0.81) reached 13.0 and 8.7 held-out mask AP under sym40 and COCO-N medium noise (projects/LabelErrors); the model of
the case above, 0.01.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional

__all__ = ["DEFAULT_MIN_HELDOUT_AP", "quality_gate"]

DEFAULT_MIN_HELDOUT_AP = 5.0


def quality_gate(
    heldout_ap: Mapping[str, Optional[float]], *, metric: str, bar: float = DEFAULT_MIN_HELDOUT_AP
) -> dict:
    """{"metric", "bar", "models" ({name: AP, None when it was not measured}), "worst", "passed", "verdict"}: passed
    when every model's held-out AP is at least `bar` (a model that predicted nothing, NaN, counts as 0; one not
    measured fails: nothing says the scores can be trusted)."""
    models = {name: (0.0 if ap is not None and math.isnan(ap) else ap) for name, ap in heldout_ap.items()}
    measured = [ap for ap in models.values() if ap is not None]
    worst = min(measured) if measured and len(measured) == len(models) else None
    passed = worst is not None and worst >= bar
    if passed:
        verdict = f"held-out {metric} {worst:.1f} >= {bar:g} for every model: the scores can be acted on"
    elif worst is None:
        verdict = f"held-out {metric} not measured: the scores are unchecked and may be unreliable"
    else:
        verdict = (
            f"held-out {metric} {worst:.1f} < {bar:g}: the model has not learned its task well enough, the scores are "
            "unreliable and corrections following them may break more labels than they fix"
        )
    return {"metric": metric, "bar": bar, "models": models, "worst": worst, "passed": passed, "verdict": verdict}
