"""Run a recipe: a list of steps (data, in YAML or JSON), each a command of ours with the outputs it makes.

    name: weights-v5
    steps:
      - name: gather-photos
        run: [training/gather_photos.py, --out, "{data}/photos-v2", --cache, "{data}/photo-cache"]
        outputs: ["{data}/photos-v2/summary.json"]       # the step is skipped when all of them exist
        inputs: [training/configs/lite-v4.yaml]           # files whose sha256 goes in the manifest (optional)
        expected: "1,034 s (docs/photos.md, gathering)"   # expected time and where it was measured (optional)
        stdout: "runs/bench/x.md"                         # optional: the command's stdout goes to this file
                                                          # (written on success only; it counts as an output)

`run[0]` is a Python script of this repository (run with the current interpreter, path relative to the
repository root) or a built-in: `@copy SRC... DEST_DIR` (copy files into a folder), `@copy-as SRC DEST`
(copy one file to a new name) or `@split-view SRC DEST SPLIT` (a collection at DEST holding only SPLIT of the collection at SRC: its crops.jsonl rows of that
split, the crops folder linked). `{data}` in any string is the data root. A step without outputs always runs.
Steps run in order; the first that fails (non-zero exit, or an output missing afterwards) stops the run with
RecipeError naming it. After every step a manifest (JSON) is written: the recipe, the data root, package
versions, and per step its command, status (ran / skipped / failed), wall time in s, and the sha256 of its
input and output files (a folder: the sha256 of its listing of relative paths and sizes).
"""
from __future__ import annotations

import hashlib
import json
import platform
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from declip_core.training.data_root import expand

BUILTINS = ("@copy", "@copy-as", "@split-view")
PACKAGES = ("declip", "torch", "torchvision", "numpy", "pillow", "timm", "open_clip_torch", "sentence-transformers",
            "pyiqa", "piq", "scipy", "scikit-image", "pyarrow", "safetensors", "pyyaml")


class RecipeError(RuntimeError):
    """A recipe could not be read, or one of its steps failed (the message names the step)."""

    def __init__(self, message: str, returncode: int = 1) -> None:
        super().__init__(message)
        self.returncode = returncode


@dataclass(frozen=True)
class Step:
    name: str
    run: tuple[str, ...]
    outputs: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    expected: str = ""
    stdout: str = ""


@dataclass(frozen=True)
class Recipe:
    name: str
    path: str
    steps: tuple[Step, ...]
    description: str = ""
    text: str = field(default="", repr=False)


def _strs(v: Any, where: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(x, (str, int, float)) for x in v):
        raise RecipeError(f"{where}: expected a list of strings")
    return tuple(str(x) for x in v)


