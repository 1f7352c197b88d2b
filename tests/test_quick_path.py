"""The quick path of training (training/configs/quick.yaml): a plan before it starts, Ctrl-C stops it cleanly and
the same command resumes, and its result loads with load_declip and through pyiqa."""
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "training" / "train.py"
QUICK = ROOT / "training" / "configs" / "quick.yaml"


def _env():
    # unbuffered: the test sends SIGINT when it reads a line, so the line must arrive when it is printed
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1"}


def _cmd(tmp_path):
    return [sys.executable, str(TRAIN), "--config", str(QUICK), "--data", str(tmp_path / "data"),
            "--set", f"out={tmp_path / 'run'}", f"cache_dir={tmp_path / 'cache'}"]


def test_bare_train_prints_the_plan_and_does_not_start(tmp_path):
    r = subprocess.run([sys.executable, str(TRAIN)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                       env=_env())
    assert r.returncode == 2, r.stderr[-2000:]
    assert "output folder: runs/lite" in r.stdout and "rough time" in r.stdout
    assert "--yes" in r.stderr and "quick.yaml" in r.stderr
    # the I&2T set it would build lies in the data root (./data here), with a sample count and a time
    assert re.search(r"build the I&2T set data/i2t-lite from offline-photos: \d+ photos .* about \d+ samples plus "
                     r"the held-out types' test images, (~\d+ min|under 1 min)", r.stdout), r.stdout
    assert not (tmp_path / "runs").exists() and not (tmp_path / "data").exists()  # nothing written


def test_bare_train_plans_under_the_data_root_of_the_environment(tmp_path):
    env = _env() | {"DECLIP_DATA": str(tmp_path / "elsewhere")}
    r = subprocess.run([sys.executable, str(TRAIN)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                       env=env)
    assert r.returncode == 2, r.stderr[-2000:]
    assert f"build the I&2T set {tmp_path / 'elsewhere' / 'i2t-lite'} from" in r.stdout, r.stdout


def _interrupt_after(cmd, cwd, marker: str) -> subprocess.CompletedProcess:
    """Start cmd, send SIGINT once a stdout line contains marker, return the finished process's output. Like a
    person, it presses Ctrl-C again (every 2 s) while the run has not said it was interrupted: a SIGINT that lands
    while Python runs a finaliser is swallowed there ("Exception ignored in ..."), so one press can be lost under
    load; once the run has answered, it is never signalled again."""
    import threading

    # SIGINT's default restored in the child: a background job of a shell without job control (as CI may run
    # this) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=_env(),
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda: err.extend(p.stderr), daemon=True)]
    readers[0].start()
    for line in p.stdout:
        out.append(line)
        if marker in line:
            break
    readers.append(threading.Thread(target=lambda: out.extend(p.stdout), daemon=True))
    readers[1].start()
    for _ in range(60):
        if p.poll() is not None or any("interrupted" in e for e in err):
            break
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
    p.wait(timeout=300)
    for t in readers:
        t.join(timeout=30)
    return subprocess.CompletedProcess(cmd, p.returncode, "".join(out), "".join(err))


def _no_traceback_of_ours(stderr: str) -> bool:
    """No traceback but Python's own report of a Ctrl-C swallowed by a finaliser ('Exception ignored in ...'),
    which the second press above answers."""
    return stderr.count("Traceback") == stderr.count("Exception ignored in")


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(tmp_path):
    cmd = _cmd(tmp_path)
    # 1. during the I&2T build (right after the plan)
    r = _interrupt_after(cmd, tmp_path, "rough time")
    assert r.returncode == 130, (r.stdout[-2000:], r.stderr[-2000:])
    assert _no_traceback_of_ours(r.stderr) and "interrupted" in r.stderr, r.stderr[-2000:]
    # 2. once the set is built and the features are being computed: the set stays
    r = _interrupt_after(cmd, tmp_path, "training rows")
    assert r.returncode == 130, (r.stdout[-2000:], r.stderr[-2000:])
    assert _no_traceback_of_ours(r.stderr) and r.stderr.strip().splitlines()[-1].startswith("interrupted"), r.stderr
    summary = tmp_path / "data" / "i2t-quick" / "summary.json"
    assert summary.is_file()
    built = summary.stat().st_mtime_ns
    # 3. the same command finishes, without rebuilding the set
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=_env())
    assert r.returncode == 0, r.stderr[-3000:]
    assert summary.stat().st_mtime_ns == built and "I&2T set at" not in r.stdout

    out = tmp_path / "run"
    from declip_core.inference import load_declip

    m = load_declip(out)
    e = m.embed_images(torch.rand(2, 3, 96, 96))
    assert e.perceptual.shape == (2, 16)

    import pyiqa

    tech = pyiqa.create_metric("declip_tech", device="cpu", declip=str(out / "declip.safetensors"),
                               checkpoint=str(out / "iqa-tech.safetensors"))
    s = tech(torch.rand(2, 3, 96, 96))
    assert s.shape[0] == 2 and bool(torch.isfinite(s).all())
