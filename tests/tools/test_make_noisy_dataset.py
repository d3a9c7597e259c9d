import json
import subprocess
import sys

import cv2
import numpy as np
import orjson
import pytest

from noisy_seg.cli import make_noisy_dataset
from noisy_seg.noise.pipeline import NoisePipeline
from noisy_seg.noise.presets import CITYSCAPES_THING_CLASSES, COCO_THING_CATEGORIES
from noisy_seg.noise.registry import build_noise


def coco_dataset(categories, num_images=30, per_image=6, seed=0):
    rng = np.random.default_rng(seed)
    images = [{"id": i + 1, "file_name": f"{i + 1:06d}.png", "height": 64, "width": 96} for i in range(num_images)]
    annotations = []
    ids = [c["id"] for c in categories]
    for image in images:
        for _ in range(per_image):
            x, y = rng.uniform(2, 50), rng.uniform(2, 30)
            polygon = np.round([x, y, x + 30, y, x + 30, y + 20, x, y + 20], 2).tolist()
            annotations.append(
                {
                    "id": 10 * len(annotations) + 7,
                    "image_id": image["id"],
                    "category_id": int(rng.choice(ids)),
                    "bbox": [round(x, 2), round(y, 2), 30.0, 20.0],
                    "segmentation": [polygon],
                    "area": 600.0,
                    "iscrowd": 0,
                }
            )
    return {"info": {"year": 2024}, "images": images, "annotations": annotations, "categories": categories}


CITYSCAPES_CATEGORIES = [{"id": 24 + i, "name": n} for i, n in enumerate(CITYSCAPES_THING_CLASSES)]


@pytest.fixture
def coco_file(tmp_path):
    path = tmp_path / "instances.json"
    path.write_bytes(orjson.dumps(coco_dataset(CITYSCAPES_CATEGORIES)))
    return path


