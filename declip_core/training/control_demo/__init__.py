"""Control demo: a small pixel-space diffusion model conditioned only through DP-Adapter tokens.

It exists to show that DeCLIP's perceptual embedding, and not only the plumbing, steers what a
diffusion model draws (docs/control_demo.md). Parts:
  data   condition table, training-photo crops, their distortions, the embedding cache, patch batches
  model  ControlDemo (UNet2DConditionModel + DPAdapter), checkpoints, DDIM sampling with guidance
  train  the training loop (time-capped, checkpointed, resumable)
  stats  attribute measurement of samples, Spearman correlation with bootstrap intervals
diffusers is imported only by `model` (and `train`, which uses it).
"""
from declip_core.training.control_demo.data import CONDITIONS, FAMILIES, HELDOUT_PHOTOS, Condition, Family
from declip_core.training.control_demo.stats import bootstrap_spearman, measure_images, spearman

__all__ = ["CONDITIONS", "FAMILIES", "HELDOUT_PHOTOS", "Condition", "Family", "bootstrap_spearman",
           "measure_images", "spearman"]
