"""DP-Adapter: config, forward shapes, token appending, masks, checkpoint round trip, diffusers helper."""
from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from declip_core.adapter import (
    DPAdapter,
    DPAdapterConfig,
    append_tokens,
    extend_attention_mask,
    load_adapter,
    match_batch,
    save_adapter,
)
from declip_core.checkpoint import save_checkpoint


def _adapter(**kw: int) -> DPAdapter:
    torch.manual_seed(0)
    cfg = {"perceptual_dim": 16, "context_dim": 32, "num_tokens": 3, "hidden_dim": 24, **kw}
    return DPAdapter(DPAdapterConfig(**cfg)).eval()


# --- config -----------------------------------------------------------------------------------

def test_family_presets() -> None:
    sd15 = DPAdapterConfig.for_family("sd15", perceptual_dim=128)
    sdxl = DPAdapterConfig.for_family("sdxl", perceptual_dim=128)
    assert (sd15.context_dim, sd15.pooled_dim) == (768, 0)
    assert (sdxl.context_dim, sdxl.pooled_dim) == (2048, 1280)
    with pytest.raises(ValueError, match="unknown model family"):
        DPAdapterConfig.for_family("flux", perceptual_dim=128)


@pytest.mark.parametrize("bad", [{"perceptual_dim": 0}, {"context_dim": -1}, {"num_tokens": 0},
                                 {"semantic_dim": -2}, {"hidden_dim": 1.5}, {"num_tokens": True}])
def test_config_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ValueError):
        DPAdapterConfig(**{"perceptual_dim": 8, "context_dim": 8, **bad})


def test_config_dict_round_trip_and_missing_keys() -> None:
    cfg = DPAdapterConfig(perceptual_dim=8, context_dim=16, semantic_dim=4, pooled_dim=6)
    assert DPAdapterConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="context_dim"):
        DPAdapterConfig.from_dict({"perceptual_dim": 8})


# --- forward ----------------------------------------------------------------------------------

def test_forward_shapes_and_token_norm() -> None:
    out = _adapter()(torch.randn(5, 16))
    assert out.tokens.shape == (5, 3, 32) and out.pooled is None
    # LayerNorm at init: each token has ~zero mean and unit variance over the context width
    torch.testing.assert_close(out.tokens.mean(-1), torch.zeros(5, 3), atol=1e-5, rtol=0)


def test_fresh_pooled_head_is_a_no_op() -> None:
    out = _adapter(pooled_dim=12)(torch.randn(2, 16))
    assert out.pooled is not None and out.pooled.shape == (2, 12)
    assert torch.count_nonzero(out.pooled) == 0


def test_forward_rejects_wrong_inputs() -> None:
    a = _adapter()
    with pytest.raises(ValueError, match="trained for width 16"):
        a(torch.randn(2, 17))
    with pytest.raises(ValueError, match=r"\(B, 16\)"):
        a(torch.randn(16))
    with pytest.raises(ValueError, match="semantic"):
        a(torch.randn(2, 16), torch.randn(2, 8))


def test_semantic_adapter_uses_zeros_when_semantic_missing() -> None:
    a = _adapter(semantic_dim=8)
    p = torch.randn(2, 16)
    torch.testing.assert_close(a(p).tokens, a(p, torch.zeros(2, 8)).tokens)
    assert not torch.allclose(a(p).tokens, a(p, torch.randn(2, 8)).tokens)
    with pytest.raises(ValueError, match=r"\(2, 8\)"):
        a(p, torch.randn(3, 8))


def test_scaled_output() -> None:
    out = _adapter(pooled_dim=4)(torch.randn(1, 16))
    half = out.scaled(0.5)
    torch.testing.assert_close(half.tokens, out.tokens * 0.5)
    assert half.pooled is not None


