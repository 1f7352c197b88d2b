"""declip-score on a terminal (issue 23, situation 0): with the progress bar on (its thread counts the inputs)
and one decode worker, a folder holding one unreadable file used to hang forever: the worker was forked
while the counting thread held an import lock. Run under a pseudo-terminal, as a user would; plus the decode
watchdog that turns a stuck decoder into an error row."""
from __future__ import annotations

import os
import select
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DRIVER = str(ROOT / "tests" / "helpers" / "score_driver.py")


def _run_in_pty(argv: list[str], timeout: float) -> tuple[int | None, str]:
    """(exit code or None when still running after timeout (then killed), everything it printed)."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its stdin/stdout/stderr, so isatty() is True
        import fcntl
        import struct
        import termios

        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 120-column terminal
        os.environ.update({"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
        os.execv(sys.executable, [sys.executable, *argv])
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    out += os.read(fd, 65536)
                except OSError:  # EIO: the child closed the terminal
                    pass
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status), out.decode(errors="replace")
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None, out.decode(errors="replace")
    finally:
        os.close(fd)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_cli_on_a_terminal_with_one_bad_file_among_good_ones(tmp_path: Path) -> None:
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(d / f"img_{i:05d}.png")
    (d / "img_00010b.png").write_bytes(b"this is not an image")  # PIL tries every plugin on it
    out = tmp_path / "r.parquet"
    code, text = _run_in_pty([DRIVER, "--", str(d), "--out", str(out)], timeout=240)  # default settings
    assert code == 1, f"exit {code} (None: hung); output:\n{text[-2000:]}"
    assert "img/s" in text  # the bar was on: this really ran as on a terminal
    assert "scored 24, failed 1, skipped 0" in text


def _stuck_decode(source, cfg, views, max_pixels):  # module level: picklable for any start method
    from declip_core.embed import decode_views

    if str(source).endswith("stuck.png"):
        time.sleep(3600)
    return decode_views(source, cfg, views, max_pixels)


def test_watchdog_turns_a_stuck_decoder_into_an_error_row(tmp_path: Path) -> None:
    from declip_core.embed import decode_stream
    from declip_core.testing import tiny_declip

    rng = np.random.default_rng(1)
    files = []
    for name in ("a.png", "stuck.png", "b.png", "c.png"):
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(tmp_path / name)
        files.append(str(tmp_path / name))
    cfg = tiny_declip().preprocess_config
    got = [d for b in decode_stream(files, cfg, [None], batch_size=2, workers=1, decode=_stuck_decode, timeout=4)
           for d in b]
    assert [d.key for d in got] == files  # every input once, in order
    assert [d.error is None for d in got] == [True, False, True, True]
    assert "decoding took longer than 4 s" in got[1].error
    with pytest.raises(ValueError, match="timeout"):
        next(decode_stream(files, cfg, [None], timeout=-1))
