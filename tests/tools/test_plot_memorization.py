"""tools/plot_memorization.py on run folders with hand-written metrics.json / run_info.json."""

import json

import cv2
import numpy as np
import pytest

from noisy_seg.cli import plot_memorization as tool

CLEAN, NOISY, OTHER = tool.CLEAN, tool.NOISY, tool.OTHER


def _run(folder, rows, run_info=None, truncated_tail=""):
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text("".join(json.dumps(r) + "\n" for r in rows) + truncated_tail)
    if run_info is not None:
        (folder / "run_info.json").write_text(json.dumps(run_info))
    return folder


def _rows(iterations, clean, noisy):
    return [{"iteration": i, "total_loss": 1.0, CLEAN: c, NOISY: n} for i, c, n in zip(iterations, clean, noisy)]


SWITCH = {"loss_schedule": {"loss": "combination", "switch_iter": 40, "ce_iters": [0, 40], "loss_iters": [40, 80]}}


@pytest.fixture
def runs(tmp_path):
    ce = _run(
        tmp_path / "ce",
        _rows(range(0, 80, 20), [0.2, 0.5, 0.6, 0.5], [0.7, 0.4, 0.3, 0.45]) + [{"iteration": 79, "bbox/AP": 3.0}],
    )
    # killed after iteration 40 and resumed from its checkpoint at 20: iterations 20 and 40 logged twice, the
    # later values win; a truncated last line is skipped
    resumed = _rows([0, 20, 40], [0.1, 0.1, 0.1], [0.9, 0.9, 0.9]) + _rows(
        [20, 40, 60], [0.3, 0.6, 0.7], [0.6, 0.3, 0.2]
    )
    combination = _run(tmp_path / "combination", resumed, SWITCH, truncated_tail='{"iteration": 80, "memo')
    return ce, combination


def test_curves_merge_a_resumed_run_and_skip_other_rows(runs):
    curves = tool.memorization_curves(runs[1])
    iterations, clean = curves["clean"]
    assert iterations.tolist() == [0, 20, 40, 60]
    assert clean.tolist() == [0.1, 0.3, 0.6, 0.7]
    assert curves["noisy"][1].tolist() == [0.9, 0.6, 0.3, 0.2]
    assert tool.memorization_curves(runs[0])["clean"][0].tolist() == [0, 20, 40, 60]  # the eval row is not a point


def test_moving_average_is_over_the_last_n_points():
    values = np.array([1.0, 3.0, 5.0, 7.0])
    assert tool.moving_average(values, 1).tolist() == [1.0, 3.0, 5.0, 7.0]
    assert tool.moving_average(values, 2).tolist() == [1.0, 2.0, 4.0, 6.0]
    assert tool.moving_average(values, 10).tolist() == [1.0, 2.0, 3.0, 4.0]


def test_the_switch_iteration_comes_from_run_info(runs, tmp_path):
    assert tool.switch_iteration(runs[1]) == (40, "combination")
    assert tool.switch_iteration(runs[0]) is None  # no run_info.json
    ce_only = _run(
        tmp_path / "ce_only",
        [],
        {"loss_schedule": {"loss": "ce", "switch_iter": 0, "ce_iters": [0, 80], "loss_iters": None}},
    )
    assert tool.switch_iteration(ce_only) is None
    stage2 = _run(
        tmp_path / "stage2",
        [],
        {"loss_schedule": {"loss": "combination", "switch_iter": 0, "ce_iters": None, "loss_iters": [40, 80]}},
    )
    assert tool.switch_iteration(stage2) is None  # the whole run is one loss: nothing switched in it


def test_writes_one_png_of_several_runs(runs, tmp_path, capsys):
    out = tmp_path / "figures" / "memorization.png"
    assert (
        tool.main([str(runs[0]), str(runs[1]), "--labels", "CE", "combination", "--smooth", "2", "--output", str(out)])
        == 0
    )
    image = cv2.imread(str(out))
    assert image is not None and image.shape == (540, 960, 3)  # 8 x 4.5 inches at 120 dpi
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 10  # curves, not a blank canvas
    assert [p.name for p in out.parent.iterdir()] == ["memorization.png"]  # no temp file left
    assert f"wrote {out}: 2 run(s)" in capsys.readouterr().out


