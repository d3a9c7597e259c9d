"""Short names for common noise settings, so a config or command line can say `noise=sym40`.

    clean                     no noise
    sym{NN}                   symmetric class noise, exactly NN% of labels flipped (sym20, sym40, sym60, sym80)
    symmix{NN}                the papers' "Sym NN" (Yang et al. 2020, COCO-N's uniform_mix_C): NN% of labels are
                              redrawn uniformly over ALL K classes, the true one included, so NN% * (K-1)/K
                              are flipped (35% for symmix40 on Cityscapes' 8 classes)
    asym{NN}_{preset}         asymmetric class noise with a preset: cityscapes, coco, voc (asym40_cityscapes)
    pairflip{NN}              class k -> k+1
    idn{NN}                   instance-dependent class noise (Xia et al.)
    drop{NN}                  NN% of annotations missing
    coco_n_{level}            COCO-N / Cityscapes-N spatial + class noise: easy, medium, hard
                              (60 / 75 / 90% of annotations spatially corrupted, class noise r = 0.2 / 0.3 / 0.4)
A name ending in `_s{SEED}` sets the seed (default 0): `sym40_s1`.
"""
from __future__ import annotations

import re

__all__ = ["named_noise_spec", "NAMED_NOISE_EXAMPLES"]

NAMED_NOISE_EXAMPLES = ("clean", "sym20", "sym40", "sym60", "sym80", "symmix40", "asym20_cityscapes", "asym40_coco",
                        "pairflip20", "idn40", "drop30", "coco_n_easy", "coco_n_medium", "coco_n_hard")
_RATE_TYPES = {"sym": "symmetric", "symmix": "symmetric", "pairflip": "pair_flip", "idn": "instance_dependent",
               "drop": "drop"}
_PATTERN = re.compile(
    r"^(?:(?P<kind>symmix|sym|pairflip|idn|drop)(?P<rate>\d{1,3})"
    r"|asym(?P<arate>\d{1,3})_(?P<preset>[a-z]+)"
    r"|coco_n_(?P<level>easy|medium|hard)"
    r"|(?P<clean>clean))(?:_s(?P<seed>\d+))?$"
)


def named_noise_spec(name: str):
    """A `build_noise` spec (dict, or None for "clean") for a short noise name."""
    m = _PATTERN.match(name) if isinstance(name, str) else None
    if m is None:
        raise ValueError(f"unknown noise name {name!r}; examples: {', '.join(NAMED_NOISE_EXAMPLES)} "
                         "(optionally with _s<seed>), or pass a dict spec")
    seed = int(m["seed"] or 0)
    if m["clean"]:
        return None
    if m["level"]:
        return {"type": "spatial", "preset": m["level"], "seed": seed}
    rate = int(m["rate"] or m["arate"])
    if rate > 100:
        raise ValueError(f"noise name {name!r}: the rate must be a percentage in [0, 100]")
    if m["preset"]:
        return {"type": "asymmetric", "rate": rate / 100, "preset": m["preset"], "seed": seed}
    spec = {"type": _RATE_TYPES[m["kind"]], "rate": rate / 100, "seed": seed}
    if m["kind"] == "symmix":
        spec["include_true"] = True
    return spec
