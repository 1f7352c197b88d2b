"""Start a real ComfyUI on the CPU on loopback, and talk to its HTTP API (stdlib only)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ComfyServer:
    """A running ComfyUI process (started by `start`) and its base URL."""

    proc: subprocess.Popen
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str, timeout: float = 30.0) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body[:1] in (b"{", b"[") else body

    def post_prompt(self, graph: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /prompt; (HTTP status, JSON answer). A rejected graph answers 400 with node_errors."""
        req = urllib.request.Request(self.url + "/prompt", data=json.dumps({"prompt": graph}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def wait_history(self, prompt_id: str, timeout: float = 300.0) -> dict[str, Any]:
        """Poll /history/<id> until the prompt finished (successfully or not)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            h = self.get(f"/history/{prompt_id}")
            if prompt_id in h and h[prompt_id].get("status", {}).get("completed") is not None:
                entry = h[prompt_id]
                if entry["status"].get("status_str") in ("success", "error"):
                    return entry
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            time.sleep(0.5)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout} s:\n{self.log()[-4000:]}")

    def run(self, graph: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
        """Queue a graph and wait for its history entry; raises if the graph is rejected."""
        status, answer = self.post_prompt(graph)
        if status != 200:
            raise RuntimeError(f"graph rejected ({status}): {json.dumps(answer)[:2000]}")
        return self.wait_history(answer["prompt_id"], timeout)

    def view(self, image: dict[str, str]) -> bytes:
        """Bytes of an output image listed in a history entry."""
        q = urllib.parse.urlencode({"filename": image["filename"], "subfolder": image.get("subfolder", ""),
                                    "type": image.get("type", "output")})
        return self.get(f"/view?{q}")

    def stop(self) -> None:
        """Terminate the process this helper started (by its own handle), then wait for it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)


def start(comfyui: Path, base_dir: Path, python: str | None = None, timeout: float = 180.0) -> ComfyServer:
    """Run ComfyUI's main.py on the CPU, loopback only, with `base_dir` as its base directory.

    The DeCLIP repository goes on PYTHONPATH so the custom node pack can import declip_core.
    """
    port = free_port()
    log_path = base_dir / "comfyui.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    cmd = [python or sys.executable, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
           "--disable-api-nodes", "--disable-auto-launch", "--database-url", "sqlite:///:memory:",
           "--base-directory", str(base_dir)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=comfyui, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = ComfyServer(proc=proc, url=f"http://127.0.0.1:{port}", log_path=log_path)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"ComfyUI exited with {proc.returncode}:\n{server.log()[-4000:]}")
        try:
            server.get("/system_stats", timeout=2)
            return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    server.stop()
    raise TimeoutError(f"ComfyUI did not answer within {timeout} s:\n{server.log()[-4000:]}")
