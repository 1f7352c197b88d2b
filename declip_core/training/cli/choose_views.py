"""Choose declip_tech's view policy on validation photos.

    python training/choose_views.py --declip runs/lite/declip.safetensors --checkpoint runs/lite/iqa-tech.safetensors \
        --photos val1.jpg val2.jpg ... [--short 768 1536] [--types gaussian_blur white_noise jpeg ...] [--json out.json]

Each photo is resized (never upscaled) to each --short shorter side, distorted at levels 1..5 per type,
and scored under each candidate policy (declip_core.training.view_choice). Prints the table, best first.
Use only validation photos (never the test photos of the benchmark).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_TYPES = ("gaussian_blur", "white_noise", "jpeg", "darken", "contrast_change")


def candidate_policies() -> list:
    """The candidate ViewPolicy set: crop sides, layouts and the whole-image view."""
    from declip_core.views import ViewPolicy

    return [ViewPolicy("crops", side=256, layout="centre"), ViewPolicy("crops", side=384, layout="centre"),
            ViewPolicy("crops", side=256, layout="pair"), ViewPolicy("crops", side=256, layout="grid", grid=2),
            ViewPolicy("crops", side=256, layout="five"), ViewPolicy("resize")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--declip", required=True)
    ap.add_argument("--checkpoint", required=True, help="tech head checkpoint")
    ap.add_argument("--photos", nargs="+", required=True, help="validation photo files")
    ap.add_argument("--short", nargs="+", type=int, default=[768])
    ap.add_argument("--types", nargs="+", default=list(DEFAULT_TYPES))
    ap.add_argument("--json", default=None)
    ap.add_argument("--tolerance", type=float, default=0.005,
                    help="the cheapest policy within this much SRCC of the best is chosen")
    ap.add_argument("--max-views", type=float, default=None,
                    help="speed budget: only policies with at most this many backbone inputs per image are chosen")
    ap.add_argument("--save-best", default=None, metavar="OUT",
                    help="write the tech head checkpoint again with the best policy as its view policy")
    from declip_core.training.data_root import add_data_argument, expand_args

    add_data_argument(ap)
    a = ap.parse_args(argv)
    expand_args(a, ['photos', 'declip', 'checkpoint', 'json', 'save_best'])

    from declip_core.inference import load_declip
    from declip_core.io import load_rgb_array
    from declip_core.iqa import create_quality_model
    from declip_core.training.view_choice import compare_policies, resize_short

    model = create_quality_model("tech", checkpoint=a.checkpoint, declip=load_declip(a.declip))
    photos = {}
    for p in a.photos:
        rgb = load_rgb_array(p)
        for s in a.short:
            photos[f"{Path(p).stem}@{s}"] = resize_short(rgb, s)
    res = compare_policies(model, photos, a.types, candidate_policies(), log=lambda m: print(m, flush=True),
                           tolerance=a.tolerance, max_views=a.max_views)
    print("\n| policy | within-ladder SRCC | 2AFC | views per image |\n|---|---|---|---|")
    for r in res:
        print(f"| {r.policy.to_dict()} | {r.srcc:.3f} | {r.afc2:.3f} | {r.views_per_image:.1f} |")
    if a.save_best:
        from declip_core.checkpoint import read_config
        from declip_core.iqa import save_quality_head

        keep = {k: v for k, v in read_config(a.checkpoint).items()
                if k in ("validation", "validation_photos", "attribute_validation")}
        model.views = res[0].policy
        keep["view_choice"] = [{"policy": r.policy.to_dict(), "srcc": r.srcc, "2afc": r.afc2} for r in res]
        print(f"saved {save_quality_head(a.save_best, model, extra=keep)} with views {res[0].policy.to_dict()}")
    if a.json:
        Path(a.json).write_text(json.dumps([{"policy": r.policy.to_dict(), "srcc": r.srcc, "2afc": r.afc2,
                                             "views_per_image": r.views_per_image, "seconds": r.seconds} for r in res],
                                           indent=2))
    return 0
