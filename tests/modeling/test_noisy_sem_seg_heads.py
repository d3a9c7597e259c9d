"""NoisySemSegFPNHead / NoisyDeepLabV3PlusHead: stock layers and stock CE, losses by name, sums, switch, configs."""

import pytest
import torch
import torch.nn.functional as F

from detectron2.config import LazyCall as L
from detectron2.config import get_cfg, instantiate
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_sem_seg_head
from detectron2.modeling.backbone import Backbone
from detectron2.modeling.meta_arch.semantic_seg import SemSegFPNHead
from detectron2.projects.deeplab import DeepLabV3PlusHead, add_deeplab_config
from detectron2.utils.events import EventStorage

from noisy_seg.config import add_noisy_seg_config
from noisy_seg.losses import available_losses, build_loss, loss_spec
from noisy_seg.modeling import NoisyDeepLabV3PlusHead, NoisySemanticSegmentor, NoisySemSegFPNHead, SemSegLoss
from noisy_seg.modeling.memorization import MEMORIZATION_LOG_PERIOD, set_memorization_log_period
from noisy_seg.noise import NOISE_REGISTRY

C = 6
SHAPES = {"p2": ShapeSpec(channels=8, stride=4), "p3": ShapeSpec(channels=8, stride=8)}
FPN_ARGS = dict(input_shape=SHAPES, num_classes=C, conv_dims=8, common_stride=4, norm="", ignore_value=255)


def features_and_targets(seed=0):
    g = torch.Generator().manual_seed(seed)
    features = {"p2": torch.randn(2, 8, 8, 8, generator=g), "p3": torch.randn(2, 8, 4, 4, generator=g)}
    targets = torch.randint(0, C, (2, 32, 32), generator=g)
    targets[0, :5] = 255
    return features, targets


def fpn_pair(seed=0, **loss):
    torch.manual_seed(seed)
    stock = SemSegFPNHead(**FPN_ARGS)
    torch.manual_seed(seed)
    noisy = NoisySemSegFPNHead(**FPN_ARGS, **loss)
    return stock.train(), noisy.train()


def upsampled_logits(head, features):
    return F.interpolate(head.layers(features), scale_factor=4, mode="bilinear", align_corners=False)


def test_same_layers_as_stock_and_ce_is_the_stock_loss():
    stock, noisy = fpn_pair()
    assert stock.state_dict().keys() == noisy.state_dict().keys()
    for key, value in stock.state_dict().items():
        assert torch.equal(value, noisy.state_dict()[key]), key
    features, targets = features_and_targets()
    assert torch.equal(stock(features, targets)[1]["loss_sem_seg"], noisy(features, targets)[1]["loss_sem_seg"])


def test_predictor_init_std_draws_the_predictor_small_and_keeps_the_other_layers():
    stock, small = fpn_pair(predictor_init_std=0.01)
    assert torch.count_nonzero(small.predictor.bias) == 0
    assert 0.007 < small.predictor.weight.std().item() < 0.013  # 48 draws from N(0, 0.01); MSRA gives ~0.5 here
    assert stock.predictor.weight.std().item() > 0.1
    for key, value in stock.state_dict().items():
        if not key.startswith("predictor."):
            assert torch.equal(value, small.state_dict()[key]), key
    cfg = add_noisy_seg_config(get_cfg())
    assert cfg.MODEL.SEM_SEG_HEAD.PREDICTOR_INIT_STD == 0.0  # stock init unless asked
    for bad in (-0.1, float("inf"), float("nan"), True, "0.01"):
        with pytest.raises(ValueError, match="predictor_init_std must be a finite number >= 0"):
            NoisySemSegFPNHead(**FPN_ARGS, predictor_init_std=bad)


@pytest.mark.parametrize(
    "loss, kwargs",
    [
        ("gce", {"q": 0.7}),
        ("sce", {"alpha": 1.0, "beta": 0.1}),
        ("nce_rce", {}),
        ("lovasz", {}),
        ("cce", {}),
        ("focal", {}),
        ("combination", {"bg_index": [0]}),
    ],
)
def test_named_losses_are_the_registered_losses_with_the_heads_ignore_label(loss, kwargs):
    _, head = fpn_pair(loss=loss, loss_kwargs=kwargs)
    features, targets = features_and_targets()
    expected = build_loss(loss, **kwargs, ignore_index=255)(upsampled_logits(head, features), targets)
    torch.testing.assert_close(head(features, targets)[1]["loss_sem_seg"], expected)


