"""Quality heads trained on human MOS and the IQA evaluation protocols, split by job:
sets (datasets), embed (view embeddings), cache (PerceptualCache), fit (head fitting), train (train_mos),
evaluate (protocols, evaluate_mos), protocol (SRCC/PLCC/KRCC, splits)."""
from declip_core.training.mos.cache import Embedded, PerceptualCache, load_and_embed
from declip_core.training.mos.embed import CACHE_VERSION, ViewEmbeddings, declip_fingerprint, embed_views
from declip_core.training.mos.evaluate import EvalReport, cross_datasets, evaluate_mos, head_model, intra_dataset
from declip_core.training.mos.fit import fit_mos_head, fit_views_head, predict
from declip_core.training.mos.sets import MosSet, Problem, default_metric, load_mos_set
from declip_core.training.mos.train import TrainResult, train_mos

__all__ = ["CACHE_VERSION", "Embedded", "EvalReport", "MosSet", "PerceptualCache", "Problem", "TrainResult",
           "ViewEmbeddings", "cross_datasets", "declip_fingerprint", "default_metric", "embed_views",
           "evaluate_mos", "fit_mos_head", "fit_views_head", "head_model", "intra_dataset", "load_and_embed",
           "load_mos_set", "predict", "train_mos"]
