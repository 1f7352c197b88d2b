"""declip_core.iqa.selection: best-of-N and threshold picks on score vectors."""
from __future__ import annotations

import pytest
import torch

from declip_core.iqa.selection import above_threshold, best_k


def test_best_k_orders_best_first_and_keeps_batch_order_on_ties() -> None:
    s = torch.tensor([0.2, 0.9, 0.5, 0.9, 0.1])
    assert best_k(s, 3).tolist() == [1, 3, 2]
    assert best_k(s, 2, lower_better=True).tolist() == [4, 0]
    assert best_k(s, 99).tolist() == [1, 3, 2, 0, 4]


def test_above_threshold_is_inclusive_and_may_be_empty() -> None:
    s = torch.tensor([0.2, 0.5, 0.7])
    assert above_threshold(s, 0.5).tolist() == [1, 2]
    assert above_threshold(s, 0.5, lower_better=True).tolist() == [0, 1]
    assert above_threshold(s, 0.8).tolist() == []


@pytest.mark.parametrize("bad, msg", [(torch.tensor([]), "non-empty"), (torch.ones(2, 2), r"\(B,\)"),
                                      (torch.tensor([0.1, float("nan")]), "finite"), ([0.1], "tensor")])
def test_bad_scores(bad, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        best_k(bad, 1)
    with pytest.raises(ValueError, match=msg):
        above_threshold(bad, 0.5)


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_bad_k(k) -> None:
    with pytest.raises(ValueError, match="k must be"):
        best_k(torch.tensor([0.1, 0.2]), k)
