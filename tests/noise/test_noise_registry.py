import subprocess
import sys

import numpy as np
import pytest

from noisy_seg.noise.class_noise import AsymmetricNoise, PairFlipNoise, SymmetricNoise, TransitionMatrixNoise
from noisy_seg.noise.instance_dependent import InstanceDependentNoise
from noisy_seg.noise.registry import build_class_noise, build_noise, build_semantic_noise
from noisy_seg.noise.semantic_noise import SemanticNoise


def test_build_class_noise_types_and_parameters():
    sym = build_class_noise({"type": "symmetric", "rate": 0.4, "seed": 3}, 10)
    assert isinstance(sym, SymmetricNoise) and (sym.rate, sym.num_classes, sym.seed) == (0.4, 10, 3)
    asym = build_class_noise({"type": "asymmetric", "rate": 0.2, "preset": "cityscapes"}, 8)
    assert isinstance(asym, AsymmetricNoise) and asym.seed == 0
    mapped = build_class_noise({"type": "asymmetric", "rate": 1.0, "mapping": {"0": [1, 2], "3": 0}}, 4)
    np.testing.assert_allclose(mapped.expected_transition_matrix()[0], [0, 0.5, 0.5, 0])
    assert isinstance(build_class_noise({"type": "pair_flip", "rate": 0.1}, 5), PairFlipNoise)
    matrix = build_class_noise({"type": "transition_matrix", "matrix": [[0.9, 0.1], [0.2, 0.8]]}, 2)
    assert isinstance(matrix, TransitionMatrixNoise)
    idn = build_class_noise({"type": "instance_dependent", "rate": 0.3, "feature_size": [4, 4]}, 3)
    assert isinstance(idn, InstanceDependentNoise) and idn.feature_size == (4, 4)


def test_spatial_spec_brings_the_benchmarks_uniform_mix_class_noise():
    pipeline = build_noise({"type": "spatial", "preset": "medium", "seed": 5}, 8)
    assert pipeline.spatial_noise.kernel == 5 and pipeline.spatial_noise.p == 0.25
    assert isinstance(pipeline.class_noise, SymmetricNoise) and pipeline.class_noise.rate == 0.3
    assert pipeline.class_noise.include_true and pipeline.class_noise.seed == 5
    override = build_noise({"type": "spatial", "preset": "easy", "p": 0.3, "class_rate": 0.0}, 8)
    assert override.spatial_noise.p == 0.3 and override.class_noise is None
    explicit = build_noise({"type": "spatial", "p": 0.1, "kernel": 3, "jitter_sigma": 1, "simplify_tolerance": 2}, 8)
    assert explicit.class_noise is None and explicit.spatial_noise.kernel == 3


def test_list_specs_compose_and_none_is_empty():
    pipeline = build_noise([{"type": "asymmetric", "rate": 0.2, "preset": "voc"}, {"type": "drop", "rate": 0.1}], 20)
    assert pipeline.drop_noise.rate == 0.1 and isinstance(pipeline.class_noise, AsymmetricNoise)
    empty = build_noise({"type": "none"}, 3)
    assert empty.class_noise is None and empty.spatial_noise is None and empty.drop_noise is None


def test_build_semantic_noise():
    noise = build_semantic_noise({"type": "semantic", "rate": 0.2, "background_label": 0, "ops": ["ignore"]}, 21)
    assert isinstance(noise, SemanticNoise) and noise.ops == ("ignore",) and noise.background_label == 0


