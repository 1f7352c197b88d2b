"""Bundled DeCLIP checkpoints (safetensors + JSON) and their tags."""
