"""Perceptual and semantic text generators: wording, variety, determinism and leak checks."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from declip_core.training.data.texts import (
    HELDOUT_QUERIES,
    PERCEPTUAL_VOCAB,
    QUALITY_WORDS,
    Attributes,
    Captioner,
    LabelCaptioner,
    UserCaptions,
    ZeroShotCaptioner,
    aesthetic_text,
    bucket_attributes,
    clean_semantic_text,
    label_sentence,
    measure_attributes,
    mos_bucket,
    perceptual_text_from_attributes,
    perceptual_text_from_distortions,
    perceptual_text_from_mos,
    vocabulary_phrases,
)
from declip_core.training.data.texts.attribute_text import ATTRIBUTE_WORDS
from declip_core.training.data.texts.attributes import ATTRIBUTE_NAMES, ATTRIBUTE_THRESHOLDS, bucket, immerkaer_sigma
from declip_core.training.data.texts.quality_words import QUALITY_MODIFIERS
from declip_core.imagenet import imagenet_classes
from declip_core.samples import sample_paths

NAMES = PERCEPTUAL_VOCAB["distortion_names"]
LEVEL_ADV = PERCEPTUAL_VOCAB["level_adverbs"]
LEVEL_ADJ = PERCEPTUAL_VOCAB["level_adjectives"]
EXPECTED_NAMES = {
    "gaussian_blur", "lens_blur", "motion_blur", "color_diffusion", "color_shift", "color_quantization",
    "saturate_up", "saturate_down", "jpeg2000", "jpeg", "white_noise", "white_noise_color", "impulse_noise",
    "multiplicative_noise", "denoise", "brighten", "darken", "mean_shift", "jitter", "non_eccentric_patch",
    "pixelate", "quantization", "color_block", "high_sharpen", "contrast_change",
}
# Class-name tokens that are generic perceptual words, allowed in perceptual texts despite
# appearing in an ImageNet name. Keep tiny; each needs a reason.
CONTENT_WHITELIST = {
    "light": "illumination is a core perceptual attribute; ImageNet has it only inside 'traffic light'",
}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def random_chain(r: np.random.Generator) -> list[tuple[str, int]]:
    k = int(r.integers(0, 5))
    return [(str(n), int(r.integers(1, 6))) for n in r.choice(NAMES, size=k, replace=False)]


def random_attrs(r: np.random.Generator) -> Attributes:
    return Attributes(
        sharpness=float(r.uniform(0, 2000)), noise=float(r.uniform(0, 12)), exposure=float(r.uniform(0, 1)),
        contrast=float(r.uniform(0, 0.5)), colourfulness=float(r.uniform(0, 120)),
    )


def random_aesthetic(r: np.random.Generator) -> str:
    kind = int(r.integers(3))
    if kind == 0:
        return aesthetic_text(r, negative=str(r.choice(list(PERCEPTUAL_VOCAB["negative_words"]))))
    scores = {n: float(r.uniform(-1, 1)) for n in PERCEPTUAL_VOCAB["aesthetic_attributes"] if r.random() < 0.6}
    return aesthetic_text(r, scores=scores, ava_mean=float(r.uniform(1, 10)) if kind == 2 or not scores else None)


def all_perceptual_texts(n: int = 1500) -> list[str]:
    """n texts from each perceptual generator."""
    r = rng(1234)
    out = [perceptual_text_from_distortions(random_chain(r), r) for _ in range(2 * n)]
    out += [perceptual_text_from_attributes(random_attrs(r), r) for _ in range(n)]
    out += [perceptual_text_from_mos(float(r.uniform(0, 1)), r) for _ in range(n)]
    out += [random_aesthetic(r) for _ in range(n)]
    return out


@pytest.fixture(scope="module")
def perceptual_texts() -> list[str]:
    return all_perceptual_texts()


@pytest.fixture(scope="module")
def samples() -> list[np.ndarray]:
    out = []
    for p in sample_paths():
        with Image.open(p) as im:
            out.append(np.asarray(im.convert("RGB")))
    return out


# --- distortion texts -------------------------------------------------------------------------

def test_distortion_table_covers_exactly_the_named_distortions() -> None:
    assert set(NAMES) == EXPECTED_NAMES


def test_example_style_and_determinism() -> None:
    chain = [("gaussian_blur", 3), ("jpeg", 2), ("darken", 1)]
    a = perceptual_text_from_distortions(chain, rng(7))
    assert a == perceptual_text_from_distortions(chain, rng(7))
    assert a and a == a.strip()


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_each_distortion_level_uses_its_words(name: str, level: int) -> None:
    desc = PERCEPTUAL_VOCAB["distortion_words"][name]
    own = {w for p in (*LEVEL_ADV[level], *LEVEL_ADJ[level]) for w in words(p)} - {"a"}
    others = {w for lv in range(1, 6) if lv != level for p in (*LEVEL_ADV[lv], *LEVEL_ADJ[lv]) for w in words(p)}
    others -= own | {"a"}
    for seed in range(12):
        text = perceptual_text_from_distortions([(name, level)], rng(seed))
        toks = set(words(text))
        assert toks & own, text
        assert not toks & others, text
        flat = text.lower().replace("-", " ")
        assert any(p.lower().replace("-", " ") in flat for p in (*desc.adjectives, *desc.nouns)), text


def test_distortion_variety() -> None:
    chain = [("motion_blur", 4), ("white_noise", 2)]
    texts = {perceptual_text_from_distortions(chain, rng(s)) for s in range(50)}
    assert len(texts) >= 20


def test_clean_texts_vary_and_say_clean() -> None:
    texts = {perceptual_text_from_distortions([], rng(s)) for s in range(50)}
    assert len(texts) >= 20
    clean_words = {"clean", "sharp", "focus", "exposed", "noise", "artefacts", "distortion", "pristine",
                   "undistorted", "fidelity", "focused", "rendered", "degradation", "problems", "free"}
    assert all(set(words(t)) & clean_words for t in texts)


def test_repeated_distortion_keeps_the_highest_level() -> None:
    text = perceptual_text_from_distortions([("jpeg", 1), ("jpeg", 5)], rng(3))
    assert set(words(text)) & {w for p in (*LEVEL_ADV[5], *LEVEL_ADJ[5]) for w in words(p)}


@pytest.mark.parametrize("chain", [
    [("not_a_distortion", 1)], [("jpeg", 0)], [("jpeg", 6)], [("jpeg", 2.0)], [("jpeg", True)], [("jpeg",)],
    ["jpeg"],
])
def test_bad_chains_raise(chain: list) -> None:
    with pytest.raises(ValueError):
        perceptual_text_from_distortions(chain, rng())


def test_rng_must_be_a_generator() -> None:
    with pytest.raises(ValueError):
        perceptual_text_from_distortions([("jpeg", 1)], 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        perceptual_text_from_mos(0.5, np.random.RandomState(0))  # type: ignore[arg-type]


# --- attribute texts --------------------------------------------------------------------------

def test_attribute_estimators_move_the_right_way(samples: list[np.ndarray]) -> None:
    noise_rng = rng(5)
    for img in samples:
        base = measure_attributes(img)
        blurred = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(3)))
        assert measure_attributes(blurred).sharpness < base.sharpness
        noisy = np.clip(img + noise_rng.normal(0, 15, img.shape), 0, 255).astype(np.uint8)
        assert measure_attributes(noisy).noise > base.noise
        dark = (img * 0.5).astype(np.uint8)
        assert measure_attributes(dark).exposure < base.exposure
        flat = (img.mean() + 0.4 * (img - img.mean())).astype(np.uint8)
        assert measure_attributes(flat).contrast < base.contrast
        grey = np.repeat((img @ np.array([0.299, 0.587, 0.114]))[..., None], 3, axis=2).astype(np.uint8)
        assert measure_attributes(grey).colourfulness < 1.0 <= base.colourfulness or base.colourfulness < 1.0


def test_immerkaer_recovers_known_noise_on_a_flat_image() -> None:
    noise = rng(0).normal(0, 10, (256, 256))
    assert immerkaer_sigma(128 + noise) == pytest.approx(10, rel=0.05)


def test_attribute_buckets_at_thresholds() -> None:
    for name in ATTRIBUTE_NAMES:
        edges = ATTRIBUTE_THRESHOLDS[name]
        assert len(ATTRIBUTE_WORDS[name]) == len(edges) + 1
        assert bucket(name, 0.0) == 0
        for i, e in enumerate(edges):
            assert bucket(name, e) == i + 1
            assert bucket(name, math.nextafter(e, -math.inf)) == i
    with pytest.raises(ValueError):
        bucket("sharpness", math.nan)
    with pytest.raises(ValueError):
        bucket("loudness", 1.0)


def test_attribute_text_uses_bucket_words_and_varies() -> None:
    attrs = Attributes(sharpness=10.0, noise=20.0, exposure=0.9, contrast=0.05, colourfulness=100.0)
    levels = bucket_attributes(attrs)
    assert dict(levels) == {"sharpness": 0, "noise": 3, "exposure": 4, "contrast": 0, "colourfulness": 4}
    texts = {perceptual_text_from_attributes(attrs, rng(s)) for s in range(50)}
    assert len(texts) >= 20
    for t in texts:
        for name, lv in levels.items():
            adjs, nouns = ATTRIBUTE_WORDS[name][lv]
            assert any(p in t for p in (*adjs, *nouns)), (name, t)


def test_attribute_text_of_a_real_photo_is_deterministic(samples: list[np.ndarray]) -> None:
    attrs = measure_attributes(samples[0])
    assert perceptual_text_from_attributes(attrs, rng(9)) == perceptual_text_from_attributes(attrs, rng(9))


@pytest.mark.parametrize("bad", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.float32),
                                 np.zeros((2, 8, 3), np.uint8), [[0, 0, 0]]])
def test_measure_attributes_rejects_bad_images(bad: object) -> None:
    with pytest.raises(ValueError):
        measure_attributes(bad)  # type: ignore[arg-type]


def test_attributes_reject_negative_or_nan() -> None:
    with pytest.raises(ValueError):
        Attributes(sharpness=-1.0, noise=0.0, exposure=0.5, contrast=0.1, colourfulness=0.0)
    with pytest.raises(ValueError):
        Attributes(sharpness=1.0, noise=math.nan, exposure=0.5, contrast=0.1, colourfulness=0.0)


# --- MOS texts --------------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    (0.0, "bad"), (math.nextafter(0.2, 0), "bad"), (0.2, "poor"), (math.nextafter(0.4, 0), "poor"), (0.4, "fair"),
    (math.nextafter(0.6, 0), "fair"), (0.6, "good"), (math.nextafter(0.8, 0), "good"), (0.8, "excellent"),
    (1.0, "excellent"), (np.float32(0.5), "fair"),
])
def test_mos_buckets_at_boundaries(value: float, expected: str) -> None:
    assert mos_bucket(value) == expected
    mos_words = PERCEPTUAL_VOCAB["mos_words"][expected]
    for s in range(10):
        text = perceptual_text_from_mos(value, rng(s))
        assert any(re.search(rf"\b{re.escape(w)}\b", text) for w in mos_words), text


@pytest.mark.parametrize("bad", [-0.01, 1.01, math.nan, math.inf, True, "0.5", None])
def test_mos_rejects_bad_values(bad: object) -> None:
    with pytest.raises(ValueError):
        mos_bucket(bad)  # type: ignore[arg-type]


def test_mos_variety() -> None:
    assert len({perceptual_text_from_mos(0.7, rng(s)) for s in range(50)}) >= 20


# --- aesthetic texts --------------------------------------------------------------------------

def test_aesthetic_scores_pick_the_right_bucket() -> None:
    words_ = PERCEPTUAL_VOCAB["aesthetic_words"]
    for s in range(20):
        text = aesthetic_text(rng(s), scores={"composition": 0.9, "lighting": -0.9, "colour_harmony": 0.0})
        assert any(p in text for p in words_["composition"][2]), text
        assert any(p in text for p in words_["lighting"][0]), text
        assert any(p in text for p in words_["colour_harmony"][1]), text


def test_aesthetic_aadb_aliases_and_ava() -> None:
    text = aesthetic_text(rng(0), scores={"RuleOfThirds": 0.8, "Symmetry": 0.6, "Content": -1.0}, ava_mean=7.5)
    assert any(p in text for p in PERCEPTUAL_VOCAB["aesthetic_words"]["composition"][2])
    assert any(p in text for p in PERCEPTUAL_VOCAB["ava_words"][4])
    assert len({aesthetic_text(rng(s), ava_mean=3.0) for s in range(50)}) >= 8
    assert len({aesthetic_text(rng(s), scores={"Light": 0.5, "DoF": -0.5}) for s in range(50)}) >= 20


@pytest.mark.parametrize("kwargs", [
    {}, {"scores": {"sharpness": 0.5}}, {"scores": {"composition": 1.5}}, {"ava_mean": 0.5}, {"ava_mean": 11},
    {"negative": "nope"}, {"negative": "bad_crop", "ava_mean": 5.0}, {"scores": {"Content": 0.3}},
])
def test_aesthetic_bad_inputs_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        aesthetic_text(rng(), **kwargs)


def test_aesthetic_negative_texts_vary() -> None:
    for name in PERCEPTUAL_VOCAB["negative_words"]:
        assert len({aesthetic_text(rng(s), negative=name) for s in range(50)}) >= 20


# --- content leak and held-out queries -----------------------------------------------------------

def test_whitelist_is_tiny_and_real() -> None:
    class_tokens = {w for n in imagenet_classes() for w in re.findall(r"[a-z]+", n.lower())}
    assert len(CONTENT_WHITELIST) <= 3
    assert set(CONTENT_WHITELIST) <= class_tokens


def test_perceptual_texts_never_name_content(perceptual_texts: list[str]) -> None:
    content = {w for n in imagenet_classes() for w in re.findall(r"[a-z]+", n.lower()) if len(w) >= 4}
    content -= set(CONTENT_WHITELIST)
    assert len(perceptual_texts) >= 5000
    heldout = [q for pairs in HELDOUT_QUERIES.values() for pair in pairs for q in pair]
    leaks = {}
    for t in (*perceptual_texts, *vocabulary_phrases(), *heldout):
        hit = set(re.findall(r"[a-z]+", t.lower())) & content
        if hit:
            leaks[t] = hit
    assert not leaks, list(leaks.items())[:10]


def test_leak_check_would_catch_a_content_word() -> None:
    content = {w for n in imagenet_classes() for w in re.findall(r"[a-z]+", n.lower()) if len(w) >= 4}
    assert {"tabby", "goldfish", "pepper", "soft", "white"} <= content  # words the vocab must avoid


def test_heldout_queries_shape() -> None:
    families = {"sharpness", "noise", "exposure", "colour", "contrast", "compression"}
    assert families <= set(HELDOUT_QUERIES)
    all_phrases = []
    for fam in families:
        pairs = HELDOUT_QUERIES[fam]
        assert len(pairs) >= 30
        assert len(set(pairs)) == len(pairs)
        for good, bad in pairs:
            assert good != bad and good.strip() == good and bad.strip() == bad
            all_phrases += [good, bad]
    assert len(set(all_phrases)) == len(all_phrases)


def test_templates_never_produce_heldout_queries(perceptual_texts: list[str]) -> None:
    generated = [t.lower() for t in perceptual_texts]
    generator_words = {w for t in (*perceptual_texts, *vocabulary_phrases()) for w in words(t)}
    blob = "\n".join(generated)
    for pairs in HELDOUT_QUERIES.values():
        for phrase in (q for pair in pairs for q in pair):
            assert phrase.lower() not in blob, phrase
            assert set(words(phrase)) - generator_words, f"{phrase!r} uses only generator words"


# --- semantic texts ---------------------------------------------------------------------------

def test_semantic_texts_over_imagenet_carry_no_quality_words() -> None:
    labels = imagenet_classes()
    texts = []
    for i, lbl in enumerate(labels):
        r = rng(i)
        texts.append(label_sentence([(lbl, 0.9)], r))
        texts.append(label_sentence([(lbl, 0.6), (labels[(i + 1) % 1000], 0.3)], r))
    assert len(texts) == 2000
    bad = [t for t in texts if set(words(t)) & QUALITY_WORDS]
    assert not bad, bad[:5]
    assert sum("possibly" in t or "perhaps" in t or "maybe" in t or " or " in t or "might" in t for t in texts) >= 500


def test_label_sentence_example_and_variety() -> None:
    topk = [("tabby cat", 0.55), ("Egyptian cat", 0.3)]
    texts = {label_sentence(topk, rng(s)) for s in range(50)}
    assert "a photo of a tabby cat, possibly an Egyptian cat" in texts
    assert len(texts) >= 5
    assert all("tabby cat" in t for t in texts)
    assert all("Egyptian" not in t for t in {label_sentence([("tabby cat", 0.95), ("Egyptian cat", 0.01)],
                                                            rng(s)) for s in range(20)})


def test_labels_are_cleaned_of_quality_words() -> None:
    text = label_sentence([("dark chocolate bar, candy", 0.9)], rng(0))
    assert "chocolate bar" in text and "dark" not in text and "candy" not in text
    with pytest.raises(ValueError):
        label_sentence([("blurry", 0.9)], rng(0))
    with pytest.raises(ValueError):
        label_sentence([], rng(0))
    with pytest.raises(ValueError):
        label_sentence([("cat", 1.5)], rng(0))


@pytest.mark.parametrize("raw,clean", [
    ("a blurry photo of a dog", "a photo of a dog"),
    ("A very blurry, low-quality photo of a dog.", "A photo of a dog."),
    ("a dark and grainy image of a cat", "an image of a cat"),
    ("a photo of a dog, slightly blurry and dark", "a photo of a dog"),
    ("a photo of a dog with motion blur taken at night", "a photo of a dog taken at night"),
    ("an out-of-focus shot of an owl", "a shot of an owl"),
    ("a photo of a dog with heavy JPEG compression artifacts", "a photo of a dog"),
    ("4K HDR photo of a city skyline", "photo of a city skyline"),
    ("a photo of a dog and a cat", "a photo of a dog and a cat"),
    ("a washed out photo of an old barn in low light", "a photo of an old barn"),
    ("blurry", ""),
])
def test_clean_semantic_text_examples(raw: str, clean: str) -> None:
    assert clean_semantic_text(raw) == clean


def test_clean_semantic_text_keeps_clean_imagenet_captions() -> None:
    for lbl in imagenet_classes():
        caption = f"a photo of a {lbl}"
        assert clean_semantic_text(caption) == caption


_CONTENT = st.sampled_from(["dog", "cat", "a", "photo", "of", "on", "grass", "red", "car", "and", "with", ","])
_QUALITY = st.sampled_from(sorted(QUALITY_WORDS) + ["out of focus", "low-quality", "JPEG", "Blurry", "over-exposed"])
_MODS = st.sampled_from(sorted(QUALITY_MODIFIERS))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_CONTENT, _QUALITY, _MODS), min_size=1, max_size=14))
def test_clean_semantic_text_never_leaves_quality_words(parts: list[str]) -> None:
    out = clean_semantic_text(" ".join(parts))
    assert not set(words(out)) & QUALITY_WORDS, out


def test_clean_semantic_text_rejects_non_strings() -> None:
    with pytest.raises(ValueError):
        clean_semantic_text(None)  # type: ignore[arg-type]


def test_user_captions_passthrough_and_cleaning() -> None:
    img = Image.new("RGB", (8, 8))
    img.filename = "/data/x/img_001.jpg"  # type: ignore[attr-defined]
    cap = UserCaptions({"img_001.jpg": "a noisy photo of a red bicycle"})
    assert isinstance(cap, Captioner)
    assert cap.caption([img]) == ["a photo of a red bicycle"]
    with pytest.raises(ValueError):
        UserCaptions({"other.jpg": "x"}).caption([img])
    with pytest.raises(ValueError):
        UserCaptions({"img_001.jpg": "very blurry"}).caption([img])
    keyed = UserCaptions({"k": "a cat on a sofa"}, key=lambda im: "k")
    assert keyed.caption([Image.new("RGB", (4, 4))]) == ["a cat on a sofa"]


def test_label_captioner_is_seeded_and_batch_independent() -> None:
    preds = {0: [("tabby cat", 0.6), ("tiger cat", 0.3)], 1: [("goldfish", 0.99)]}
    images = [Image.new("RGB", (4, 4), (i, 0, 0)) for i in range(2)]

    def label_fn(ims):
        return [preds[im.getpixel((0, 0))[0]] for im in ims]

    cap = LabelCaptioner(label_fn, seed=3)
    assert isinstance(cap, Captioner)
    both = cap.caption(images)
    assert both == LabelCaptioner(label_fn, seed=3).caption(images)
    assert cap.caption(images[1:]) == both[1:]
    assert "tabby cat" in both[0] and "goldfish" in both[1]
    with pytest.raises(ValueError):
        LabelCaptioner(lambda ims: [], seed=0).caption(images)
    with pytest.raises(ValueError):
        LabelCaptioner(label_fn, seed=-1)


def test_zero_shot_captioner_picks_nearest_labels() -> None:
    labels = ["tabby cat", "Egyptian cat", "goldfish", "tench"]
    label_emb = np.eye(4, 8)
    image_emb = np.array([[1.0, 0.9, 0, 0, 0, 0, 0, 0], [0, 0, 0.1, 1.0, 0, 0, 0, 0]])
    zs = ZeroShotCaptioner(labels, label_emb, encode_images=lambda ims: image_emb[: len(ims)], k=2, logit_scale=10)
    top = zs.top_k(image_emb)
    assert [lbl for lbl, _ in top[0]] == ["tabby cat", "Egyptian cat"]
    assert top[1][0][0] == "tench"
    caps = zs.caption([Image.new("RGB", (4, 4))] * 2)
    assert "tabby cat" in caps[0] and "tench" in caps[1]
    assert caps == zs.caption_embeddings(image_emb)
    assert isinstance(zs, Captioner)
    with pytest.raises(ValueError):
        zs.top_k(np.ones((1, 3)))
    with pytest.raises(ValueError):
        ZeroShotCaptioner(labels, np.eye(3, 8))
    with pytest.raises(ValueError):
        ZeroShotCaptioner(labels, label_emb, k=5)
    with pytest.raises(ValueError):
        ZeroShotCaptioner(labels, label_emb).caption([Image.new("RGB", (4, 4))])


def test_zero_shot_captioner_accepts_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    zs = ZeroShotCaptioner(["goldfish", "tench"], torch.eye(2))
    assert "goldfish" in zs.caption_embeddings(torch.tensor([[1.0, 0.0]], requires_grad=True))[0]
