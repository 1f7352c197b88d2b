"""DeCLIP's disentangler model (inference side; losses live in declip_core.training)."""
from declip_core.model.config import DisentanglerConfig
from declip_core.model.disentangler import Disentangler, Embeddings, select_features
from declip_core.model.resmlp import ResMLP

__all__ = ["DisentanglerConfig", "Disentangler", "Embeddings", "ResMLP", "select_features"]