def run_tool(*args):
    return subprocess.run(
        [sys.executable, make_noisy_dataset.__file__, *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_symmetric_noise_writes_same_ids_with_clean_labels_and_tags(coco_file, tmp_path, capsys):
    output = tmp_path / "noisy.json"
    assert (
        make_noisy_dataset.main(
            ["--input", str(coco_file), "--output", str(output), "--noise", "symmetric", "--rate", "0.4", "--seed", "1"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    source, noisy = orjson.loads(coco_file.read_bytes()), orjson.loads(output.read_bytes())
    assert noisy["images"] == source["images"] and noisy["info"] == source["info"]
    assert [a["id"] for a in noisy["annotations"]] == [a["id"] for a in source["annotations"]]
    flips = 0
    for old, new in zip(source["annotations"], noisy["annotations"]):
        assert new["clean_category_id"] == old["category_id"]
        assert new["noise"] == ("class_flip" if new["category_id"] != old["category_id"] else "clean")
        flips += new["noise"] == "class_flip"
    assert 0.25 < flips / len(source["annotations"]) < 0.55
    assert f"realized class-flip rate: {flips / len(source['annotations']):.4f}" in printed
    assert "motorcycle" in printed and "P(noisy | clean)" in printed


def test_output_equals_the_on_the_fly_pipeline(coco_file, tmp_path):
    output = tmp_path / "noisy.json"
    make_noisy_dataset.main(
        [
            "--input",
            str(coco_file),
            "--output",
            str(output),
            "--noise",
            "spatial",
            "--preset",
            "hard",
            "--seed",
            "4",
            "--no-progress",
        ]
    )
    pipeline = build_noise({"type": "spatial", "preset": "hard", "seed": 4}, len(CITYSCAPES_THING_CLASSES))
    assert isinstance(pipeline, NoisePipeline)
    source, noisy = orjson.loads(coco_file.read_bytes()), orjson.loads(output.read_bytes())
    by_id = {a["id"]: a for a in noisy["annotations"]}
    for image in source["images"]:
        anns = [
            dict(a, category_id=a["category_id"] - 24) for a in source["annotations"] if a["image_id"] == image["id"]
        ]
        for expected in pipeline.apply_to_annotations(anns, image["id"], (image["height"], image["width"])):
            written = by_id[expected["id"]]
            assert written["category_id"] - 24 == expected["category_id"]
            assert (written["noise"], written["segmentation"], written["bbox"]) == (
                expected["noise"],
                expected["segmentation"],
                expected["bbox"],
            )
    assert {a["noise"] for a in noisy["annotations"]} & {"dilate", "erode", "jitter", "simplify"}


@pytest.mark.slow
def test_same_seed_reproduces_across_processes_and_other_seed_differs(coco_file, tmp_path):
    outputs = []
    for seed, name in ((3, "a.json"), (3, "b.json"), (4, "c.json")):
        result = run_tool(
            "--input", coco_file, "--output", tmp_path / name, "--noise", "pair_flip", "--rate", "0.5", "--seed", seed
        )
        assert result.returncode == 0, result.stderr
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1] and outputs[0] != outputs[2]


def test_drop_removes_annotations_and_reports_how_many(coco_file, tmp_path, capsys):
    output = tmp_path / "dropped.json"
    make_noisy_dataset.main(["--input", str(coco_file), "--output", str(output), "--noise", "drop", "--rate", "0.3"])
    source, noisy = orjson.loads(coco_file.read_bytes()), orjson.loads(output.read_bytes())
    dropped = len(source["annotations"]) - len(noisy["annotations"])
    assert dropped > 0 and f"dropped: {dropped}," in capsys.readouterr().out
    assert {a["id"] for a in noisy["annotations"]} < {a["id"] for a in source["annotations"]}


def test_asymmetric_preset_and_mapping_file(tmp_path, capsys):
    coco_categories = [{"id": cid, "name": name, "supercategory": sup} for cid, name, sup in COCO_THING_CATEGORIES]
    source_path = tmp_path / "coco.json"
    source_path.write_bytes(orjson.dumps(coco_dataset(coco_categories, num_images=60)))
    output = tmp_path / "coco_asym.json"
    make_noisy_dataset.main(
        [
            "--input",
            str(source_path),
            "--output",
            str(output),
            "--noise",
            "asymmetric",
            "--preset",
            "coco",
            "--rate",
            "1.0",
        ]
    )
    supercategory = {cid: sup for cid, _, sup in COCO_THING_CATEGORIES}
    for ann in orjson.loads(output.read_bytes())["annotations"]:
        assert supercategory[ann["category_id"]] == supercategory[ann["clean_category_id"]]
        assert (ann["category_id"] == 1) == (ann["clean_category_id"] == 1)  # person stays person
    mapping = tmp_path / "mapping.json"
    mapping.write_bytes(orjson.dumps({"24": [25], "26": 27}))  # dataset ids: person -> rider, car -> truck
    city = tmp_path / "city.json"
    city.write_bytes(orjson.dumps(coco_dataset(CITYSCAPES_CATEGORIES)))
    make_noisy_dataset.main(
        [
            "--input",
            str(city),
            "--output",
            str(tmp_path / "city_map.json"),
            "--noise",
            "asymmetric",
            "--mapping",
            str(mapping),
            "--rate",
            "1.0",
        ]
    )
    for ann in orjson.loads((tmp_path / "city_map.json").read_bytes())["annotations"]:
        expected = {24: 25, 26: 27}.get(ann["clean_category_id"], ann["clean_category_id"])
        assert ann["category_id"] == expected


def test_instance_dependent_reads_images_from_images_root(coco_file, tmp_path):
    source = orjson.loads(coco_file.read_bytes())
    rng = np.random.default_rng(0)
    for image in source["images"]:
        cv2.imwrite(str(tmp_path / image["file_name"]), rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    output = tmp_path / "idn.json"
    result = run_tool(
        "--input",
        coco_file,
        "--output",
        output,
        "--noise",
        "instance_dependent",
        "--rate",
        "0.5",
        "--images-root",
        tmp_path,
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    tags = [a["noise"] for a in orjson.loads(output.read_bytes())["annotations"]]
    assert 0.3 < tags.count("class_flip") / len(tags) < 0.7


@pytest.mark.parametrize("source", ["json", "png"])
def test_cityscapes_input_goes_through_detectron2_loader_either_way(tmp_path, monkeypatch, source):
    import detectron2.data.datasets.cityscapes as cityscapes

    image_dir, gt_dir = tmp_path / "leftImg8bit" / "train", tmp_path / "gtFine" / "train"
    image_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    dicts = []
    for i in range(20):
        annotations = [
            {
                "category_id": int(c),
                "iscrowd": False,
                "bbox": [5.0 + j, 5.0, 40.0 + j, 30.0],
                "bbox_mode": 0,
                "segmentation": [[5.0 + j, 5.0, 40.0 + j, 5.0, 40.0 + j, 30.0, 5.0 + j, 30.0]],
            }
            for j, c in enumerate(np.random.default_rng(i).integers(0, 8, 6))
        ]
        dicts.append(
            {
                "file_name": str(image_dir / "aachen" / f"aachen_{i:06d}_000019_leftImg8bit.png"),
                "image_id": f"aachen_{i:06d}_000019_leftImg8bit.png",
                "height": 64,
                "width": 96,
                "annotations": annotations,
            }
        )
    calls = []
    monkeypatch.setattr(
        cityscapes, "load_cityscapes_instances", lambda *args, **kwargs: calls.append((args, kwargs)) or dicts
    )
    output = tmp_path / "cityscapes_noisy.json"
    make_noisy_dataset.main(
        [
            "--input",
            str(image_dir),
            "--gt-dir",
            str(gt_dir),
            "--output",
            str(output),
            "--noise",
            "asymmetric",
            "--preset",
            "cityscapes",
            "--rate",
            "0.5",
            "--cityscapes-from",
            source,
        ]
    )
    assert calls == [((str(image_dir), str(gt_dir)), {"from_json": source == "json", "to_polygons": True})]
    noisy = orjson.loads(output.read_bytes())
    assert [a["id"] for a in noisy["annotations"]] == list(range(1, 121))
    assert noisy["images"][0]["file_name"] == "aachen/aachen_000000_000019_leftImg8bit.png"
    pipeline = build_noise({"type": "asymmetric", "preset": "cityscapes", "rate": 0.5}, 8)
    written = iter(noisy["annotations"])
    for record in dicts:  # what the mapper gets from the same loader (no ids: content keys)
        for expected in pipeline.apply_to_annotations(record["annotations"], record["image_id"], (64, 96)):
            ann = next(written)
            assert ann["category_id"] == expected["category_id"] + 1 and ann["noise"] == expected["noise"]
    assert any(a["noise"] == "class_flip" for a in noisy["annotations"])


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--noise", "symmetric", "--rate", "1.5"], "error: --noise symmetric: rate must be in [0, 1], got 1.5"),
        (
            ["--noise", "asymmetric", "--preset", "kitti", "--rate", "0.2"],
            "error: --noise asymmetric: unknown asymmetric preset 'kitti'",
        ),
        (["--noise", "spatial", "--preset", "brutal"], "error: --noise spatial: unknown spatial preset 'brutal'"),
        (["--noise", "spatial"], "error: --noise spatial: spatial noise needs preset or all of p, kernel"),
        (
            ["--noise", "symmetric", "--rate", "0.2", "--preset", "coco"],
            "error: --preset does not apply to --noise symmetric (it takes --rate, --seed, --include-true)",
        ),
        (["--noise", "sym40", "--rate", "0.2"], "error: --noise sym40 is a short name that sets everything"),
        (["--noise", "sym4O"], "error: --noise sym4O: unknown noise name 'sym4O'"),
        (["--noise", "transition_matrix"], "error: --noise transition_matrix needs --matrix"),
        (["--noise", "asymmetric", "--preset", "coco", "--rate", "0.2"], "error: preset 'coco' expects the 80 classes"),
        (["--noise", "symmetric"], "error: --noise symmetric needs --rate"),
        (["--noise", "spatial", "--preset", "hard", "--rate", "0.5"], "error: --noise spatial: p must be <= 1/3"),
        (["--noise", "symmetric", "--rate", "0.2", "--gt-dir", "/nonexistent"], "error: --gt-dir /nonexistent is not"),
    ],
)
@pytest.mark.slow
def test_bad_arguments_fail_with_one_error_line(coco_file, tmp_path, extra, message):
    output = tmp_path / "never.json"
    result = run_tool("--input", coco_file, "--output", output, *extra)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr and not output.exists()


def test_missing_class_id_fails_with_one_line(tmp_path):
    dataset = coco_dataset(CITYSCAPES_CATEGORIES)
    dataset["annotations"][3]["category_id"] = 99
    source = tmp_path / "bad.json"
    source.write_bytes(orjson.dumps(dataset))
    result = run_tool("--input", source, "--output", tmp_path / "out.json", "--noise", "symmetric", "--rate", "0.2")
    assert result.returncode != 0 and result.stderr.strip().count("\n") == 0
    assert "category_id 99 which is not in 'categories'" in result.stderr and "Traceback" not in result.stderr


def test_refuses_to_overwrite_the_input(coco_file, tmp_path):
    before = coco_file.read_bytes()
    aliased = tmp_path / "." / coco_file.name
    result = run_tool("--input", coco_file, "--output", aliased, "--noise", "symmetric", "--rate", "0.2")
    assert result.returncode != 0 and result.stderr.strip().count("\n") == 0
    assert "is the input" in result.stderr
    assert coco_file.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [coco_file.name]  # no temp files left behind


def test_include_true_is_the_papers_symmetric_convention(tmp_path):
    path = tmp_path / "many.json"
    path.write_bytes(orjson.dumps(coco_dataset(CITYSCAPES_CATEGORIES, num_images=400, per_image=10)))
    rates = {}
    for flag in ([], ["--include-true"]):
        output = tmp_path / f"noisy{len(flag)}.json"
        assert (
            make_noisy_dataset.main(
                [
                    "--input",
                    str(path),
                    "--output",
                    str(output),
                    "--noise",
                    "symmetric",
                    "--rate",
                    "0.4",
                    "--no-progress",
                    *flag,
                ]
            )
            == 0
        )
        anns = orjson.loads(output.read_bytes())["annotations"]
        rates[bool(flag)] = np.mean([a["category_id"] != a["clean_category_id"] for a in anns])
    n, k = 4000, len(CITYSCAPES_CATEGORIES)
    assert abs(rates[False] - 0.4) < 4 * np.sqrt(0.24 / n)
    assert abs(rates[True] - 0.4 * (k - 1) / k) < 4 * np.sqrt(0.35 * 0.65 / n)
    res = run_tool(
        "--input", path, "--output", tmp_path / "x.json", "--noise", "drop", "--rate", "0.1", "--include-true"
    )
    assert res.returncode != 0 and "--include-true does not apply to --noise drop" in res.stderr


def _malformed(mutate):
    dataset = json.loads(json.dumps(coco_dataset(CITYSCAPES_CATEGORIES, num_images=4, per_image=3)))  # a deep copy
    mutate(dataset)
    return dataset


def _set(path, value):
    def mutate(dataset):
        *parents, last = path
        node = dataset
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


_DELETE = object()
ANN = ("annotations", 4)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (_set((*ANN, "id"), _DELETE), "annotations[4] (image_id 2): 'id' is missing or null"),
        (_set((*ANN, "id"), None), "annotations[4] (image_id 2): 'id' is missing or null"),
        (_set((*ANN, "id"), 2**63 + 5), "'id' 9223372036854775813 does not fit in 64 bits"),
        # json readers give an integer beyond 64 bits as a float: said so, not "got float" (issue 21)
        (
            _set((*ANN, "id"), 2**70),
            "'id' 1.181e+21 does not fit in 64 bits (an integer this large is read from json as",
        ),
        (_set((*ANN, "id"), "47"), "'id' must be an int, got str '47'"),
        (_set((*ANN, "id"), "a7"), "'id' must be an int, got str 'a7'"),
        (_set(("annotations", 5, "id"), 47), "annotation id 47 appears 2 times (annotations[4, 5]...)"),
        (_set(ANN, ["not", "a", "dict"]), "annotations[4] must be a dict, got list"),
        (_set((*ANN, "category_id"), _DELETE), "annotation id 47 (annotations[4]): 'category_id' is missing or null"),
        (_set((*ANN, "category_id"), None), "'category_id' is missing or null"),
        (_set((*ANN, "category_id"), "car"), "'category_id' must be an int, got str 'car'"),
        # a number in a string, or a float, was converted and written back as clean_category_id "25" (issue 21)
        (_set((*ANN, "category_id"), "25"), "annotation id 47 (annotations[4]): 'category_id' must be an int, got str"),
        (_set((*ANN, "category_id"), 25.0), "'category_id' must be an int, got float 25.0"),
        (_set((*ANN, "category_id"), 2**64), "'category_id' 1.845e+19 does not fit in 64 bits"),
        (_set((*ANN, "iscrowd"), "0"), "'iscrowd' must be 0 or 1, got '0'"),
        (_set((*ANN, "bbox"), ["1", "2", "3", "4"]), "'bbox' must be [x, y, width, height] finite numbers"),
        (_set((*ANN, "image_id"), None), "annotation id 47 (annotations[4]): 'image_id' is missing or null"),
        (_set((*ANN, "bbox"), [1, 2, 3]), "'bbox' must be [x, y, width, height] finite numbers, got [1, 2, 3]"),
        (_set((*ANN, "bbox"), [1, 2, -3, 4]), "'bbox' has a negative width or height"),
        (_set((*ANN, "iscrowd"), 2), "'iscrowd' must be 0 or 1, got 2"),
        (_set(("images", 1, "height"), _DELETE), "image id 2 (images[1]): 'height' must be a positive int, got None"),
        (_set(("images", 1, "height"), "64"), "'height' must be a positive int, got '64'"),
        (_set(("images", 1, "id"), None), "images[1]: 'id' is missing or null"),
        (_set(("images", 1, "id"), 2**64 + 5), "images[1]: 'id' 1.845e+19 does not fit in 64 bits"),
        (_set(("images", 1, "id"), 1), "images[1]: id 1 appears twice in 'images'"),
        (_set(("images", 2), 7), "images[2] must be a dict, got int"),
        (_set(("categories", 0, "id"), "24"), "'id' must be an int, got str '24'"),
        (_set(("categories", 0, "id"), 2**64), "'id' 1.845e+19 does not fit in 64 bits"),
    ],
)
@pytest.mark.slow
def test_malformed_records_are_named_with_their_field(tmp_path, mutate, message):
    source = tmp_path / "bad.json"
    source.write_text(json.dumps(_malformed(mutate)))  # stdlib: orjson refuses ints beyond 64 bits
    output = tmp_path / "out.json"
    result = run_tool("--input", source, "--output", output, "--noise", "symmetric", "--rate", "0.2")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"], "no output, no temp file left behind"


@pytest.mark.parametrize(
    "segmentation, message",
    [
        ([[1.0, 2.0, "a", 4.0, 5.0, 6.0]], "'segmentation' cannot be read"),
        ({"size": [10, 10], "counts": "0e9"}, "'segmentation' cannot be read"),
        ({"counts": "abc"}, "'segmentation' cannot be read"),
    ],
)
@pytest.mark.slow
def test_malformed_segmentations_are_named_when_spatial_noise_reads_them(tmp_path, segmentation, message):
    dataset = coco_dataset(CITYSCAPES_CATEGORIES, num_images=4, per_image=3)
    for ann in dataset["annotations"]:
        ann["segmentation"] = segmentation
    source = tmp_path / "bad.json"
    source.write_bytes(orjson.dumps(dataset))
    result = run_tool(
        "--input", source, "--output", tmp_path / "out.json", "--noise", "spatial", "--preset", "hard", "--no-progress"
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr and "annotation id" in result.stderr


def test_outputs_that_cannot_be_written_are_refused_before_any_work(coco_file, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    result = run_tool("--input", coco_file, "--output", blocker / "out.json", "--noise", "symmetric", "--rate", "0.2")
    assert result.returncode != 0 and result.stderr.startswith(f"error: --output {blocker / 'out.json'}: ")
    result = run_tool(
        "--input",
        coco_file,
        "--output",
        tmp_path / "out.json",
        "--noise",
        "symmetric",
        "--rate",
        "0.2",
        "--report",
        tmp_path,
    )
    assert result.returncode != 0 and "--report" in result.stderr and "is a directory" in result.stderr


@pytest.mark.slow
def test_existing_outputs_are_replaced_only_with_overwrite(coco_file, tmp_path):
    output, report = tmp_path / "noisy.json", tmp_path / "report.json"
    output.write_text("keep me")
    args = ["--input", coco_file, "--output", output, "--noise", "symmetric", "--rate", "0.2"]
    result = run_tool(*args)
    assert result.returncode != 0 and "--output" in result.stderr and "--overwrite" in result.stderr
    assert output.read_text() == "keep me"
    report.write_text("keep me too")
    result = run_tool(
        "--input",
        coco_file,
        "--output",
        tmp_path / "new.json",
        "--noise",
        "symmetric",
        "--rate",
        "0.2",
        "--report",
        report,
    )
    assert result.returncode != 0 and "--report" in result.stderr and report.read_text() == "keep me too"
    assert run_tool(*args, "--overwrite").returncode == 0
    assert orjson.loads(output.read_bytes())["annotations"]


def test_a_failed_write_leaves_no_temp_file_and_no_partial_output(coco_file, tmp_path, monkeypatch):
    from noisy_seg.utils import files

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full_disk)
    output = tmp_path / "noisy.json"
    with pytest.raises(SystemExit, match="No space left on device"):
        make_noisy_dataset.main(
            ["--input", str(coco_file), "--output", str(output), "--noise", "symmetric", "--rate", "0.2"]
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == [coco_file.name]


def test_short_names_and_flags_resolve_to_the_same_noise(coco_file, tmp_path):
    by_name, by_flags = tmp_path / "name.json", tmp_path / "flags.json"
    assert make_noisy_dataset.main(["--input", str(coco_file), "--output", str(by_name), "--noise", "symmix40_s3"]) == 0
    assert (
        make_noisy_dataset.main(
            [
                "--input",
                str(coco_file),
                "--output",
                str(by_flags),
                "--noise",
                "symmetric",
                "--rate",
                "0.4",
                "--include-true",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    assert by_name.read_bytes() == by_flags.read_bytes()
    assert any(a["noise"] == "class_flip" for a in orjson.loads(by_name.read_bytes())["annotations"])


def test_transition_matrix_from_a_file(tmp_path):
    k = len(CITYSCAPES_CATEGORIES)
    source = tmp_path / "city.json"
    source.write_bytes(orjson.dumps(coco_dataset(CITYSCAPES_CATEGORIES)))
    matrix = np.roll(np.eye(k), 1, axis=1)  # every class c -> c + 1
    (tmp_path / "matrix.json").write_bytes(orjson.dumps(matrix.tolist()))
    output = tmp_path / "noisy.json"
    assert (
        make_noisy_dataset.main(
            [
                "--input",
                str(source),
                "--output",
                str(output),
                "--noise",
                "transition_matrix",
                "--matrix",
                str(tmp_path / "matrix.json"),
            ]
        )
        == 0
    )
    ids = sorted(c["id"] for c in CITYSCAPES_CATEGORIES)
    for ann in orjson.loads(output.read_bytes())["annotations"]:
        assert ann["category_id"] == ids[(ids.index(ann["clean_category_id"]) + 1) % k]


# ------------------------------------------------------------------------------------------------- several kinds
def test_several_kinds_in_one_copy_equal_the_mapper_given_the_same_list(tiny_toy, tmp_path):
    """class + spatial + drop from the command line (issue 21: it took Python), as NoisyDatasetMapper injects
    noise=[...] on the fly, image by image."""
    from detectron2.data.datasets import load_coco_json

    from noisy_seg.data import NoisyDatasetMapper
    from noisy_seg.data.datasets.toy_shapes import coco_paths

    json_file, image_root = coco_paths(tiny_toy, "train")
    listed = ["sym40_s2", {"type": "spatial", "preset": "medium", "class_rate": 0, "seed": 2}, "drop20_s2"]
    written = {}
    for name, flags in {
        "repeated": [
            "--noise",
            "sym40_s2",
            "--noise",
            "spatial",
            "--preset",
            "medium",
            "--class-rate",
            "0",
            "--seed",
            "2",
            "--noise",
            "drop20_s2",
        ],
        "comma list": [
            "--noise",
            "sym40_s2,drop20_s2,spatial",
            "--preset",
            "medium",
            "--class-rate",
            "0",
            "--seed",
            "2",
        ],
    }.items():
        written[name] = tmp_path / f"{name}.json"
        assert (
            make_noisy_dataset.main(
                ["--input", str(json_file), "--output", str(written[name]), "--no-progress", *flags]
            )
            == 0
        )
    assert written["repeated"].read_bytes() == written["comma list"].read_bytes()  # the order of kinds plays no part
    noisy = orjson.loads(written["repeated"].read_bytes())
    tags = {tag for a in noisy["annotations"] for tag in a["noise"].split("+")}
    assert "class_flip" in tags and tags & {"dilate", "erode", "jitter", "simplify"}
    assert len(noisy["annotations"]) < len(orjson.loads(json_file.read_bytes())["annotations"])  # some dropped

    mapper = NoisyDatasetMapper(
        is_train=True, augmentations=[], image_format="BGR", use_instance_mask=True, noise=listed, num_classes=8
    )
    offline = {}
    for ann in noisy["annotations"]:
        offline.setdefault(ann["image_id"], []).append(
            (ann["clean_category_id"] - 1, ann["category_id"] - 1, np.round(ann["segmentation"][0], 4).tolist())
        )
    for record in load_coco_json(str(json_file), str(image_root), "toy_tiny_train"):
        instances = mapper(record)["instances"]
        on_the_fly = [
            (clean, given, np.round(polygons[0], 4).tolist())
            for clean, given, polygons in zip(
                instances.gt_clean_classes.tolist(), instances.gt_classes.tolist(), instances.gt_masks.polygons
            )
        ]
        assert sorted(on_the_fly) == sorted(offline.get(record["image_id"], [])), record["image_id"]


@pytest.mark.parametrize(
    "noise, message",
    [
        (["--noise", "symmetric,drop", "--rate", "0.3"], "the flags set one noise type, not 2 (symmetric, drop)"),
        (["--noise", "sym40,drop20", "--rate", "0.3"], "--noise sym40 is a short name that sets everything"),
        (
            ["--noise", "sym40", "--noise", "coco_n_medium"],
            "two class noise specs (the second from 'spatial'); give at "
            "most one; a spatial level (coco_n_*) brings its own class noise: --noise spatial --preset LEVEL "
            "--class-rate 0",
        ),
        (["--noise", "sym40,drop20,drop30"], "two drop noise specs"),
        (["--noise", ","], "--noise names no noise"),
    ],
)
@pytest.mark.slow
def test_several_kinds_that_do_not_fit_are_one_error_line(coco_file, tmp_path, noise, message):
    result = run_tool("--input", coco_file, "--output", tmp_path / "never.json", *noise)
    assert result.returncode != 0 and result.stderr.strip().count("\n") == 0 and message in result.stderr, result.stderr
    assert not (tmp_path / "never.json").exists()


def test_semantic_maps_take_one_noise(tiny_toy, tmp_path):
    with pytest.raises(SystemExit, match="--dataset writes one semantic noise per copy"):
        make_noisy_dataset.main(
            [
                "--dataset",
                "toy_tiny_cityscapes_sem_seg_val",
                "--output",
                str(tmp_path / "maps"),
                "--noise",
                "sem30,semrelabel40",
            ]
        )
    assert not (tmp_path / "maps").exists()
