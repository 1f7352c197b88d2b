"""Rebuild from a fresh clone by running a recipe (`make weights`, `make bench`), or check rebuilt weights.

    python training/reproduce.py                                  # training/recipes/weights-v5.yaml
    python training/reproduce.py training/recipes/bench.yaml      # the benchmark tables of docs/
    python training/reproduce.py --list                           # the steps, their outputs and expected times
    python training/reproduce.py --only build-i2t-photos ...      # some steps only
    python training/reproduce.py --check [--run runs/lite-v5]     # rebuilt scores vs the shipped ones

A recipe is a list of steps (declip_core/training/recipe.py): each is a command of ours with the outputs it
makes; a step whose outputs exist is skipped, so the same command resumes after a stop. A manifest (inputs'
sha256, the recipe, package versions, wall time per step) is written to {data}/manifests/<recipe>.json.
A failing step is named and stops the run with its exit status. Ctrl-C: exit status 130.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from declip_core.training.data_root import add_data_argument, data_root, expand

REPO = Path(__file__).resolve().parents[3]
DEFAULT_RECIPE = REPO / "training" / "recipes" / "weights-v5.yaml"
REFERENCE = REPO / "tests" / "reference" / "shipped_tags.json"


def main(argv: list[str] | None = None) -> int:
    from declip_core.training.repro_check import REBUILD_TOLERANCE, SEMANTIC_TOLERANCE

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipe", nargs="?", default=str(DEFAULT_RECIPE), help="recipe file (YAML or JSON)")
    add_data_argument(ap)
    ap.add_argument("--only", nargs="+", default=(), metavar="STEP", help="run only these steps")
    ap.add_argument("--list", action="store_true", help="print the steps and exit")
    ap.add_argument("--manifest", default=None, help="manifest file (default: {data}/manifests/<recipe name>.json)")
    ap.add_argument("--check", action="store_true", help="compare rebuilt weights with the shipped reference scores")
    ap.add_argument("--run", default="runs/lite-v5",
                    help="--check: the rebuilt run folder holding the tags' files (default: runs/lite-v5, where "
                         "weights-v5.yaml assembles the DeCLIP and the v5 heads)")
    ap.add_argument("--declip", default=None, help="--check: DeCLIP file or tag (default: <run>/declip.safetensors)")
    ap.add_argument("--tech", default=None, help="--check: tech head file or tag (default: <run>/iqa-tech.safetensors)")
    ap.add_argument("--aes", default=None, help="--check: aes head file or tag (default: <run>/iqa-aes.safetensors)")
    ap.add_argument("--declip-v1", default=None,
                    help="--check: the rebuilt v1 DeCLIP (the control demo's), judged against the shipped 'lite-v1' "
                         "(default: runs/lite/declip.safetensors when it exists)")
    ap.add_argument("--control", default=None,
                    help="--check: the rebuilt control demo, compared with the shipped tag 'control-demo' as a "
                         "function (relative RMS of predictions; reported, not judged) (default: "
                         "runs/control/control_demo.safetensors when it exists)")
    ap.add_argument("--reference", default=str(REFERENCE), help="reference scores (default: tests/reference/shipped_tags.json)")
    ap.add_argument("--tolerance", type=float, default=REBUILD_TOLERANCE,
                    help=f"largest |diff| accepted on the scores (0..1) and the perceptual embedding (default: "
                         f"{REBUILD_TOLERANCE})")
    ap.add_argument("--semantic-tolerance", type=float, default=SEMANTIC_TOLERANCE,
                    help=f"largest |diff| accepted on the semantic embedding (default: {SEMANTIC_TOLERANCE}, 1.8x "
                         "its largest measured rerun difference; docs/weights.md)")
    a = ap.parse_args(argv)
    root = data_root(a.data)
    try:
        if a.check:
            return _check(a, root)
        return _recipe(a, root)
    except KeyboardInterrupt:
        print("interrupted: finished steps are kept; run the same command to resume", file=sys.stderr, flush=True)
        return 130


def _check(a: argparse.Namespace, root: Path) -> int:
    from declip_core.training.repro_check import compare, load_reference, measure

    run = Path(expand(a.run, root))
    files = {k: expand(getattr(a, k), root) or str(run / f) for k, f in
             (("declip", "declip.safetensors"), ("tech", "iqa-tech.safetensors"), ("aes", "iqa-aes.safetensors"))}
    try:
        ref = load_reference(a.reference)
        v1 = Path(expand(a.declip_v1, root)) if a.declip_v1 else Path("runs/lite/declip.safetensors")
        v1 = v1 if (a.declip_v1 or v1.is_file()) else None
        res = compare(measure(tuple(ref["samples"]), files["declip"], files["tech"], files["aes"], declip_v1=v1), ref,
                      a.tolerance, a.semantic_tolerance)
    except (ValueError, FileNotFoundError) as e:
        hint = "" if run.is_dir() or (a.declip and a.tech and a.aes) else \
            f" ({run} is made by `make weights`; or pass --declip, --tech and --aes as tags or files)"
        print(f"error: {e}{hint}", file=sys.stderr)
        return 2
    print(f"weights: {files['declip']}, {files['tech']}, {files['aes']}" + (f", v1 DeCLIP {v1}" if v1 else "")
          + f"; reference: {a.reference}")
    print(res.format())
    control = Path(expand(a.control, root)) if a.control else Path("runs/control/control_demo.safetensors")
    if a.control or control.is_file():
        from declip_core.training.repro_check import compare_control_demo

        try:
            c = compare_control_demo(control)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"control-demo ({control}, step {c['rebuilt_step']:.0f} vs the shipped {c['reference_step']:.0f}): "
              f"predictions differ by {c['rel_rms']:.2%} relative RMS (max |diff| {c['max_abs']:.3g}; reported, not "
              "judged: its figures are the control benchmark's)")
    return 0 if res.ok else 1


def _recipe(a: argparse.Namespace, root: Path) -> int:
    from declip_core.training.recipe import RecipeError, load_recipe, run_recipe

    try:
        recipe = load_recipe(a.recipe)
        if a.list:
            print(f"{recipe.name} ({recipe.path}): {recipe.description}".rstrip(": "))
            for i, s in enumerate(recipe.steps, 1):
                print(f"{i:2d}. {s.name}: {shlex.join(expand(list(s.run), root))}")
                outs = list(s.outputs) + ([s.stdout] if s.stdout else [])
                if outs:
                    print(f"    outputs: {', '.join(expand(outs, root))}")
                if s.expected:
                    print(f"    expected: {s.expected}")
            return 0
        manifest = Path(expand(a.manifest, root)) if a.manifest else root / "manifests" / f"{recipe.name}.json"
        print(f"recipe {recipe.name}: {len(recipe.steps)} steps, data root {root}, manifest {manifest}", flush=True)
        run_recipe(recipe, root, REPO, manifest, log=lambda m: print(m, flush=True), only=a.only)
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.returncode
    print(f"recipe {recipe.name}: finished; manifest {manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
