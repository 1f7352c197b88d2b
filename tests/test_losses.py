import torch
import torch.nn.functional as F
import pytest
from hypothesis import given, settings, strategies as st

from declip_core.training.losses import hsic_loss, multi_positive_infonce, separation_loss, xcov_loss


def _norm(x):
    return F.normalize(x, dim=-1)


def test_infonce_equals_clip_loss_with_unique_keys():
    torch.manual_seed(0)
    a, b = _norm(torch.randn(6, 8)), _norm(torch.randn(6, 8))
    keys = torch.arange(6)
    scale = torch.tensor(10.0)
    logits = scale * a @ b.T
    ref = 0.5 * (F.cross_entropy(logits, keys) + F.cross_entropy(logits.T, keys))
    assert torch.allclose(multi_positive_infonce(a, b, keys, keys, scale), ref, atol=1e-6)


def test_infonce_multi_positive_lower_when_positives_agree():
    torch.manual_seed(1)
    t = _norm(torch.randn(2, 8))
    txt = torch.stack([t[0], t[0], t[1], t[1]])
    keys = torch.tensor([0, 0, 1, 1])
    good = multi_positive_infonce(txt.clone(), txt, keys, keys, torch.tensor(20.0))
    bad = multi_positive_infonce(txt.flip(0), txt, keys, keys, torch.tensor(20.0))
    assert good < bad
    # Duplicated texts must not be treated as negatives of each other: near-zero loss when aligned.
    assert good < 0.75


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 9), st.integers(2, 6), st.integers(0, 10_000))
def test_infonce_finite_nonneg_and_has_grad(b, d, seed):
    g = torch.Generator().manual_seed(seed)
    a = _norm(torch.randn(b, d, generator=g)).requires_grad_()
    t = _norm(torch.randn(b, d, generator=g))
    keys = torch.randint(0, 3, (b,), generator=g)
    loss = multi_positive_infonce(a, t, keys, keys, torch.tensor(5.0))
    assert torch.isfinite(loss) and loss >= -1e-6
    loss.backward()
    assert a.grad is not None and torch.isfinite(a.grad).all()


def test_xcov_zero_for_independent_large_one_for_copies():
    torch.manual_seed(0)
    p = torch.randn(4096, 4)
    assert xcov_loss(p, torch.randn(4096, 3)) < 0.002
    assert xcov_loss(p, p.clone()) > 0.24  # diagonal correlations are 1: mean of (4 ones / 16)
    assert torch.isclose(xcov_loss(p, p[:, :1] * 3 + 1), torch.tensor(0.25), atol=1e-3)


def test_hsic_detects_nonlinear_dependence():
    torch.manual_seed(0)
    x = torch.randn(256, 1)
    indep = hsic_loss(x, torch.randn(256, 1))
    dep = hsic_loss(x, x**2)  # uncorrelated but dependent
    assert xcov_loss(x, x**2) < 0.05
    assert dep > 3 * indep


def test_separation_kinds():
    p, s = torch.randn(8, 3), torch.randn(8, 2)
    assert separation_loss(p, s, "none") == 0
    with pytest.raises(ValueError):
        separation_loss(p, s, "orthogonal-ish")
    with pytest.raises(ValueError):
        xcov_loss(p[:1], s[:1])
