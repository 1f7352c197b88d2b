"""The shipped weight tags: file, sha256, backbone and how each was made (see docs/weights.md)."""
from __future__ import annotations

TAGS: tuple[dict[str, str], ...] = (
    {"name": "lite", "kind": "declip", "file": "declip-lite-v2.safetensors", "sha256": "70553cbfc67fdaead31570a28b902caf5488f5bf49f412d9b863a73014c0bcb4", "backbone": "lite", "source": "python training/train.py --config training/configs/lite.yaml; python training/ship_weights.py runs/lite13", "description": "DeCLIP on the lite stand-in backbone, trained offline on CPU (demo grade)"},
    {"name": "lite-tech", "kind": "iqa_head", "file": "declip-lite-tech-v2.safetensors", "sha256": "9823146a04c93d7ccb7de18d9f1dea5c475d359951fb1d93ab6daf296d94f3a7", "backbone": "lite", "source": "python training/train.py --config training/configs/lite.yaml; python training/ship_weights.py runs/lite13", "description": "declip_tech default head (regression), trained on I&2T-derived targets"},
    {"name": "lite-aes", "kind": "iqa_head", "file": "declip-lite-aes-v2.safetensors", "sha256": "12e96de1e0d88cf2e858862cdeb40def323c19bacc7a9ab64afd6aba1118a85b", "backbone": "lite", "source": "python training/train.py --config training/configs/lite.yaml; python training/ship_weights.py runs/lite13", "description": "declip_aes default head (zeroshot), trained on I&2T-derived targets"},
    {"name": "control-demo", "kind": "control_demo", "file": "control_demo/control-demo-v1.safetensors", "sha256": "62aa4078fb5fec0346b71f01c02186fecea508e5fd4c3602b7a12805644a53d8", "backbone": "lite", "source": "python training/train_control_demo.py", "description": "32x32 pixel diffusion demo conditioned only via DP-Adapter tokens (CPU-trained)"},
)