# --- appending tokens -------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 4), be=st.integers(1, 4), n=st.integers(1, 5), length=st.integers(1, 10))
def test_append_tokens_batch_rules(b: int, be: int, n: int, length: int) -> None:
    ctx, tok = torch.randn(b, length, 6), torch.randn(be, n, 6)
    if b % be != 0 and b != 1:
        with pytest.raises(ValueError, match="cannot be matched"):
            append_tokens(ctx, tok)
        return
    out = append_tokens(ctx, tok)
    extra = be * n if (b == 1 and be > 1) else n
    assert out.shape == (b, length + extra, 6)
    torch.testing.assert_close(out[:, :length], ctx)  # the text part is untouched
    torch.testing.assert_close(out[:, length:], match_batch(tok, b))


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 6), be=st.integers(1, 4), ndim=st.sampled_from([2, 3]))
def test_match_batch_one_rule(b: int, be: int, ndim: int) -> None:
    """Tokens (Be, N, C) and pooled vectors (Be, D) follow the same cases; each sample gets its reference."""
    x = torch.randn(be, 3, 5) if ndim == 3 else torch.randn(be, 5)
    if b % be != 0 and b != 1:
        with pytest.raises(ValueError, match=f"{be} reference embeddings cannot be matched to a conditioning batch of {b}"):
            match_batch(x, b)
        return
    y = match_batch(x, b)
    if b == 1 and be > 1:  # several references on one sample: tokens in one sequence, pooled averaged
        want = x.reshape(1, -1, 5) if ndim == 3 else x.mean(0, keepdim=True)
    else:  # sample i gets reference i // (b / be): shared, one each, or diffusers' num_images_per_prompt order
        want = x[torch.arange(b) // (b // be)]
    torch.testing.assert_close(y, want)
    with pytest.raises(ValueError, match="must be"):
        match_batch(torch.randn(2), 2)


def test_append_tokens_width_mismatch_names_both_widths() -> None:
    with pytest.raises(ValueError, match="768 wide.*2048|2048.*768"):
        append_tokens(torch.randn(1, 77, 768), torch.randn(1, 4, 2048))


def test_append_tokens_casts_to_context_dtype() -> None:
    out = append_tokens(torch.randn(1, 4, 8, dtype=torch.float16), torch.randn(1, 2, 8))
    assert out.dtype == torch.float16


def test_extend_attention_mask_keeps_old_entries() -> None:
    n_txt, n_new, n_ref = 3, 2, 2
    old = torch.arange(25, dtype=torch.float16).view(1, 5, 5)
    new = extend_attention_mask(old, n_txt, n_new, n_ref, bias=-1.0)
    assert new.shape == (1, 7, 7) and new.dtype == torch.float16
    keep = [0, 1, 2, 5, 6]
    torch.testing.assert_close(new[:, keep][:, :, keep], old)
    assert torch.all(new[:, keep][:, :, 3:5] == -1.0)  # old rows -> new columns: the bias
    assert torch.all(new[:, 3:5] == 0)  # the new tokens' own rows stay plain


def test_extend_attention_mask_bool_and_bad_shape() -> None:
    m = torch.tensor([[[True, False], [True, True]]])
    new = extend_attention_mask(m, 1, 1, 1)
    assert new[0, 0, 2] == float("-inf") and new[0, 0, 0] == 0 and new[0, 0, 1] == 0
    with pytest.raises(ValueError, match="attention_mask has shape"):
        extend_attention_mask(torch.zeros(1, 4, 4), 1, 1, 1)


# --- checkpoint -------------------------------------------------------------------------------

def test_save_load_round_trip(tmp_path) -> None:
    a = _adapter(semantic_dim=8, pooled_dim=4)
    with torch.no_grad():
        a.pooled_head.weight.normal_()
    path = save_adapter(a, tmp_path / "ad.safetensors", {"base_model": "tiny"})
    cfg = json.loads((tmp_path / "ad.json").read_text())
    assert cfg["kind"] == "dp_adapter" and cfg["metadata"] == {"base_model": "tiny"} and cfg["sha256"]
    b = load_adapter(path)
    assert b.config == a.config and not b.training
    p, s = torch.randn(2, 16), torch.randn(2, 8)
    ref, got = a(p, s), b(p, s)
    torch.testing.assert_close(got.tokens, ref.tokens)
    torch.testing.assert_close(got.pooled, ref.pooled)


def test_load_rejects_tampering_and_other_kinds(tmp_path) -> None:
    path = save_adapter(_adapter(), tmp_path / "ad.safetensors")
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="sha256"):
        load_adapter(path)
    other = save_checkpoint(tmp_path / "other.safetensors", {"w": torch.zeros(1)}, {"kind": "iqa_head"})
    with pytest.raises(ValueError, match="expected 'dp_adapter'"):
        load_adapter(other)
    wrong = save_checkpoint(tmp_path / "wrong.safetensors", {"w": torch.zeros(1)},
                            {"kind": "dp_adapter", "adapter": _adapter().config.to_dict()})
    with pytest.raises(ValueError, match="do not fit"):
        load_adapter(wrong)


