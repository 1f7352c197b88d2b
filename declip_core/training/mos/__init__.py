"""Quality heads trained on human MOS and the IQA evaluation protocols."""
from declip_core.training.mos.train import (
    CACHE_VERSION, Embedded, EvalReport, MosSet, PerceptualCache, Problem, TrainResult, ViewEmbeddings,
    cross_datasets, declip_fingerprint, default_metric, embed_views, evaluate_mos, fit_mos_head, fit_views_head,
    head_model, intra_dataset, load_and_embed, load_mos_set, predict, train_mos,
)