def test_a_run_with_one_logged_point_draws_its_three_shares(tmp_path):
    """A short run logs memorization once: a line through one point draws nothing, so each point needs a marker.
    The third share (neither label: all background here) is drawn too."""
    run = _run(tmp_path / "short", [{"iteration": 19, "total_loss": 1.0, CLEAN: 0.0, NOISY: 0.3, OTHER: 0.7}])
    out = tmp_path / "short.png"
    figure = tool.plot([run], ["short"], 1, out)
    image = cv2.imread(str(out))
    axes = figure.axes[0]
    blue = np.array([180, 119, 31])  # C0, matplotlib's first color (#1f77b4), in OpenCV's BGR order
    for value in (0.0, 0.3, 0.7):
        x, y = axes.transData.transform((19, value))
        row, col = int(round(image.shape[0] - y)), int(round(x))
        window = image[max(row - 2, 0) : row + 3, col - 2 : col + 3].reshape(-1, 3).astype(int)
        assert (np.abs(window - blue).max(axis=1) < 40).any(), f"no marker at share {value}"
    assert [line.get_label() for line in axes.get_lines()] == [
        "short: predicts the clean label",
        "short: predicts the noisy label",
        "short: predicts neither (background or another class)",
    ]


def test_mask_memorization_gets_a_panel_of_its_own(runs, tmp_path):
    """A run of a noisy mask head under spatial noise logs the mask IoU curves; a second panel draws them, for the
    runs that have them; a run with only the mask curves draws that panel alone."""
    keys = [key for _, key, _, _ in tool.MASK_CURVES]
    rows = [{"iteration": i, keys[0]: 0.5 + i / 200, keys[1]: 0.6, keys[2]: 0.7} for i in (19, 39, 59)]
    masks = _run(tmp_path / "masks", [dict(r, **{CLEAN: 0.3, NOISY: 0.2}) for r in rows])
    figure = tool.plot([runs[0], masks], ["ce", "masks"], 1, tmp_path / "both.png")
    labels_panel, masks_panel = figure.axes
    assert len(labels_panel.get_lines()) == 4 and masks_panel.get_title() == "Memorization of mask noise"
    assert [line.get_label() for line in masks_panel.get_lines()] == [
        "masks: IoU with the clean mask",
        "masks: IoU with the noisy mask",
        "masks: IoU on the masks the noise left alone",
    ]
    assert masks_panel.get_lines()[0].get_ydata().tolist() == pytest.approx([0.595, 0.695, 0.795])
    only_masks = _run(tmp_path / "only_masks", rows)
    assert [a.get_title() for a in tool.plot([only_masks], ["m"], 1, tmp_path / "m.png").axes] == [
        "Memorization of mask noise"
    ]


def _error(argv):
    with pytest.raises(SystemExit) as exit_info:
        tool.main([str(a) for a in argv])
    message = str(exit_info.value)
    assert message.startswith("error: ") and "\n" not in message
    return message


def test_clear_one_line_errors(runs, tmp_path):
    out = tmp_path / "x.png"
    assert f"{tmp_path / 'empty'} has no metrics.json" in _error([tmp_path / "empty", "--output", out])
    clean_run = _run(tmp_path / "clean", [{"iteration": 0, "total_loss": 1.0}])
    assert "has no memorization scalars" in _error([runs[0], clean_run, "--output", out])
    assert not out.exists()  # a bad run stops it before anything is written
    assert "--labels gives 1 names for 2 runs" in _error([*runs, "--labels", "a", "--output", out])
    assert "must end in .png" in _error([runs[0], "--output", tmp_path / "x.jpg"])
    assert "--smooth must be at least 1" in _error([runs[0], "--smooth", "0", "--output", out])


def test_an_existing_output_is_replaced_only_with_overwrite(runs, tmp_path):
    out = tmp_path / "keep.png"
    out.write_bytes(b"not an image")
    assert "exists; pass --overwrite" in _error([runs[0], "--output", out])
    assert out.read_bytes() == b"not an image"
    assert tool.main([str(runs[0]), "--output", str(out), "--overwrite"]) == 0
    assert cv2.imread(str(out)) is not None
