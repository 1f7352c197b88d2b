"""training/reproduce.py: the recipe driver (run, skip, resume, manifest, a failing step named) on a tiny recipe,
the shipped recipes' shape, and the reproduction check on the shipped tags."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from declip_core.training.recipe import RecipeError, load_recipe
from declip_core.training.repro_check import compare

ROOT = Path(__file__).resolve().parents[1]
REPRODUCE = ROOT / "training" / "reproduce.py"

STEP = """import sys, pathlib
out = pathlib.Path(sys.argv[1]); out.parent.mkdir(parents=True, exist_ok=True)
with open(sys.argv[2], "a") as log: log.write(out.name + "\\n")
if len(sys.argv) > 3 and sys.argv[3] == "nowrite": raise SystemExit(0)
out.write_text("made from " + pathlib.Path(sys.argv[4] if len(sys.argv) > 4 else sys.argv[0]).read_text()[:20])
"""


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


def _run(args, cwd, data=None):
    env = _env()
    env.pop("DECLIP_DATA", None)
    if data is not None:
        env["DECLIP_DATA"] = str(data)
    return subprocess.run([sys.executable, str(REPRODUCE), *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


@pytest.fixture
def tiny(tmp_path):
    script = tmp_path / "step.py"
    script.write_text(STEP)
    (tmp_path / "input.txt").write_text("some input")
    recipe = {"name": "tiny", "steps": [
        {"name": "first", "run": [str(script), "{data}/a.txt", str(tmp_path / "log.txt"), "write",
                                  str(tmp_path / "input.txt")],
         "inputs": [str(tmp_path / "input.txt")], "outputs": ["{data}/a.txt"], "expected": "seconds"},
        {"name": "second", "run": [str(script), "{data}/b.txt", str(tmp_path / "log.txt")],
         "outputs": ["{data}/b.txt"]},
    ]}
    p = tmp_path / "tiny.json"
    p.write_text(json.dumps(recipe))
    return p, recipe


def _log(tmp_path):
    p = tmp_path / "log.txt"
    return p.read_text().split() if p.is_file() else []


def test_runs_skips_resumes_and_writes_a_manifest(tmp_path, tiny):
    recipe, _ = tiny
    data = tmp_path / "root"
    r = _run([recipe], tmp_path, data=data)  # the data root from $DECLIP_DATA
    assert r.returncode == 0, r.stderr
    assert (data / "a.txt").read_text() == "made from some input" and (data / "b.txt").is_file()
    assert _log(tmp_path) == ["a.txt", "b.txt"]
    man = json.loads((data / "manifests" / "tiny.json").read_text())
    assert [s["status"] for s in man["steps"]] == ["ran", "ran"]
    import hashlib

    assert man["steps"][0]["inputs"] == {str(tmp_path / "input.txt"): hashlib.sha256(b"some input").hexdigest()}
    assert man["steps"][0]["outputs"][str(data / "a.txt")] == hashlib.sha256(b"made from some input").hexdigest()
    assert all(s["wall_s"] >= 0 for s in man["steps"]) and man["packages"]["numpy"]
    assert man["recipe_sha256"] == hashlib.sha256(recipe.read_text().encode()).hexdigest()

    r = _run([recipe], tmp_path, data=data)  # everything exists: nothing runs
    assert r.returncode == 0 and r.stdout.count("skipped") == 2 and _log(tmp_path) == ["a.txt", "b.txt"]
    again = json.loads((data / "manifests" / "tiny.json").read_text())["steps"]
    # a skipped step keeps the wall time of the run that made its outputs
    assert [s["made_in_s"] for s in again] == [s["wall_s"] for s in man["steps"]]

    (data / "b.txt").unlink()  # resume: only the missing output's step runs
    r = _run([recipe, "--data", data], tmp_path, data=tmp_path / "elsewhere")  # --data wins over $DECLIP_DATA
    assert r.returncode == 0, r.stderr
    assert _log(tmp_path) == ["a.txt", "b.txt", "b.txt"]
    steps = json.loads((data / "manifests" / "tiny.json").read_text())["steps"]
    assert [s["status"] for s in steps] == ["skipped", "ran"]
    assert "made_in_s" not in steps[1]  # it ran: its own wall_s counts


def test_only_reruns_one_step_and_keeps_the_other_records(tmp_path, tiny):
    recipe, _ = tiny
    data = tmp_path / "root"
    assert _run([recipe, "--data", data], tmp_path).returncode == 0
    (data / "b.txt").unlink()
    r = _run([recipe, "--data", data, "--only", "second"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert _log(tmp_path) == ["a.txt", "b.txt", "b.txt"]
    steps = json.loads((data / "manifests" / "tiny.json").read_text())["steps"]
    assert [(s["name"], s["status"]) for s in steps] == [("first", "ran"), ("second", "ran")]
    r = _run([recipe, "--data", data, "--only", "nosuch"], tmp_path)
    assert r.returncode != 0 and "nosuch" in r.stderr


def test_a_failing_step_is_named_and_stops_the_run(tmp_path, tiny):
    recipe, d = tiny
    d["steps"].insert(1, {"name": "broken", "run": [str(tmp_path / "fail.py")], "outputs": ["{data}/never"]})
    (tmp_path / "fail.py").write_text("raise SystemExit(3)\n")
    recipe.write_text(json.dumps(d))
    r = _run([recipe, "--data", tmp_path / "root"], tmp_path)
    assert r.returncode == 3
    assert "step 2 'broken' failed (exit status 3)" in r.stderr
    assert _log(tmp_path) == ["a.txt"]  # the step after it did not run
    man = json.loads((tmp_path / "root" / "manifests" / "tiny.json").read_text())
    assert [s["status"] for s in man["steps"]] == ["ran", "failed"]


def test_a_step_that_does_not_write_its_output_fails(tmp_path, tiny):
    recipe, d = tiny
    d["steps"][1]["run"].append("nowrite")
    recipe.write_text(json.dumps(d))
    r = _run([recipe, "--data", tmp_path / "root"], tmp_path)
    assert r.returncode == 1 and "step 2 'second' failed (did not write" in r.stderr


def test_bad_recipes_name_file_and_step(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("steps:\n  - name: a\n    run: [x.py]\n    outputz: [y]\n")
    with pytest.raises(RecipeError, match=r"r.yaml: step 1: unknown keys \['outputz'\]"):
        load_recipe(p)
    p.write_text("steps:\n  - name: a\n    run: [rm, -rf, x]\n")
    with pytest.raises(RecipeError, match="step 1 'a': run\\[0\\] must be a script of ours"):
        load_recipe(p)
    p.write_text("steps:\n  - name: a\n    run: [a.py]\n  - name: a\n    run: [b.py]\n")
    with pytest.raises(RecipeError, match="step 2: needs a unique 'name'"):
        load_recipe(p)


def test_builtins_split_view_and_copy(tmp_path):
    src = tmp_path / "root" / "coll"
    (src / "crops").mkdir(parents=True)
    (src / "crops.jsonl").write_text('{"split": "train", "id": 1}\n{"split": "val", "id": 2}\n')
    (tmp_path / "f.txt").write_text("x")
    p = tmp_path / "r.yaml"
    p.write_text("name: b\nsteps:\n"
                 "  - {name: view, run: ['@split-view', '{data}/coll', '{data}/coll-val', val],"
                 " outputs: ['{data}/coll-val/crops.jsonl']}\n"
                 f"  - {{name: copy, run: ['@copy', '{tmp_path / 'f.txt'}', '{{data}}/c'], outputs: ['{{data}}/c/f.txt']}}\n"
                 f"  - {{name: copy-as, run: ['@copy-as', '{tmp_path / 'f.txt'}', '{{data}}/g.txt'], outputs: ['{{data}}/g.txt']}}\n")
    r = _run([p, "--data", tmp_path / "root"], tmp_path)
    assert r.returncode == 0, r.stderr
    view = tmp_path / "root" / "coll-val"
    assert [json.loads(x)["id"] for x in (view / "crops.jsonl").read_text().splitlines()] == [2]
    assert (view / "crops").resolve() == (src / "crops").resolve()
    assert (tmp_path / "root" / "c" / "f.txt").read_text() == "x" and (tmp_path / "root" / "g.txt").read_text() == "x"


@pytest.mark.parametrize("name", ["weights-v5.yaml", "bench.yaml"])
def test_shipped_recipes_name_our_scripts_and_no_machine_paths(name):
    r = load_recipe(ROOT / "training" / "recipes" / name)
    for s in r.steps:
        if not s.run[0].startswith("@"):
            assert (ROOT / s.run[0]).is_file(), (s.name, s.run[0])
        for x in (*s.run, *s.outputs, *s.inputs):
            assert not x.startswith("/"), (s.name, x)
    if name == "weights-v5.yaml":
        names = [s.name for s in r.steps]
        assert names[-1] == "check" and "train-v4" in names and "label-fr" in names
        assert {"train-tech-v5", "train-aes-v5", "assemble-v5"} <= set(names)


def test_compare_reports_the_largest_difference():
    ref = {"samples": ["a", "b"], "declip_tech": {"a": 0.5, "b": 0.6}, "declip_aes": {"a": 0.1, "b": 0.2}}
    same = compare({"declip_tech": {"a": 0.5, "b": 0.6}, "declip_aes": {"a": 0.1, "b": 0.2}}, ref, 0.01)
    assert same.ok and same.max_diff == {"declip_tech": 0.0, "declip_aes": 0.0}
    off = compare({"declip_tech": {"a": 0.5, "b": 0.65}, "declip_aes": {"a": 0.1, "b": 0.2}}, ref, 0.01)
    assert not off.ok and off.max_diff["declip_tech"] == pytest.approx(0.05) and "DIFFERS" in off.format()
    with pytest.raises(ValueError, match="no measured score"):
        compare({"declip_tech": {"a": 0.5}, "declip_aes": {}}, ref)


def test_compare_judges_the_declip_embeddings_when_the_reference_has_them():
    emb = {s: {"perceptual": [0.1, -0.2], "semantic": [0.3, 0.0]} for s in ("a", "b")}
    scores = {"declip_tech": {"a": 0.5, "b": 0.6}, "declip_aes": {"a": 0.1, "b": 0.2}}
    ref = {"samples": ["a", "b"], **scores, "lite_embeddings": emb}
    # measured embeddings are full-length; only the reference's first components are compared
    got = {s: {"perceptual": [0.1, -0.2, 0.9], "semantic": [0.3, 0.0, 0.9]} for s in ("a", "b")}
    same = compare({**scores, "lite_embeddings": got}, ref, 0.01)
    assert same.ok and same.max_diff["lite perceptual"] == 0.0 and same.max_diff["lite semantic"] == 0.0
    got["b"]["semantic"][1] = 0.05
    off = compare({**scores, "lite_embeddings": got}, ref, 0.01, semantic_tolerance=0.01)
    assert not off.ok and off.max_diff["lite semantic"] == pytest.approx(0.05)
    assert "lite semantic" in off.format() and "DIFFERS" in off.format()
    # the semantic embedding has its own tolerance (its rerun spread); the perceptual one keeps the scores'
    within = compare({**scores, "lite_embeddings": got}, ref, 0.01, semantic_tolerance=0.06)
    assert within.ok and within.tolerance == {"declip_tech": 0.01, "declip_aes": 0.01, "lite perceptual": 0.01,
                                              "lite semantic": 0.06}
    assert "lite semantic: max |diff| 5.00e-02 over 2 reference images (tolerance 0.06): ok" in within.format()
    got["a"]["perceptual"][0] = 0.12
    assert not compare({**scores, "lite_embeddings": got}, ref, 0.01, semantic_tolerance=0.06).ok
    with pytest.raises(ValueError, match="tolerances must be >= 0"):
        compare({**scores, "lite_embeddings": got}, ref, 0.01, semantic_tolerance=-1.0)


def test_check_on_the_shipped_tags_matches_the_reference(tmp_path):
    r = _run(["--check", "--declip", "lite", "--tech", "lite-tech", "--aes", "lite-aes"], tmp_path)
    assert r.returncode == 0, r.stderr
    diffs = [float(line.split("max |diff| ")[1].split()[0]) for line in r.stdout.splitlines() if "max |diff|" in line]
    assert len(diffs) == 4 and max(diffs) <= 2e-4, r.stdout  # 2 metrics + 2 embeddings; the reference's tolerance
    assert "reproduction check: ok" in r.stdout and "control-demo" not in r.stdout  # no rebuilt control demo here
    r = _run(["--check", "--declip", "lite", "--tech", "lite-tech", "--aes", "lite-aes", "--declip-v1", "lite-v1"],
             tmp_path)
    v1 = [float(line.split("max |diff| ")[1].split()[0]) for line in r.stdout.splitlines() if "lite-v1 " in line]
    assert r.returncode == 0 and len(v1) == 2 and max(v1) <= 2e-4, r.stdout + r.stderr  # the reference's tolerance
    assert "v1 DeCLIP lite-v1" in r.stdout
    r = _run(["--check", "--declip", "lite", "--tech", "lite-tech", "--aes", "lite-aes", "--declip-v1", "lite"],
             tmp_path)  # another DeCLIP in place of the v1 one: its embeddings differ
    assert r.returncode == 1 and "lite-v1 perceptual" in r.stdout and "DIFFERS" in r.stdout, r.stdout + r.stderr
    r = _run(["--check", "--declip", "lite", "--tech", "lite-tech", "--aes", "lite-aes", "--control", "control-demo"],
             tmp_path)
    assert r.returncode == 0 and "predictions differ by 0.00% relative RMS" in r.stdout, r.stdout + r.stderr
    r = _run(["--check", "--declip", "lite", "--tech", "lite-tech", "--aes", "lite-aes", "--control",
              tmp_path / "absent.safetensors"], tmp_path)
    assert r.returncode == 2 and "absent.safetensors" in r.stderr and "Traceback" not in r.stderr
    r = _run(["--check", "--run", tmp_path / "nothing"], tmp_path)
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr


def test_list_prints_each_step_as_a_command_a_shell_takes(tmp_path):
    import shlex

    r = _run(["--list"], tmp_path)
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if "build-i2t-photos:" in ln)
    assert "--aesthetic-negatives '' " in line  # an empty argument stays one
    argv = shlex.split(line.split(": ", 1)[1])
    assert argv[argv.index("--aesthetic-negatives") + 1] == ""


def test_the_semantic_tolerance_covers_its_measured_rerun_spread_with_a_margin():
    """The stated numbers of repro_check.py hang together (their source: docs/weights.md, "Reproduce")."""
    from declip_core.training.repro_check import REBUILD_TOLERANCE, SEMANTIC_SPREAD, SEMANTIC_TOLERANCE

    assert SEMANTIC_TOLERANCE >= 1.5 * SEMANTIC_SPREAD and REBUILD_TOLERANCE < SEMANTIC_SPREAD
