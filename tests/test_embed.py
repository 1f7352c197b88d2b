"""declip_core.embed: the one decode -> embed path (lazy inputs, several view specs from one decode, one
backbone pass, per-input errors, decoder-crash isolation, input order)."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from declip_core import embed as E
from declip_core.embed import EncodedImage, decode_stream, embed_decoded, embed_stream
from declip_core.testing import tiny_declip
from declip_core.views import ViewPolicy

CROPS = ViewPolicy("crops", side=16, max_side=64)


@pytest.fixture(scope="module")
def dc():
    return tiny_declip()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    d = tmp_path_factory.mktemp("embed")
    rng = np.random.default_rng(0)
    out = []
    for i in range(7):
        p = d / f"im{i}.png"
        Image.fromarray(rng.integers(0, 255, (24 + 4 * i, 30, 3), dtype=np.uint8)).save(p)
        out.append(str(p))
    (d / "bad.jpg").write_text("not an image")
    return out[:3] + [str(d / "bad.jpg"), str(d / "missing.png")] + out[3:]


def _flat(batches):
    return [e for b in batches for e in b]


def test_shapes_dtypes_order_and_errors(dc, files):
    res = _flat(embed_stream(iter(files), dc, views=[CROPS, None], outputs=("perceptual", "semantic", "features"),
                             batch_size=3, workers=0))
    assert [e.index for e in res] == list(range(len(files)))
    assert [e.key for e in res] == files
    bad = {e.key: e.error for e in res if e.error}
    assert set(bad) == {files[3], files[4]}
    assert "not an image" in bad[files[3]] and "no such file" in bad[files[4]]
    for e in res:
        if e.error:
            assert e.perceptual == () and e.features == ()
            continue
        k = 5  # the crops policy gives five views at every size (declip_core.views)
        assert [tuple(t.shape) for t in e.perceptual] == [(k, dc.perceptual_dim), (1, dc.perceptual_dim)]
        assert e.semantic[1].shape == (1, dc.semantic_dim) and e.features[0].shape[0] == k
        assert all(t.dtype == torch.float32 for t in e.perceptual + e.semantic + e.features)
        np.testing.assert_allclose(e.perceptual[0].norm(dim=1).numpy(), 1.0, atol=1e-5)


def test_matches_embed_pil_and_model_views(dc, files):
    """view None is DeCLIP.embed_pil's preprocessing; a ViewPolicy is QualityModel.make_views'."""
    from declip_core.transforms import pil_to_tensor01
    from declip_core.views import make_views

    e = _flat(embed_stream([files[0]], dc, views=[None, CROPS], workers=0))[0]
    with Image.open(files[0]) as im:
        pil = im.convert("RGB")
    ref = dc.embed_pil([pil]).perceptual.detach()
    np.testing.assert_allclose(e.perceptual[0].numpy(), ref.numpy(), atol=1e-5)
    views = make_views(pil_to_tensor01(pil).unsqueeze(0), CROPS, dc.backbone.info.preprocess)[0]
    with torch.no_grad():
        ref2 = dc.embed_images(views).perceptual
    np.testing.assert_allclose(e.perceptual[1].numpy(), ref2.numpy(), atol=1e-5)


def test_workers_batching_and_sources_agree(dc, files):
    a = _flat(embed_stream(files, dc, views=[CROPS], batch_size=10, workers=0))
    b = _flat(embed_stream(files, dc, views=[CROPS], batch_size=2, workers=2))
    enc = [EncodedImage(p, Path(p).read_bytes()) if os.path.exists(p) else p for p in files]
    c = _flat(embed_stream(enc, dc, views=[CROPS], batch_size=4, workers=1))
    for x, y, z in zip(a, b, c):
        assert x.key == y.key == z.key and x.error == y.error == z.error
        if x.error is None:
            np.testing.assert_allclose(x.perceptual[0].numpy(), y.perceptual[0].numpy(), atol=1e-5)
            np.testing.assert_allclose(x.perceptual[0].numpy(), z.perceptual[0].numpy(), atol=1e-5)


def test_tensor_inputs(dc):
    x = torch.rand(3, 40, 50)
    res = _flat(embed_stream([x, torch.rand(4, 4)], dc, views=[None], workers=0))
    assert res[0].key == "<tensor 0>" and res[0].error is None
    with torch.no_grad():
        from declip_core.transforms import resize_tensor01

        ref = dc.embed_images(resize_tensor01(x.unsqueeze(0), dc.backbone.info.preprocess)).perceptual
    np.testing.assert_allclose(res[0].perceptual[0].numpy(), ref.numpy(), atol=1e-5)
    assert "(3, H, W)" in res[1].error


def test_inputs_are_read_lazily(dc, files):
    """A never-ending input iterator: the stream reads only about what it has in flight."""
    pulled = []

    def endless():
        for i in itertools.count():
            pulled.append(i)
            yield files[i % 3]

    stream = embed_stream(endless(), dc, views=[None], batch_size=2, workers=1)
    first = [next(stream) for _ in range(3)]
    assert sum(len(b) for b in first) == 6
    assert len(pulled) < 6 + 2 * 2 * 2 + 4  # what was yielded + the DataLoader's prefetch (2 batches per worker)
    stream.close()


def test_decoder_crash_costs_only_that_input(dc, files, monkeypatch):
    real = E.decode_views

    def crashing(source, cfg, views, max_pixels):
        if str(source).endswith("im2.png"):
            os._exit(3)  # a segfaulting codec, as the parent sees it (workers are forked)
        return real(source, cfg, views, max_pixels)

    cfg = dc.backbone.info.preprocess
    got = _flat(decode_stream(files, cfg, [None], batch_size=2, workers=2, decode=crashing))
    assert [d.key for d in got] == files  # every input once, in order
    errs = {d.key: d.error for d in got if d.error}
    assert set(errs) == {files[2], files[3], files[4]}
    assert "decoder process died" in errs[files[2]]


def test_forward_failure_is_per_input(dc, files, monkeypatch):
    cfg = dc.backbone.info.preprocess
    items = _flat(decode_stream(files[:3], cfg, [None], workers=0))
    items[1].views = (torch.full_like(items[1].views[0], float("nan")),)
    res = embed_decoded(dc, items)
    assert [r.error for r in res] == [None, "non-finite output", None]
    real = E._forward

    def flaky(declip, x, outputs, precision):
        if len(x) > 1:
            raise RuntimeError("CUDA out of memory (simulated)")
        if bool(torch.isnan(x).any()):
            raise RuntimeError("kernel failed")
        return real(declip, x, outputs, precision)

    monkeypatch.setattr(E, "_forward", flaky)
    res = embed_decoded(dc, items)
    assert res[0].error is None and res[2].error is None and "kernel failed" in res[1].error


def test_bad_arguments(dc):
    with pytest.raises(ValueError, match="outputs"):
        next(embed_stream(["x.png"], dc, outputs=("logits",)))
    with pytest.raises(ValueError, match="sequence of view specs"):
        next(embed_stream(["x.png"], dc, views=ViewPolicy()))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="precision"):
        next(embed_stream(["x.png"], dc, precision="fp8"))
    with pytest.raises(ValueError, match="batch_size"):
        next(embed_stream(["x.png"], dc, batch_size=0))


def test_bf16_autocast_close_to_fp32(dc, files):
    a = _flat(embed_stream(files[:3], dc, workers=0))
    b = _flat(embed_stream(files[:3], dc, workers=0, precision="bf16"))
    for x, y in zip(a, b):
        assert float((x.perceptual[0] - y.perceptual[0]).abs().max()) < 0.1


def test_ctrl_c_while_decode_processes_start_is_raised_after_they_started() -> None:
    """_sigint_deferred holds a Ctrl-C that arrives inside it (where a DataLoader starts its workers) and
    raises it at the end, so no half-built iterator is left behind."""
    import os
    import signal

    from declip_core.embed import _sigint_deferred

    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        with _sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            steps.append("block finished")
    assert steps == ["block finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with _sigint_deferred():  # no Ctrl-C: nothing raised
        steps.append("quiet")
    assert steps[-1] == "quiet"