def test_region_aware_gets_the_class_count_and_a_weighted_sum_adds_terms():
    _, head = fpn_pair(loss="region_aware")
    assert head.sem_seg_loss.terms["region_aware"].confusion.shape == (C, C)
    _, head = fpn_pair(loss="ce + 0.5 * dice", loss_kwargs={"dice": {"smooth": 2.0}})
    features, targets = features_and_targets()
    logits = upsampled_logits(head, features)
    expected = F.cross_entropy(logits, targets, ignore_index=255) + 0.5 * build_loss(
        "dice", smooth=2.0, ignore_index=255
    )(logits, targets)
    torch.testing.assert_close(head(features, targets)[1]["loss_sem_seg"], expected)
    assert fpn_pair(loss={"ce": 1.0, "dice": 0.5})[1].sem_seg_loss.weights == {"ce": 1.0, "dice": 0.5}


def test_the_loss_switches_at_loss_switch_iter():
    stock, head = fpn_pair(loss="gce", loss_kwargs={"q": 0.7}, loss_switch_iter=10)
    features, targets = features_and_targets()
    with EventStorage(start_iter=9):
        assert torch.equal(head(features, targets)[1]["loss_sem_seg"], stock(features, targets)[1]["loss_sem_seg"])
    with EventStorage(start_iter=10):
        expected = build_loss("gce", q=0.7, ignore_index=255)(upsampled_logits(head, features), targets)
        torch.testing.assert_close(head(features, targets)[1]["loss_sem_seg"], expected)


