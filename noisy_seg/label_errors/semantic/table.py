"""Every image's predicted components as columns (`ComponentTable`), so that semantic label-error finding scales with
the number of components, not of images held as Python objects: written in shards (noisy_seg/utils/columns.py: a
folder of .npy files, memory-mapped on read), the meta classifier fitted from the training half's rows (a seeded
sample of at most `max_fit_rows` when there are more) and scoring the search half in batches.

Tables: "images" (`index`: the image's place in the dataset, `height`, `width`), "rows" (one per component, sorted by
image then component: `image` (its dataset index), `component`, `class`, `box` x0 y0 x1 y1, `features` (n, F)
float64, `iou_adj`), "masks" (the proposal candidates' masks cropped to their box: `row`, `rle` RLE counts).
`score_images` / `find_proposals` (rank.py, filter.py) take lists of `ImageComponents` and run the same algorithm
through a table (`ComponentTable.of`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util

from ...utils.columns import Ragged, concatenate_tables, load_shard_folder, save_tables, take_rows
from ...utils.errors import UserInputError

if TYPE_CHECKING:
    from .rank import ImageComponents

__all__ = ["ComponentTable", "load_component_shards", "merge_tables", "save_component_shard"]


class ComponentTable:
    def __init__(self, images: dict, rows: dict, masks: dict):
        self.images, self.rows, self.masks = images, rows, masks

    @classmethod
    def of(cls, images: Sequence[ImageComponents], indices: Optional[Sequence[int]] = None) -> "ComponentTable":
        """The table of `images` (at dataset `indices`, default 0, 1, ...)."""
        indices = range(len(images)) if indices is None else indices
        parts = [cls._of_image(image, index) for image, index in zip(images, indices)]
        return merge_tables(parts) if parts else cls.empty()

    @classmethod
    def empty(cls) -> "ComponentTable":
        """No image."""
        rows = {
            "image": np.zeros(0, np.int64),
            "component": np.zeros(0, np.int32),
            "class": np.zeros(0, np.int32),
            "box": np.zeros((0, 4), np.int32),
            "features": np.zeros((0, 0), np.float64),
            "iou_adj": np.zeros(0, np.float64),
        }
        images = {"index": np.zeros(0, np.int64), "height": np.zeros(0, np.int32), "width": np.zeros(0, np.int32)}
        return cls(images, rows, {"row": np.zeros(0, np.int64), "rle": Ragged.of([])})

    @classmethod
    def _of_image(cls, image: ImageComponents, index: int) -> "ComponentTable":
        count = len(image.classes)
        rows = {
            "image": np.full(count, index, np.int64),
            "component": np.arange(count, dtype=np.int32),
            "class": np.asarray(image.classes, np.int32),
            "box": np.asarray(image.boxes, np.int32).reshape(-1, 4),
            "features": np.asarray(image.features, np.float64),
            "iou_adj": np.full(count, np.nan) if image.iou_adj is None else np.asarray(image.iou_adj, np.float64),
        }
        candidates = sorted(image.masks)
        rles = [mask_util.encode(np.asfortranarray(image.masks[j].astype(np.uint8)))["counts"] for j in candidates]
        masks = {"row": np.asarray(candidates, np.int64), "rle": Ragged.of(rles)}
        height, width = image.shape
        images = {
            "index": np.asarray([index], np.int64),
            "height": np.asarray([height], np.int32),
            "width": np.asarray([width], np.int32),
        }
        return cls(images, rows, masks)

    @property
    def num_images(self) -> int:
        return len(self.images["index"])

    def __len__(self) -> int:
        return len(self.rows["image"])

    @property
    def sizes(self) -> np.ndarray:
        return np.asarray(self.rows["features"][:, 0])

    @property
    def scorable(self) -> np.ndarray:
        """Components with an inner pixel: the seed scores only these (S_in > 0)."""
        return np.asarray(self.rows["features"][:, 1]) > 0

    @property
    def image_positions(self) -> np.ndarray:
        """Per row, its image's place among the table's images (0 .. num_images - 1)."""
        return np.searchsorted(np.asarray(self.images["index"]), np.asarray(self.rows["image"]))

    def row_range(self, position: int) -> tuple[int, int]:
        """The rows of the table's `position`-th image: [start, stop)."""
        positions = self.image_positions
        return int(np.searchsorted(positions, position, "left")), int(np.searchsorted(positions, position, "right"))

    def mask(self, row: int) -> np.ndarray:
        """The candidate mask of component `row`, cropped to its box (bool)."""
        found = np.searchsorted(np.asarray(self.masks["row"]), row)
        if found >= len(self.masks["row"]) or self.masks["row"][found] != row:
            raise KeyError(f"component row {row} kept no mask (not a proposal candidate)")
        x0, y0, x1, y1 = (int(v) for v in self.rows["box"][row])
        rle = {"size": [y1 - y0, x1 - x0], "counts": self.masks["rle"][int(found)]}
        return mask_util.decode(rle).astype(bool)


def merge_tables(parts: Sequence[ComponentTable]) -> ComponentTable:
    """One table from the tables of disjoint image sets (a run's shards, several processes' shares), ordered by image
    index then component: the result does not depend on how the images were split."""
    if not parts:
        raise ValueError("merge_tables needs at least one part")
    images = concatenate_tables([part.images for part in parts], "component tables")
    if len(np.unique(images["index"])) != len(images["index"]):
        raise UserInputError("the component tables to merge hold some images twice (shards of two runs in one folder?)")
    offsets = np.cumsum([0] + [len(part) for part in parts[:-1]])
    masks = concatenate_tables([part.masks for part in parts], "component tables")
    if len(parts) > 1:  # mask rows are positions in their part: shift them to the merged rows
        masks["row"] = np.concatenate(
            [np.asarray(part.masks["row"]) + offset for part, offset in zip(parts, offsets)]
        ).astype(np.int64)
    rows = concatenate_tables([part.rows for part in parts], "component tables")
    order = np.lexsort((np.asarray(rows["component"]), np.asarray(rows["image"])))
    rows = take_rows(rows, order)
    new_row = np.empty(len(order), np.int64)
    new_row[order] = np.arange(len(order))
    mask_order = np.argsort(new_row[np.asarray(masks["row"], np.int64)], kind="stable")
    masks = take_rows(masks, mask_order)
    masks["row"] = new_row[np.asarray(masks["row"], np.int64)]
    return ComponentTable(take_rows(images, np.argsort(images["index"], kind="stable")), rows, masks)


def save_component_shard(folder: Path, name: str, table: ComponentTable, meta: dict) -> Path:
    """Write `table` as the shard `folder`/`name` (whole or absent)."""
    tables = {"images": table.images, "rows": table.rows, "masks": table.masks}
    return save_tables(Path(folder) / name, tables, meta)


def load_component_shards(folder: Path, fingerprint: str) -> list[ComponentTable]:
    """The shards in `folder` (none when it does not exist), memory-mapped; one written with another fingerprint
    (another model, dataset or settings) is one clear error."""
    return [
        ComponentTable(tables.get("images", {}), tables.get("rows", {}), tables.get("masks", {}))
        for tables, _ in load_shard_folder(folder, fingerprint, "component")
    ]
