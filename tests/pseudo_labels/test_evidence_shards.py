"""The columnar evidence (pseudo_labels/evidence_shards.py): one merge for shards and folds, ordered by dataset
position and annotation index whatever the split; ragged RLE columns; shards written whole and memory-mapped on
read; a shard of another run, a half shard and parts with different columns are one clear error."""

import json

import numpy as np
import pytest

from noisy_seg.pseudo_labels.evidence_shards import (
    SKIP_REASONS,
    Evidence,
    load_shards,
    merge_evidence,
    save_shard,
)
from noisy_seg.utils.columns import Ragged
from noisy_seg.utils.errors import UserInputError

NOT_IN_DATASET = SKIP_REASONS.index("image not in dataset")


def part(images, rows, skipped=(), detections=(), masks=False) -> Evidence:
    """images: [(image_id, position)]; rows: [(annotation index, image_id)]; skipped: [(index, image_id, reason)];
    detections: [(image_id, position, score)]."""
    evidence = Evidence.empty(3, detected=True)
    evidence.images.update(
        image_id=np.asarray([i for i, _ in images], np.int64), position=np.asarray([p for _, p in images], np.int64)
    )
    n = len(rows)
    evidence.rows.update(
        index=np.asarray([i for i, _ in rows], np.int64),
        id=np.asarray([100 + i for i, _ in rows], np.int64),
        image_id=np.asarray([image for _, image in rows], np.int64),
        given=np.zeros(n, np.int32),
        best_other=np.ones(n, np.int32),
        given_prob=np.full(n, 0.5, np.float32),
        best_other_prob=np.full(n, 0.25, np.float32),
        background_prob=np.full(n, 0.25, np.float32),
        mask_iou=np.asarray([np.nan if i % 2 else i / 10 for i, _ in rows], np.float32),
        class_probs=np.tile(np.asarray([0.5, 0.25, 0.25], np.float32), (n, 1)),
    )
    if masks:
        evidence.rows["predicted_mask"] = Ragged.of([f"m{i}".encode() * (i + 1) for i, _ in rows])
        evidence.rows["mask_size"] = np.full((n, 2), 8, np.int32)
    evidence.skipped.update(
        index=np.asarray([i for i, _, _ in skipped], np.int64),
        id=np.asarray([100 + i for i, _, _ in skipped], np.int64),
        image_id=np.asarray([image for _, image, _ in skipped], np.int64),
        reason=np.asarray([SKIP_REASONS.index(r) for _, _, r in skipped], np.int8),
    )
    m = len(detections)
    evidence.detections.update(
        image_id=np.asarray([i for i, _, _ in detections], np.int64),
        position=np.asarray([p for _, p, _ in detections], np.int64),
        box=np.tile(np.asarray([1, 2, 3, 4], np.float32), (m, 1)),
        score=np.asarray([s for _, _, s in detections], np.float32),
        **{"class": np.zeros(m, np.int32)},
    )
    return evidence


def test_the_merge_orders_by_position_and_index_whatever_the_split():
    first = part(
        [(7, 1)],
        [(2, 7)],
        skipped=[(0, 5, "image not in dataset"), (3, 9, "image not in dataset")],
        detections=[(7, 1, 0.9), (7, 1, 0.6)],
        masks=True,
    )
    second = part(
        [(5, 0)],
        [(0, 5), (1, 5)],
        skipped=[(3, 9, "image not in dataset")],
        detections=[(5, 0, 0.7)],
        masks=True,
    )
    for merged in (merge_evidence([first, second]), merge_evidence([second, first])):
        assert merged.image_ids.tolist() == [5, 7] and merged.rows["index"].tolist() == [0, 1, 2]
        assert merged.rows["image_id"].tolist() == [5, 5, 7]
        # annotation 0's image was scored by the other part; annotation 3's by none: listed once
        assert list(merged.skipped_entries()) == [
            {"index": 3, "id": 103, "image_id": 9, "reason": "image not in dataset"}
        ]
        assert merged.detections["score"].tolist() == pytest.approx([0.7, 0.9, 0.6])  # image order, then as found
        assert [merged.rows["predicted_mask"][i] for i in range(3)] == [b"m0", b"m1m1", b"m2m2m2"]
        assert merged.row(1)["mask_iou"] is None and merged.row(0)["mask_iou"] == 0.0
        assert merged.row(2)["predicted_mask"] == {"size": [8, 8], "counts": "m2m2m2"}


def test_ragged_columns_take_and_concatenate_like_lists():
    items = [b"", b"ab", b"c", b"defg"]
    column = Ragged.of(items)
    order = np.asarray([3, 0, 2])
    assert [column.take(order)[i] for i in range(3)] == [items[i] for i in order]
    both = Ragged.concatenate([column, Ragged.of([b"xy"])])
    assert [both[i] for i in range(5)] == items + [b"xy"]
    assert len(column.take(np.zeros(4, bool))) == 0


def test_a_shard_is_written_whole_and_memory_mapped_on_read(tmp_path):
    evidence = part([(7, 1)], [(2, 7), (4, 7)], detections=[(7, 1, 0.9)], masks=True)
    save_shard(tmp_path, "shard-000000", evidence, {"fingerprint": "run a"})
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    (tmp_path / ".tmp-shard-000001-999999").mkdir()  # a writer killed mid-shard: removed when the folder is read
    (loaded,) = load_shards(tmp_path, "run a")
    assert isinstance(loaded.rows["class_probs"], np.memmap) and loaded.detected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shard-000000"]
    merged = merge_evidence([loaded])
    np.testing.assert_array_equal(merged.rows["class_probs"], evidence.rows["class_probs"])
    assert merged.row(1) == evidence.row(1) and load_shards(tmp_path / "none", "run a") == []

    with pytest.raises(UserInputError, match="shard-000000 was written by another run or with other settings"):
        load_shards(tmp_path, "run b")
    (tmp_path / "shard-000001").mkdir()  # a shard without its record: not whole
    with pytest.raises(UserInputError, match="shard-000001 is not a whole shard"):
        load_shards(tmp_path, "run a")
    (tmp_path / "shard-000001").rmdir()
    meta = json.loads((tmp_path / "shard-000000" / "shard.json").read_text())
    assert meta["fingerprint"] == "run a" and meta["detected"] is True
    (tmp_path / "shard-000000" / "rows.index.npy").write_bytes(b"not numpy")
    with pytest.raises(UserInputError, match="shard-000000 cannot be read"):
        load_shards(tmp_path, "run a")


def test_parts_that_differ_are_one_clear_error():
    with pytest.raises(UserInputError, match="differ in their 'predicted_mask' column"):
        merge_evidence([part([(7, 1)], [(2, 7)], masks=True), part([(5, 0)], [(0, 5)])])
    merge_evidence([part([(7, 1)], [(2, 7)], masks=True), part([(5, 0)], [])])  # an empty part: no conflict
    with pytest.raises(UserInputError, match="score some images twice"):
        merge_evidence([part([(7, 1)], [(2, 7)]), part([(7, 1)], [(3, 7)])])
    undetected = part([(5, 0)], [(0, 5)])
    undetected.detected = False
    with pytest.raises(UserInputError, match="with and without detections"):
        merge_evidence([part([(7, 1)], [(2, 7)]), undetected])