# --- data -------------------------------------------------------------------------------------

def test_captioned_folder_errors(tmp_path) -> None:
    from declip_core.training.adapter.data import read_captioned_folder

    with pytest.raises(ValueError, match="metadata.jsonl"):
        read_captioned_folder(tmp_path)
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "a.png", "text": "x"}\n')
    with pytest.raises(ValueError, match=r"metadata.jsonl:1: image .*a.png not found"):
        read_captioned_folder(tmp_path)
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "a.png"}\n')
    with pytest.raises(ValueError, match="'file_name' and 'text'"):
        read_captioned_folder(tmp_path)


def test_reads_a_built_i2t_set(tmp_path) -> None:
    """The train rows of an I&2T set (shards with metadata.parquet): semantic text becomes the prompt."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    from declip_core.training.adapter.data import CaptionedImageDataset
    from declip_core.training.data.manifest import COLUMNS

    shard = tmp_path / "shard-00000"
    shard.mkdir()
    rows = []
    for i, split in enumerate(["train", "heldout", "train"]):
        Image.fromarray(np.full((20, 24, 3), 40 * i, dtype=np.uint8)).save(shard / f"{i}.png")
        row = {c: None for c in COLUMNS}
        row.update(file_name=f"{i}.png", semantic_text=f"a photo of object {i}", perceptual_text=f"blur level {i}",
                   split=split, distortions="[]")
        rows.append(row)
    pq.write_table(pa.Table.from_pylist(rows), shard / "metadata.parquet")
    ds = CaptionedImageDataset(tmp_path, 16)
    assert len(ds) == 2 and [r.text for r in ds.records] == ["a photo of object 0", "a photo of object 2"]
    item = ds[1]
    assert item["image"].shape == (3, 16, 16) and item["perceptual_text"] == "blur level 2"


# --- diffusers helper (tiny random pipelines) -------------------------------------------------

@pytest.fixture(scope="module", params=["sd15", "sdxl"])
def tiny_pipe(request, tmp_path_factory):
    from diffusers import DiffusionPipeline

    from declip_core.training.adapter.testing import make_tiny_sd, make_tiny_sdxl

    folder = tmp_path_factory.mktemp(request.param)
    (make_tiny_sd if request.param == "sd15" else make_tiny_sdxl)(folder)
    pipe = DiffusionPipeline.from_pretrained(str(folder), local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return request.param, pipe


@pytest.fixture(scope="module")
def tiny_model():
    from declip_core.testing import tiny_declip

    return tiny_declip()


def _pipe_adapter(family: str, pipe, declip) -> DPAdapter:
    torch.manual_seed(1)
    pooled = pipe.text_encoder_2.config.projection_dim if family == "sdxl" else 0
    a = DPAdapter(DPAdapterConfig(perceptual_dim=declip.perceptual_dim, context_dim=pipe.unet.config.cross_attention_dim,
                                  pooled_dim=pooled, hidden_dim=16)).eval()
    if a.pooled_head is not None:
        with torch.no_grad():
            a.pooled_head.weight.normal_()
    return a


def _run(pipe, adapter, declip, **kw):
    from declip_core.adapter.diffusers_helper import generate

    return generate(pipe, adapter, declip, "a cat", num_inference_steps=2, height=32, width=32, output_type="np",
                    generator=torch.Generator().manual_seed(0), **kw).images


@pytest.mark.slow
def test_generate_with_reference_and_phrase(tiny_pipe, tiny_model) -> None:
    import numpy as np
    from PIL import Image

    family, pipe = tiny_pipe
    adapter = _pipe_adapter(family, pipe, tiny_model)
    plain = pipe("a cat", num_inference_steps=2, height=32, width=32, output_type="np",
                 generator=torch.Generator().manual_seed(0)).images
    ref = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 36, 3), dtype=np.uint8))
    by_ref = _run(pipe, adapter, tiny_model, reference=ref, strength=1.0)
    by_phrase = _run(pipe, adapter, tiny_model, phrase="crisp, clean, well exposed", negative_phrase="blurry")
    off = _run(pipe, adapter, tiny_model, phrase="crisp", strength=0.0)
    assert by_ref.shape == plain.shape == (1, 32, 32, 3) and np.isfinite(by_ref).all()
    np.testing.assert_array_equal(off, plain)  # strength 0: exactly the plain pipeline
    assert np.abs(by_ref - plain).max() > 1e-4 and np.abs(by_phrase - plain).max() > 1e-4
    assert np.abs(by_ref - by_phrase).max() > 1e-4


@pytest.mark.slow
def test_prompt_embeds_shapes_and_errors(tiny_pipe, tiny_model) -> None:
    from declip_core.adapter.diffusers_helper import perceptual_condition, perceptual_prompt_embeds

    family, pipe = tiny_pipe
    adapter = _pipe_adapter(family, pipe, tiny_model)
    p, s = perceptual_condition(tiny_model, reference=torch.rand(3, 40, 40))
    assert p.shape == (1, tiny_model.perceptual_dim) and s is not None
    kw = perceptual_prompt_embeds(pipe, adapter, ["a", "b"], p, strength=0.5, num_images_per_prompt=2)
    assert kw["prompt_embeds"].shape == (4, 77 + 4, adapter.config.context_dim)
    assert kw["negative_prompt_embeds"].shape == kw["prompt_embeds"].shape
    two = torch.cat([p, perceptual_condition(tiny_model, reference=torch.rand(3, 40, 40))[0]])  # (2, P)
    kw2 = perceptual_prompt_embeds(pipe, adapter, "a", two, strength=0.5, negative_perceptual=p[:1])
    assert kw2["prompt_embeds"].shape == (1, 77 + 8, adapter.config.context_dim)  # both references' tokens
    assert kw2["negative_prompt_embeds"].shape == kw2["prompt_embeds"].shape  # the negative branch matches
    if family == "sdxl":
        plain = perceptual_prompt_embeds(pipe, adapter, ["a", "b"], p, strength=0.0, num_images_per_prompt=2)
        assert not torch.allclose(kw["pooled_prompt_embeds"], plain["pooled_prompt_embeds"])
    with pytest.raises(ValueError, match="exactly one"):
        perceptual_condition(tiny_model)
    with pytest.raises(ValueError, match="exactly one"):
        perceptual_condition(tiny_model, reference=torch.rand(3, 8, 8), phrase="sharp")
    with pytest.raises(ValueError, match="strength"):
        perceptual_prompt_embeds(pipe, adapter, "a", p, strength=-1.0)
    wrong = DPAdapter(DPAdapterConfig(perceptual_dim=tiny_model.perceptual_dim, context_dim=7, hidden_dim=8))
    with pytest.raises(ValueError, match="another model family"):
        perceptual_prompt_embeds(pipe, wrong, "a", p)


def test_frozen_diffusion_rejects_non_diffusers_folder(tmp_path) -> None:
    from declip_core.training.adapter.diffusion import FrozenDiffusion

    with pytest.raises(ValueError, match="model_index.json"):
        FrozenDiffusion.from_folder(tmp_path)
