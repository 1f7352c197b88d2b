"""The shipped weight tags: file, sha256, backbone and how each was made (see docs/weights.md)."""
from __future__ import annotations

TAGS: tuple[dict[str, str], ...] = (
    {"name": "lite", "kind": "declip", "file": "declip-lite-v1.safetensors", "sha256": "a9a62448e89831eb3cc3ade85645c043fd89c1a5b4c9e68177f871512c1e10d7", "backbone": "lite", "source": "python training/train.py --config training/configs/lite.yaml; python training/ship_weights.py runs/lite3", "description": "DeCLIP on the lite stand-in backbone, trained offline on CPU (demo grade)"},
    {"name": "lite-tech", "kind": "iqa_head", "file": "declip-lite-tech-v1.safetensors", "sha256": "9fca0c1a59c0bccbbcf2bb2cec0d7b32330419bb3c10aa598e78b0d79ae2f342", "backbone": "lite", "source": "python training/train.py --config training/configs/lite.yaml; python training/ship_weights.py runs/lite3", "description": "declip_tech default head (regression), trained on I&2T-derived targets"},
    {"name": "lite-aes", "kind": "iqa_head", "file": "declip-lite-aes-v1.safetensors", "sha256": "f0f90f00a54ebe31f602b4f76b62cedc83a4b59f2d5b074c5490edcc2c7f499f", "backbone": "lite", "source": "python training/train.py --config training/configs/lite.yaml; python training/ship_weights.py runs/lite3", "description": "declip_aes default head (regression), trained on I&2T-derived targets"},
    {"name": "control-demo", "kind": "control_demo", "file": "control_demo/control-demo-v1.safetensors", "sha256": "62aa4078fb5fec0346b71f01c02186fecea508e5fd4c3602b7a12805644a53d8", "backbone": "lite", "source": "python training/train_control_demo.py", "description": "32x32 pixel diffusion demo conditioned only via DP-Adapter tokens (CPU-trained)"},
)