@pytest.mark.parametrize(
    "loss, kwargs, message",
    [
        ("softmax_ce", {}, "unknown loss 'softmax_ce'"),
        ("ce + half * dice", {}, "cannot read the term"),
        ("combination", {}, "needs loss_kwargs bg_index"),
        ("gce", {"q": 2.0}, "q must be"),
        ("ce + dice", {"smooth": 2.0}, "per term"),
    ],
)
def test_bad_loss_settings_fail_at_construction_with_one_line(loss, kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        NoisySemSegFPNHead(**FPN_ARGS, loss=loss, loss_kwargs=kwargs)
    assert "\n" not in str(info.value)


def test_a_classification_only_loss_is_refused_by_a_dense_head():
    from noisy_seg.losses import CLASSIFICATION, LOSS_REGISTRY, register_loss

    def box_only(logits, targets, *, reduction="mean", weight=None):
        return logits.sum() * 0

    register_loss("_box_only", box_only, kind=CLASSIFICATION)
    try:
        with pytest.raises(ValueError, match="is a classification loss; a semantic head needs a dense loss"):
            NoisySemSegFPNHead(**FPN_ARGS, loss="_box_only")
    finally:
        LOSS_REGISTRY.pop("_box_only", None)


def test_yacs_and_lazyconfig_build_the_head():
    cfg = add_noisy_seg_config(get_cfg())
    cfg.MODEL.SEM_SEG_HEAD.NAME = "NoisySemSegFPNHead"
    cfg.MODEL.SEM_SEG_HEAD.IN_FEATURES = ["p2", "p3"]
    cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES = C
    cfg.MODEL.SEM_SEG_HEAD.CONVS_DIM = 8
    cfg.MODEL.SEM_SEG_HEAD.NORM = ""
    cfg.merge_from_list(
        [
            "MODEL.SEM_SEG_HEAD.LOSS",
            "gce",
            "MODEL.SEM_SEG_HEAD.LOSS_SWITCH_ITER",
            "5",
            "MODEL.SEM_SEG_HEAD.PREDICTOR_INIT_STD",
            "0.01",
        ]
    )
    cfg.MODEL.SEM_SEG_HEAD.LOSS_KWARGS.q = 0.7  # a new key of a new_allowed node: by attribute or from a yaml
    head = build_sem_seg_head(cfg, SHAPES)
    assert isinstance(head, NoisySemSegFPNHead) and head.sem_seg_loss.loss_switch_iter == 5
    assert head.sem_seg_loss.terms["gce"].options["q"] == 0.7
    assert torch.count_nonzero(head.predictor.bias) == 0 and head.predictor.weight.std() < 0.05
    lazy = instantiate(L(NoisySemSegFPNHead)(**FPN_ARGS, loss="ce + 0.5 * lovasz"))
    assert lazy.sem_seg_loss.weights == {"ce": 1.0, "lovasz": 0.5}


def deeplab_cfg(loss="ce", loss_type="cross_entropy"):
    cfg = get_cfg()
    add_deeplab_config(cfg)
    add_noisy_seg_config(cfg)
    head = cfg.MODEL.SEM_SEG_HEAD
    head.IN_FEATURES, head.PROJECT_FEATURES, head.PROJECT_CHANNELS = ["p2", "p3"], ["p2"], [8]
    head.ASPP_CHANNELS, head.CONVS_DIM, head.NUM_CLASSES, head.COMMON_STRIDE = 8, 8, C, 4
    head.NORM, head.LOSS_TYPE, head.LOSS = "", loss_type, loss
    head.ASPP_DILATIONS = [1, 2, 3]
    return cfg


@pytest.mark.parametrize("loss_type", ["cross_entropy", "hard_pixel_mining"])
def test_deeplab_head_keeps_its_layers_and_its_own_loss_with_ce(loss_type):
    cfg = deeplab_cfg(loss_type=loss_type)
    torch.manual_seed(0)
    stock = DeepLabV3PlusHead(cfg, SHAPES).train()
    cfg.MODEL.SEM_SEG_HEAD.NAME = "NoisyDeepLabV3PlusHead"
    torch.manual_seed(0)
    noisy = build_sem_seg_head(cfg, SHAPES).train()
    assert isinstance(noisy, NoisyDeepLabV3PlusHead)
    for key, value in stock.state_dict().items():
        assert torch.equal(value, noisy.state_dict()[key]), key
    features, targets = features_and_targets()
    torch.manual_seed(1)
    expected = stock(features, targets)[1]["loss_sem_seg"]
    torch.manual_seed(1)
    assert torch.equal(noisy(features, targets)[1]["loss_sem_seg"], expected)


def test_deeplab_head_with_a_robust_loss():
    cfg = deeplab_cfg(loss="sce")
    cfg.MODEL.SEM_SEG_HEAD.LOSS_KWARGS.alpha, cfg.MODEL.SEM_SEG_HEAD.LOSS_KWARGS.beta = 1.0, 0.5
    cfg.MODEL.SEM_SEG_HEAD.NAME = "NoisyDeepLabV3PlusHead"
    head = build_sem_seg_head(cfg, SHAPES).train()
    features, targets = features_and_targets()
    torch.manual_seed(1)
    value = head(features, targets)[1]["loss_sem_seg"]
    logits = F.interpolate(head.layers(features), scale_factor=4, mode="bilinear", align_corners=False)
    torch.testing.assert_close(value, build_loss("sce", alpha=1.0, beta=0.5, ignore_index=255)(logits, targets))


def test_sem_seg_loss_alone_follows_the_switch():
    loss = SemSegLoss("mae", ignore_value=255, num_classes=C, loss_switch_iter=3)
    logits, targets = torch.randn(1, C, 4, 4), torch.randint(0, C, (1, 4, 4))
    with EventStorage(start_iter=2):
        torch.testing.assert_close(loss(logits, targets), F.cross_entropy(logits, targets, ignore_index=255))
    with EventStorage(start_iter=3):
        torch.testing.assert_close(loss(logits, targets), build_loss("mae")(logits, targets))


def test_memorization_curve_of_pixels_through_noisy_semantic_segmentor():
    """Hand-made maps: 16 corrupted pixels (clean 1, noisy 0), a model that predicts class 1 everywhere: all of
    them are predicted as the clean label, none as the noisy one."""
    from detectron2.modeling.backbone import Backbone

    from noisy_seg.modeling import NoisySemanticSegmentor

    class Constant(Backbone):
        def forward(self, x):
            n, _, h, w = x.shape
            return {"p2": torch.zeros(n, 8, h // 4, w // 4), "p3": torch.zeros(n, 8, h // 8, w // 8)}

        def output_shape(self):
            return SHAPES

    head = NoisySemSegFPNHead(**FPN_ARGS)
    with torch.no_grad():  # predict class 1 everywhere
        head.predictor.weight.zero_()
        head.predictor.bias.copy_(torch.arange(C, dtype=torch.float32) == 1)
    model = NoisySemanticSegmentor(backbone=Constant(), sem_seg_head=head, pixel_mean=[0, 0, 0], pixel_std=[1, 1, 1])
    noisy = torch.zeros(32, 32, dtype=torch.long)
    clean = noisy.clone()
    clean[:2, :8] = 1  # 16 corrupted pixels: clean 1 -> noisy 0
    noisy[5, :4] = 255  # ignored pixels do not count
    batch = [{"image": torch.zeros(3, 32, 32), "sem_seg": noisy, "sem_seg_clean": clean, "height": 32, "width": 32}]
    with EventStorage(start_iter=MEMORIZATION_LOG_PERIOD - 1) as storage:  # a writer iteration (every 20th)
        model.train()(batch)
        scalars = {k: v[0] for k, v in storage.latest().items()}
    assert scalars["memorization/pred_is_clean_label"] == pytest.approx(1.0)
    assert scalars["memorization/pred_is_noisy_label"] == pytest.approx(0.0)
    assert scalars["memorization/pred_is_other_label"] == pytest.approx(0.0)
    assert "memorization/pred_is_background" not in scalars  # pixels: background is a class like the others
    assert scalars["memorization/noisy_pixel_fraction"] == pytest.approx(16 / (32 * 32 - 4))
    assert head.clean_targets is None  # handed over for one forward only
    with EventStorage(start_iter=MEMORIZATION_LOG_PERIOD - 1) as storage:  # without the clean maps: nothing logged
        model([{k: v for k, v in batch[0].items() if k != "sem_seg_clean"}])
        assert not any(k.startswith("memorization/") for k in storage.latest())


@pytest.mark.parametrize(
    "loss, kwargs", [("combination", {"bg_index": [0, 6]}), ("region_aware", {"background_index": 9})]
)
def test_a_background_outside_the_heads_classes_fails_at_construction(loss, kwargs):
    with pytest.raises(ValueError, match=r"outside the head's 6 classes") as info:
        NoisySemSegFPNHead(**FPN_ARGS, loss=loss, loss_kwargs=kwargs)
    assert "\n" not in str(info.value)


def test_class_aware_ce_uses_the_image_tags_the_segmentor_hands_over():
    from detectron2.modeling.backbone import Backbone

    from noisy_seg.modeling import NoisySemanticSegmentor

    class Random(Backbone):
        def forward(self, x):
            g = torch.Generator().manual_seed(0)
            n, _, h, w = x.shape
            return {
                "p2": torch.randn(n, 8, h // 4, w // 4, generator=g),
                "p3": torch.randn(n, 8, h // 8, w // 8, generator=g),
            }

        def output_shape(self):
            return SHAPES

    torch.manual_seed(0)
    head = NoisySemSegFPNHead(**FPN_ARGS, loss="cce")
    model = NoisySemanticSegmentor(backbone=Random(), sem_seg_head=head, pixel_mean=[0, 0, 0], pixel_std=[1, 1, 1])
    targets = torch.zeros(32, 32, dtype=torch.long)
    targets[:8] = 2
    tags = torch.tensor([True, False, True, False, True, False])  # a weak tag (class 4) the map does not show
    batch = [{"image": torch.zeros(3, 32, 32), "sem_seg": targets, "present_classes": tags}]
    model.train()
    with EventStorage(0):
        with_tags = model(batch)["loss_sem_seg"]
        from_map = model([{k: v for k, v in batch[0].items() if k != "present_classes"}])["loss_sem_seg"]
    features = Random()(torch.zeros(1, 3, 32, 32))
    logits = upsampled_logits(head, features)
    cce = build_loss("cce", ignore_index=255)
    torch.testing.assert_close(with_tags, cce(logits, targets[None], present=tags[None]))
    torch.testing.assert_close(from_map, cce(logits, targets[None]))
    assert not torch.equal(with_tags, from_map) and head.present_classes is None


def test_it_is_panoptic_fpns_semantic_head_by_one_target_line():
    from detectron2 import model_zoo
    from detectron2.modeling import PanopticFPN

    model_cfg = model_zoo.get_config("common/models/panoptic_fpn.py").model
    model_cfg.sem_seg_head._target_ = NoisySemSegFPNHead
    model_cfg.sem_seg_head.loss = "combination"
    model_cfg.sem_seg_head.loss_kwargs = {"bg_index": [0]}  # Panoptic FPN's merged "things" class is 0
    model = instantiate(model_cfg)
    assert isinstance(model, PanopticFPN) and isinstance(model.sem_seg_head, NoisySemSegFPNHead)
    assert model.sem_seg_head.sem_seg_loss.loss_name == "combination"


# ------------------------------------------------------------------------------ label maps the noise emptied
TOY_CLASSES = 19  # the toy data's Cityscapes label space


class _RandomFeatures(Backbone):
    """p2 / p3 features of any image batch: the heads alone, cheap."""

    def forward(self, x):
        g = torch.Generator().manual_seed(0)
        n, _, h, w = x.shape
        return {
            "p2": torch.randn(n, 8, h // 4, w // 4, generator=g),
            "p3": torch.randn(n, 8, h // 8, w // 8, generator=g),
        }

    def output_shape(self):
        return SHAPES


def _semantic_noise_names() -> list:
    """Every short-name form of every registered semantic noise, at rate 90."""
    return [
        prefix + "90" for entry in NOISE_REGISTRY.values() if entry.part == "semantic_noise" for prefix in entry.short
    ]


@pytest.fixture(scope="module")
def emptied_maps(tiny_toy):
    """A toy label map through NoisySemSegDatasetMapper under every semantic noise name, then the maps the noise
    emptied: all background (sembg100) and all ignored (semignore100 where background is a region too)."""
    from detectron2.data import DatasetCatalog

    from noisy_seg.data import NoisySemSegDatasetMapper

    record = DatasetCatalog.get("toy_tiny_cityscapes_sem_seg_train")[0]
    names = [(name, 0) for name in _semantic_noise_names()] + [("sembg100", 0), ("semignore100", None)]
    maps = [
        NoisySemSegDatasetMapper(
            is_train=True,
            augmentations=[],
            image_format="BGR",
            noise=name,
            num_classes=TOY_CLASSES,
            background_label=background,
            keep_clean_sem_seg=True,
        )(dict(record))
        for name, background in names
    ]
    assert maps[-2]["sem_seg"].unique().tolist() == [0] and maps[-1]["sem_seg"].unique().tolist() == [255]
    return maps


def _every_dense_loss() -> dict:
    """Every registered dense loss in one sum, with the options that have no default."""
    names = [n for n in available_losses() if loss_spec(n).takes_dense_logits]
    options = {"gce": {"q": 0.7}, "sce": {"alpha": 1.0, "beta": 0.1}, "combination": {"bg_index": [0]}}
    return {"loss": {name: 1.0 for name in names}, "loss_kwargs": {name: options.get(name, {}) for name in names}}


def _emptied_head(name, loss):
    torch.manual_seed(0)
    if name == "fpn":
        return NoisySemSegFPNHead(**{**FPN_ARGS, "num_classes": TOY_CLASSES}, **loss)
    cfg = deeplab_cfg()
    cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES = TOY_CLASSES
    return NoisyDeepLabV3PlusHead(cfg, SHAPES, **loss)


@pytest.mark.parametrize("loss", ["ce", "every_dense_loss"])
@pytest.mark.parametrize("head_name", ["fpn", "deeplab"])
def test_every_noise_trains_a_step_on_maps_it_emptied(head_name, loss, emptied_maps):
    """A batch with every semantic noise's map and the maps noise left all background / all ignored trains, with
    the memorization counted; a batch of all-ignored maps gives a 0 loss (the stock mean CE over no pixel was NaN,
    on which detectron2's trainer stops)."""
    head = _emptied_head(head_name, _every_dense_loss() if loss != "ce" else {})
    model = NoisySemanticSegmentor(
        backbone=_RandomFeatures(), sem_seg_head=head, pixel_mean=[0, 0, 0], pixel_std=[1, 1, 1]
    ).train()
    set_memorization_log_period(model, 1)
    with EventStorage(0) as storage:
        value = model(emptied_maps)["loss_sem_seg"]
        assert torch.isfinite(value) and value > 0
        value.backward()
        assert "memorization/pred_is_clean_label" in storage.latest()
        all_ignored = model(emptied_maps[-1:] * 2)["loss_sem_seg"]
    assert all_ignored.item() == 0.0
    all_ignored.backward()
    assert all(torch.isfinite(p.grad).all() for p in head.parameters() if p.grad is not None)
