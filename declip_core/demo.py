"""`make demo`: the main job on the embedded offline default (see README)."""
from __future__ import annotations

import sys


def main() -> int:
    import torch
    from PIL import Image

    from declip_core.backbones import create_backbone
    from declip_core.imagenet import imagenet_classes
    from declip_core.samples import sample_paths

    bb = create_backbone("lite")
    names = imagenet_classes()
    print(f"backbone: {bb.info.spec} ({bb.info.weight_source}, sha256 {bb.info.sha256[:12]}…)")
    print(f"features: pooled {bb.info.image_dim}, multi-level stats {bb.info.stats_dim}, text {bb.info.text_dim}\n")
    print(f"{'photo':<24} {'top ImageNet label':<28} {'p':>5}")
    for p in sample_paths():
        with Image.open(p) as im:
            x = bb.preprocess(im).unsqueeze(0)
        with torch.no_grad():
            prob = bb.encode_image(x).logits.softmax(-1)[0]
        i = int(prob.argmax())
        print(f"{p.name:<24} {names[i]:<28} {float(prob[i]):>5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
