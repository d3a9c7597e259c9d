"""Image-level tags of semantic records (class-aware CE, tag-masked pseudo labels): the one reading of them.

A record's tags are its own "image_tags" (class indices), else its entry in a tag file: a json object
{key: [class index or class name, ...]} whose keys are image ids or image file stems, resolved the same way for
every record (its id first, then its stem), so one file serves records with and without an "image_id". A key that
matches no image of the dataset is an error (`check_tag_keys`, once, where the dataset is known). A record with
neither has no tags: `NoisySemSegDatasetMapper` then takes the classes of its label map (exact for a fully
labelled image), `generate_pseudo_labels` lets it take every class.
"""

from __future__ import annotations

import os
from typing import Dict, List, Mapping, Optional, Sequence

from ..utils.files import load_json

__all__ = ["check_tag_keys", "read_tag_file", "record_tags"]

TagsByKey = Dict[str, List[int]]


def read_tag_file(path: str, num_classes: int, class_names: Optional[Sequence[str]] = None) -> TagsByKey:
    """{key: [class index, ...]} of a tag file; ValueError (one line) for a malformed file or an unknown class.
    Names are looked up in `class_names` (e.g. the dataset's stuff_classes)."""
    try:
        raw = load_json(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"tag_file {path}: cannot be read as json ({err})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"tag_file {path}: must be a json object {{image id or file stem: [class, ...]}}")
    index = {name: i for i, name in enumerate(class_names or [])}
    tags = {}
    for key, classes in raw.items():
        if not isinstance(classes, list):
            raise ValueError(f"tag_file {path}: image {key!r} must map to a list of classes, got {classes!r}")
        resolved = []
        for cls in classes:
            value = index.get(cls) if isinstance(cls, str) else cls
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < num_classes:
                known = f"; known names: {', '.join(class_names)}" if class_names else " (give class_names for names)"
                raise ValueError(
                    f"tag_file {path}: image {key!r} names class {cls!r}, which is not one of the "
                    f"{num_classes} classes{known}"
                )
            resolved.append(value)
        tags[str(key)] = resolved
    return tags


def _keys(record: Mapping) -> tuple:
    """The keys a tag file may give a record under, in the order they are looked up: its image id, its file stem."""
    stem = os.path.splitext(os.path.basename(record["file_name"]))[0]
    return (str(record["image_id"]), stem) if "image_id" in record else (stem,)


def record_tags(record: Mapping, tags_by_key: Mapping[str, List[int]], num_classes: int) -> Optional[List[int]]:
    """The record's tags (class indices): its "image_tags", else its entry in `tags_by_key` (by image id, then file
    stem); None when it has neither. ValueError (one line) for "image_tags" outside [0, num_classes)."""
    if "image_tags" in record:
        tags = [int(t) for t in record["image_tags"]]
        unknown = [t for t in tags if not 0 <= t < num_classes]
        if unknown:
            raise ValueError(
                f"{record.get('file_name', 'record')}: image_tags {unknown} are not classes in [0, {num_classes})"
            )
        return tags
    for key in _keys(record):
        if key in tags_by_key:
            return tags_by_key[key]
    return None


def check_tag_keys(tags_by_key: Mapping[str, List[int]], records: Sequence[Mapping], tag_file: str) -> int:
    """ValueError (one line, a few named) for keys of `tag_file` that are neither the id nor the file stem of an
    image in `records`: tags that would silently go unused. Returns how many records have no tags at all (neither
    their own "image_tags" nor an entry in the file), so that callers can say so."""
    known = {key for record in records for key in _keys(record)}
    unknown = sorted(set(tags_by_key) - known)
    if unknown:
        raise ValueError(
            f"tag_file {tag_file}: {len(unknown)} image(s) are not in the dataset (e.g. "
            f"{', '.join(map(repr, unknown[:3]))}); keys are image ids or image file stems"
        )
    return sum(
        "image_tags" not in record and not any(key in tags_by_key for key in _keys(record)) for record in records
    )
