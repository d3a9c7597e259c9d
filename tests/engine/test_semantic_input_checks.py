"""The semantic path's inputs are checked before launch, as the instance path's are (issue 21, item 4): the head's
loss string (LazyConfig and yacs, through tools/train_net.py and through the Python API) and the train mapper's tag
file; each problem is one line, and no run folder is written."""

import json
from pathlib import Path

import pytest

from noisy_seg.cli import train_net
from detectron2.config import LazyConfig
from detectron2.data import DatasetCatalog

from noisy_seg.engine import apply_overrides, check_config, check_image_tags, load_yacs_config
from noisy_seg.utils.errors import UserInputError

LAZY = "configs/toy/semantic_R18_FPN_ce.py"
YACS = "configs/toy/yacs/semantic_R18_FPN_ce.yaml"
TINY_TRAIN = "toy_tiny_cityscapes_sem_seg_train"

BAD_LOSSES = [  # the probe's loss strings and what their one line says
    ("ce + 0.5 *", "loss 'ce + 0.5 *': cannot read the term '0.5 *'"),
    ("softmax_ce", "unknown loss 'softmax_ce'"),
    ("gcee", "unknown loss 'gcee'. Did you mean: gce, ce?"),
    ("-0.5 * ce", "the weight of 'ce' must be > 0, got -0.5"),
    ("combination", "loss 'combination' needs loss_kwargs bg_index"),
    ("ce + ce", "loss 'ce + ce' names 'ce' twice"),
    ("ce + 0.5 * ce", "loss 'ce + 0.5 * ce' names 'ce' twice"),
    ("1e400 * ce", "the weight 1e400 of 'ce' is not a finite number"),
    ("0 * ce", "the weight of 'ce' must be > 0, got 0.0; a term of weight 0 trains nothing"),
]


@pytest.fixture(scope="module")
def lazy_cfg(repo_root):
    return LazyConfig.load(str(repo_root / LAZY))


