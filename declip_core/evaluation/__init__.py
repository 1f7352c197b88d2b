"""Evaluation: IQA metrics and protocols."""

from .iqa_protocol import (
    ProtocolResult,
    Scores,
    cross_dataset,
    evaluate,
    krcc,
    logistic_fit,
    plcc,
    random_splits,
    run_protocol,
    srcc,
)

__all__ = [
    "ProtocolResult",
    "Scores",
    "cross_dataset",
    "evaluate",
    "krcc",
    "logistic_fit",
    "plcc",
    "random_splits",
    "run_protocol",
    "srcc",
]
