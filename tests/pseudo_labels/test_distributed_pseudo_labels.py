"""Pseudo labels and semantic label-error components under detectron2's launch (2 gloo processes): each process
predicts its share of the images; the maps, the manifest and the components are the ones one process makes."""

import hashlib
import pickle

import numpy as np
import pytest

from detectron2.data import DatasetCatalog
from noisy_seg.engine.ddp import launch_processes
from detectron2.utils import comm

from noisy_seg.pseudo_labels.semantic import generate_pseudo_labels
from noisy_seg.pseudo_labels.semantic_evidence import predict_components

from pseudo_label_stand_ins import VAL, CountingModel

OPTIONS = dict(scales=(0.5, 1.0), flip=True, threshold=0.2, progress=False, batch_size=2)


def _tree(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "run.json"
    }


def _worker(toy_root: str, output: str):
    from noisy_seg.data.datasets.builtin import register_toy_datasets

    if VAL not in DatasetCatalog.list():  # spawned processes start fresh
        register_toy_datasets(toy_root, prefix="toy_tiny", num_train=16, num_val=4, image_size=96)
    model = CountingModel()  # seeded: the same in every process
    manifest = generate_pseudo_labels(model, VAL, output + "/maps", **OPTIONS)
    images = predict_components(model, DatasetCatalog.get(VAL), min_size=1, progress=False)
    with open(f"{output}/rank{comm.get_rank()}.pkl", "wb") as file:
        tables = {"images": dict(images.images), "rows": dict(images.rows)}
        pickle.dump({"manifest": manifest, **tables, "predicted": model.images}, file)


@pytest.mark.slow
def test_two_processes_write_the_maps_and_find_the_components_of_one(tiny_toy, tmp_path):
    (tmp_path / "two").mkdir()
    launch_processes(_worker, 2, dist_url="auto", args=(str(tiny_toy), str(tmp_path / "two")))
    ranks = [pickle.loads((tmp_path / "two" / f"rank{r}.pkl").read_bytes()) for r in range(2)]

    model = CountingModel()
    single = generate_pseudo_labels(model, VAL, tmp_path / "one", **OPTIONS)
    images = predict_components(model, DatasetCatalog.get(VAL), min_size=1, progress=False)

    assert _tree(tmp_path / "two" / "maps") == _tree(tmp_path / "one")  # every map, byte for byte
    records = len(DatasetCatalog.get(VAL))
    # each process predicted its half of the images: 4 views each for the maps, one for the components
    assert [rank["predicted"] for rank in ranks] == [(records * 4 + records) // 2] * 2
    for rank in ranks:  # every process returns the whole manifest and every image's components
        assert rank["manifest"]["records"] == single["records"] and rank["manifest"]["complete"]
        assert rank["images"]["index"].tolist() == images.images["index"].tolist() == list(range(records))
        for name, column in images.rows.items():
            np.testing.assert_allclose(rank["rows"][name], column, rtol=1e-6, atol=1e-9, err_msg=name)