def _cli_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exit_info:
        train_net.cli(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("loss, message", BAD_LOSSES)
@pytest.mark.slow
def test_bad_loss_strings_stop_train_net_in_one_line_before_the_run_folder(repo_root, tmp_path, capsys, loss, message):
    out = tmp_path / "run"
    lazy = _cli_error(
        capsys, ["--config-file", str(repo_root / LAZY), f"model.sem_seg_head.loss={loss}", f"train.output_dir={out}"]
    )
    yacs = _cli_error(
        capsys, ["--config-file", str(repo_root / YACS), "MODEL.SEM_SEG_HEAD.LOSS", loss, "OUTPUT_DIR", str(out)]
    )
    for err, key in ((lazy, "model.sem_seg_head"), (yacs, "MODEL.SEM_SEG_HEAD")):
        assert err.startswith(f"error: {key}: ") and message in err and err.count("\n") == 1, err
    assert not out.exists()


@pytest.mark.parametrize("loss, message", BAD_LOSSES)
def test_bad_loss_strings_through_the_python_api(repo_root, lazy_cfg, loss, message):
    with pytest.raises(UserInputError, match="^model.sem_seg_head: ") as info:
        check_config(apply_overrides(lazy_cfg.copy(), [f"model.sem_seg_head.loss={loss}"]))
    assert message in str(info.value)
    with pytest.raises(UserInputError, match="^MODEL.SEM_SEG_HEAD: ") as info:
        load_yacs_config(str(repo_root / YACS), ["MODEL.SEM_SEG_HEAD.LOSS", loss])
    assert message in str(info.value)


def test_good_loss_settings_pass(repo_root, lazy_cfg):
    for overrides in (
        ["model.sem_seg_head.loss=2e+0 * ce + 0.5 * dice"],
        ["model.sem_seg_head.loss={ce:1.0,lovasz:0.5}"],
        ["model.sem_seg_head.loss=combination", "model.sem_seg_head.loss_kwargs={bg_index:[0]}"],
    ):
        check_config(apply_overrides(lazy_cfg.copy(), overrides))
    cfg = load_yacs_config(str(repo_root / YACS), ["MODEL.SEM_SEG_HEAD.LOSS", "ce + 0.5 * dice"])
    assert cfg.MODEL.SEM_SEG_HEAD.LOSS == "ce + 0.5 * dice"


@pytest.mark.parametrize("std", ["-0.01", "'small'", "inf", "nan", "true"])
def test_a_bad_predictor_init_std_is_one_line_before_launch(repo_root, lazy_cfg, std):
    with pytest.raises(UserInputError, match=r"^model.sem_seg_head.predictor_init_std.*number"):
        check_config(apply_overrides(lazy_cfg.copy(), [f"model.sem_seg_head.predictor_init_std={std}"]))
    with pytest.raises(UserInputError, match=r"^MODEL.SEM_SEG_HEAD.PREDICTOR_INIT_STD must be a finite number >= 0"):
        load_yacs_config(str(repo_root / YACS), ["MODEL.SEM_SEG_HEAD.PREDICTOR_INIT_STD", "-0.01"])
    with pytest.raises(UserInputError, match=r"PREDICTOR_INIT_STD") as info:  # yacs: not a number literal
        load_yacs_config(str(repo_root / YACS), ["MODEL.SEM_SEG_HEAD.PREDICTOR_INIT_STD", "inf"])
    assert "\n" not in str(info.value)


def _tag_file(tmp_path, keys) -> Path:
    path = tmp_path / "tags.json"
    path.write_text(json.dumps({key: [0] for key in keys}))
    return path


def test_a_tag_file_with_keys_that_match_no_image_stops_train_net_before_the_run_folder(
    repo_root, tiny_toy, tmp_path, capsys
):
    """The probe: keys that match no image of the training set were accepted (their tags silently unused)."""
    stem = Path(DatasetCatalog.get(TINY_TRAIN)[0]["file_name"]).stem
    tag_file, out = _tag_file(tmp_path, [stem, "nope", "gone"]), tmp_path / "run"
    err = _cli_error(
        capsys,
        [
            "--config-file",
            str(repo_root / LAZY),
            f"dataloader.train.dataset.names={TINY_TRAIN}",
            f"dataloader.train.mapper.tag_file={tag_file}",
            f"train.output_dir={out}",
        ],
    )
    assert err == (
        f"error: dataloader.train.mapper.tag_file {tag_file}: 2 image(s) are not in the dataset (e.g. "
        "'gone', 'nope'); keys are image ids or image file stems\n"
    )
    assert not out.exists()


def test_check_image_tags_reads_the_file_as_the_mapper_does(lazy_cfg, tiny_toy, tmp_path, caplog):
    records = DatasetCatalog.get(TINY_TRAIN)
    stem = Path(records[0]["file_name"]).stem
    cfg = apply_overrides(
        lazy_cfg.copy(),
        [
            f"dataloader.train.dataset.names={TINY_TRAIN}",
            f"dataloader.train.mapper.tag_file={_tag_file(tmp_path, [stem])}",
        ],
    )
    with caplog.at_level("WARNING", logger="noisy_seg"):
        check_image_tags(cfg)  # every key is an image of the training set
    # the images the file does not tag take their label maps' classes: said, not done without a word
    assert f"tags 1 of the {len(records)} training images; the other {len(records) - 1} take the classes" in caplog.text
    (tmp_path / "tags.json").write_text(json.dumps({stem: ["road", "dragon"]}))
    with pytest.raises(
        UserInputError,
        match="names class 'road', which is not one of the 19 classes "
        r"\(give class_names for names\)",
    ):
        check_image_tags(cfg)
    check_image_tags(
        apply_overrides(cfg, ["dataloader.train.mapper.class_names=[road,a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,dragon]"])
    )
