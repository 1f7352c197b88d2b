"""DP-Adapter training: captioned-image data, the frozen diffusion model, the training loop, test helpers."""