@pytest.mark.parametrize(
    "spec, num_classes, message",
    [
        ({"type": "symmetric", "rate": 1.5}, 5, r"rate must be in \[0, 1\]"),
        ({"type": "symmetric"}, 5, "needs key"),
        ({"type": "symmetric", "rate": 0.1, "rtae": 0.2}, 5, "unknown key"),
        ({"type": "gaussian", "rate": 0.1}, 5, "unknown noise type"),
        ({"rate": 0.1}, 5, "unknown noise type"),
        ({"type": "asymmetric", "rate": 0.1, "preset": "kitti"}, 8, "unknown asymmetric preset"),
        ({"type": "asymmetric", "rate": 0.1, "mapping": {"0": 7}}, 5, "outside"),
        ({"type": "asymmetric", "rate": 0.1, "mapping": {"person": 1}}, 5, "not a class index"),
        ({"type": "transition_matrix", "matrix": [[1.0]]}, 5, "dataset has 5 classes"),
        ({"type": "spatial", "preset": "brutal"}, 5, "unknown spatial preset"),
        ({"type": "spatial", "preset": "easy", "kernel": 3}, 5, "not both"),
        ({"type": "spatial", "p": 0.1}, 5, "missing"),
        ([{"type": "symmetric", "rate": 0.1}, {"type": "spatial", "preset": "easy"}], 5, "two class noise"),
        ("symmetric", 5, "unknown noise name 'symmetric'"),
        (3, 5, "spec must be a dict"),
        ({"type": "semantic", "rate": 0.1}, 5, "is for semantic label maps"),
    ],
)
def test_invalid_specs_raise_one_line_value_error(spec, num_classes, message):
    with pytest.raises(ValueError, match=message) as info:
        build_noise(spec, num_classes)
    assert "\n" not in str(info.value)


def test_noise_package_imports_neither_detectron2_nor_torch():
    code = "import sys, noisy_seg.noise; print(sorted({'detectron2', 'torch'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_new_class_noise_model_is_one_class_and_one_registration(tmp_path):
    """What adding a noise model takes: a model (here: every label becomes class 0 with probability rate) and
    one register_noise line; then it has a spec type, short names, and the offline tool takes it."""
    from dataclasses import dataclass

    from noisy_seg.noise import NOISE_REGISTRY, ClassNoise, apply_noise_to_coco, named_noise_spec, register_noise

    @dataclass(frozen=True, eq=False)
    class ToZeroNoise(ClassNoise):
        rate: float
        num_classes: int
        seed: int = 0

        def __post_init__(self):
            targets = np.zeros((self.num_classes, self.num_classes))
            targets[1:, 0] = 1.0
            self._set_tables(np.full(self.num_classes, self.rate), targets)

    register_noise("to_zero", "class_noise", ToZeroNoise, short="tozero")
    try:
        assert named_noise_spec("tozero50_s2") == {"type": "to_zero", "rate": 0.5, "seed": 2}
        pipeline = build_noise("tozero100", 4)
        assert isinstance(pipeline.class_noise, ToZeroNoise)
        dataset = {
            "images": [{"id": 1, "height": 10, "width": 10, "file_name": "a.png"}],
            "annotations": [{"id": i, "image_id": 1, "category_id": 1 + i % 4, "bbox": [i, 0, 2, 2]} for i in range(8)],
            "categories": [{"id": c, "name": str(c)} for c in range(1, 5)],
        }
        noisy, report = apply_noise_to_coco(dataset, {"type": "to_zero", "rate": 1.0}, images_root=None)
        assert {a["category_id"] for a in noisy["annotations"]} == {1} and report.num_class_flipped == 6
        with pytest.raises(ValueError, match="unknown key"):
            build_noise({"type": "to_zero", "rate": 0.1, "p": 2}, 4)
        with pytest.raises(ValueError, match="already registered"):
            register_noise("to_zero", "class_noise", ToZeroNoise)
    finally:
        NOISE_REGISTRY.pop("to_zero", None)


def test_a_new_model_file_registers_itself_with_no_other_edit(tmp_path):
    """A copy of the package with one new file in noise/: its noise type is known after `import noisy_seg.noise`."""
    import shutil
    from pathlib import Path

    import noisy_seg

    copy = tmp_path / "noisy_seg"
    shutil.copytree(Path(noisy_seg.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "noise" / "always_zero.py").write_text(
        "from .registry import register_noise\n\n\n"
        "def always_zero(num_classes, rate, seed=0):\n    return None\n\n\n"
        "register_noise('always_zero', 'class_noise', always_zero, short='zero')\n"
    )
    code = "import noisy_seg.noise as n; print(n.named_noise_spec('zero30'))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": ""},
    )
    assert result.stdout.strip() == "{'type': 'always_zero', 'rate': 0.3, 'seed': 0}"