def load_recipe(path: str | Path) -> Recipe:
    """Read and check a recipe file (.yaml / .yml / .json). Raises RecipeError naming the file and the step."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise RecipeError(f"{p}: cannot read the recipe ({e})") from e
    if p.suffix == ".json":
        d = json.loads(text)
    else:
        import yaml

        d = yaml.safe_load(text)
    if not isinstance(d, dict) or not isinstance(d.get("steps"), list) or not d["steps"]:
        raise RecipeError(f"{p}: expected a mapping with a non-empty list 'steps'")
    steps, names = [], set()
    for i, s in enumerate(d["steps"], 1):
        where = f"{p}: step {i}"
        if not isinstance(s, dict):
            raise RecipeError(f"{where}: expected a mapping")
        unknown = set(s) - {"name", "run", "outputs", "inputs", "expected", "stdout"}
        if unknown:
            raise RecipeError(f"{where}: unknown keys {sorted(unknown)}")
        name = str(s.get("name") or "")
        if not name or name in names:
            raise RecipeError(f"{where}: needs a unique 'name' (got {name!r})")
        names.add(name)
        run = _strs(s.get("run"), f"{where} '{name}' run")
        if not run:
            raise RecipeError(f"{where} '{name}': 'run' is empty")
        if run[0].startswith("@") and run[0] not in BUILTINS:
            raise RecipeError(f"{where} '{name}': unknown built-in {run[0]!r} (known: {', '.join(BUILTINS)})")
        if not run[0].startswith("@") and not run[0].endswith(".py"):
            raise RecipeError(f"{where} '{name}': run[0] must be a script of ours (*.py) or a built-in, "
                              f"got {run[0]!r}")
        steps.append(Step(name, run, _strs(s.get("outputs"), f"{where} outputs"),
                          _strs(s.get("inputs"), f"{where} inputs"), str(s.get("expected") or ""),
                          str(s.get("stdout") or "")))
    return Recipe(str(d.get("name") or p.stem), str(p), tuple(steps), str(d.get("description") or ""), text)


def sha256_of(path: Path) -> str | None:
    """sha256 of a file; of a folder, the sha256 of its sorted listing 'relative path<TAB>size'; None if absent."""
    if path.is_file():
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    if path.is_dir():
        lines = sorted(f"{q.relative_to(path).as_posix()}\t{q.stat().st_size}" for q in path.rglob("*") if q.is_file())
        return "listing:" + hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return None


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages that make the results (None when not installed)."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def _builtin(argv: Sequence[str]) -> None:
    op, args = argv[0], list(argv[1:])
    if op == "@copy":
        if len(args) < 2:
            raise RecipeError("@copy needs SRC... DEST_DIR")
        dest = Path(args[-1])
        dest.mkdir(parents=True, exist_ok=True)
        for s in args[:-1]:
            if not Path(s).is_file():
                raise RecipeError(f"@copy: {s}: no such file")
            shutil.copy2(s, dest / Path(s).name)
    elif op == "@copy-as":
        if len(args) != 2 or not Path(args[0]).is_file():
            raise RecipeError(f"@copy-as needs SRC DEST with SRC an existing file, got {args}")
        Path(args[1]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(args[0], args[1])
    elif op == "@split-view":
        if len(args) != 3:
            raise RecipeError("@split-view needs SRC DEST SPLIT")
        src, dest, split = Path(args[0]), Path(args[1]), args[2]
        rows = src / "crops.jsonl"
        if not rows.is_file():
            raise RecipeError(f"@split-view: {rows}: no such file")
        dest.mkdir(parents=True, exist_ok=True)
        if not (dest / "crops").exists():
            (dest / "crops").symlink_to((src / "crops").resolve(), target_is_directory=True)
        keep = [ln for ln in rows.read_text().splitlines() if ln.strip() and json.loads(ln).get("split") == split]
        tmp = dest / "crops.jsonl.tmp"
        tmp.write_text("".join(ln + "\n" for ln in keep))
        tmp.replace(dest / "crops.jsonl")


def _command(step: Step, root: Path, repo: Path) -> list[str]:
    argv = [expand(x, root) for x in step.run]
    if argv[0].startswith("@"):
        return argv
    script = Path(argv[0])
    return [sys.executable, str(script if script.is_absolute() else repo / script), *argv[1:]]


def run_recipe(recipe: Recipe, root: str | Path, repo: str | Path, manifest: str | Path,
               log: Callable[[str], None] = print, only: Sequence[str] = ()) -> dict[str, Any]:
    """Run the steps of `recipe` in order (those named in `only`, when given), skipping a step whose outputs all
    exist; write the manifest after each step; return it. The current folder is the commands' working
    folder. Raises RecipeError (naming the step, with its exit status as `returncode`) at the first failure."""
    root, repo, manifest = Path(root), Path(repo), Path(manifest)
    unknown = set(only) - {s.name for s in recipe.steps}
    if unknown:
        raise RecipeError(f"{recipe.path}: no steps named {sorted(unknown)}")
    man: dict[str, Any] = {
        "recipe": recipe.name, "recipe_file": recipe.path,
        "recipe_sha256": hashlib.sha256(recipe.text.encode()).hexdigest(), "recipe_text": recipe.text,
        "data_root": str(root), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0], "platform": platform.platform(), "packages": package_versions(),
        "steps": []}

    def save() -> None:
        manifest.parent.mkdir(parents=True, exist_ok=True)
        tmp = manifest.with_name(manifest.name + ".tmp")
        tmp.write_text(json.dumps(man, indent=2))
        tmp.replace(manifest)

    steps = [s for s in recipe.steps if not only or s.name in only]
    earlier: dict[str, dict[str, Any]] = {}  # step name -> its record in an earlier run of the same recipe
    if manifest.is_file():
        try:
            old = json.loads(manifest.read_text())
        except ValueError as e:
            raise RecipeError(f"{manifest}: unreadable manifest ({e}); remove it or pass --manifest") from e
        if old.get("recipe") == recipe.name:
            earlier = {r["name"]: r for r in old.get("steps", []) if isinstance(r, dict) and "name" in r}
            if only:  # a partial run keeps the records of the other steps
                man["steps"] = [r for r in old.get("steps", []) if r.get("name") not in only]
    for i, step in enumerate(steps, 1):
        cmd = _command(step, root, repo)
        stdout = Path(expand(step.stdout, root)) if step.stdout else None
        outs = [Path(expand(o, root)) for o in step.outputs] + ([stdout] if stdout else [])
        rec: dict[str, Any] = {"name": step.name, "command": cmd, "expected": step.expected,
                               "inputs": {str(p): sha256_of(p) for p in (Path(expand(x, root)) for x in step.inputs)}}
        man["steps"].append(rec)
        if outs and all(o.exists() for o in outs):
            rec.update(status="skipped", wall_s=0.0, outputs={str(o): sha256_of(o) for o in outs})
            prev = earlier.get(step.name, {})
            made = prev.get("made_in_s", prev.get("wall_s") if prev.get("status") == "ran" else None)
            if made is not None and prev.get("outputs") == rec["outputs"]:
                rec["made_in_s"] = made  # the wall time of the run that made these very outputs
            log(f"[{i}/{len(steps)}] {step.name}: skipped (outputs exist)")
            save()
            continue
        log(f"[{i}/{len(steps)}] {step.name}: {shlex.join(cmd)}" + (f" > {stdout}" if stdout else "")
            + (f"  (expected: {step.expected})" if step.expected else ""))
        t = time.time()
        rc, err = 0, ""
        try:
            if cmd[0].startswith("@"):
                _builtin(cmd)
            elif stdout is not None:
                stdout.parent.mkdir(parents=True, exist_ok=True)
                tmp = stdout.with_name(stdout.name + ".part")
                with tmp.open("w") as fh:
                    rc = subprocess.run(cmd, stdout=fh).returncode
                if rc == 0:
                    tmp.replace(stdout)
            else:
                rc = subprocess.run(cmd).returncode
        except (RecipeError, OSError, ValueError) as e:
            rc, err = 1, str(e)
        rec["wall_s"] = round(time.time() - t, 3)
        missing = [str(o) for o in outs if not o.exists()]
        if rc != 0 or missing:
            why = (f"exit status {rc}" + (f": {err}" if err else "")) if rc != 0 else f"did not write {missing}"
            rec.update(status="failed", error=why)
            man["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            save()
            raise RecipeError(f"step {i} '{step.name}' failed ({why}); manifest: {manifest}", rc or 1)
        rec.update(status="ran", outputs={str(o): sha256_of(o) for o in outs})
        log(f"[{i}/{len(steps)}] {step.name}: done in {rec['wall_s']:.1f} s")
        save()
    man["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    save()
    return man
