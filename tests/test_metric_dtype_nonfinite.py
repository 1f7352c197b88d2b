"""pyiqa metrics (issue 23): non-finite pixels are an error, also under as_loss (situation 8, where they gave a
NaN score and NaN gradients silently); a metric moved with .double(), .half() or .to(dtype) still runs
(situation 9, a regression: 'Input type (float) and bias type (double) should be the same')."""
from __future__ import annotations

import pytest
import torch

pyiqa = pytest.importorskip("pyiqa")
import pyiqa_plugin  # noqa: E402,F401  (registers the DeCLIP metrics)


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.rand(2, 3, 48, 64, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_pixels_raise_in_scoring_and_under_as_loss(x: torch.Tensor, bad: float) -> None:
    y = x.clone()
    y[1, 0, 3, 4] = bad
    from declip_core.iqa import create_quality_model

    with pytest.raises(ValueError, match="non-finite pixel values"):  # scoring in DeCLIP's own API
        create_quality_model("tech")(y)
    with pytest.raises((ValueError, AssertionError)):  # through pyiqa, its own range check comes first
        pyiqa.create_metric("declip_tech", device="cpu")(y)
    loss = pyiqa.create_metric("declip_tech", device="cpu", as_loss=True)
    y.requires_grad_(True)
    with pytest.raises(ValueError, match="non-finite pixel values"):
        loss(y)
    z = x.clone().requires_grad_(True)  # finite inputs: finite score and gradient, as before
    loss(z).sum().backward()
    assert torch.isfinite(z.grad).all()


@pytest.mark.parametrize("move", ["double", "half", "to64"])
def test_metric_dtype_moves_run(x: torch.Tensor, move: str) -> None:
    ref = pyiqa.create_metric("declip_tech", device="cpu")(x).float()
    m = pyiqa.create_metric("declip_tech", device="cpu")
    {"double": lambda: m.double(), "half": lambda: m.half(), "to64": lambda: m.to(torch.float64)}[move]()
    got = m(x)
    assert got.dtype == (torch.float16 if move == "half" else torch.float64)
    torch.testing.assert_close(got.float(), ref, atol=2e-2 if move == "half" else 1e-5, rtol=0)
