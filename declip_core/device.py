"""Device resolution for every CLI and factory: one place that says clearly why a device is unusable."""
from __future__ import annotations

import torch


def resolve_device(spec: str | torch.device | None = "cpu") -> torch.device:
    """'cpu', 'cuda', 'cuda:1', 'mps', 'auto' (cuda if available, else cpu), None ('cpu') -> torch.device.

    Raises ValueError naming the device and the reason when it cannot be used here (not a device
    name, no CUDA GPU, an index past the number of GPUs, no MPS); CLIs turn it into an
    `error: ...` line and exit code 2.
    """
    if spec is None:
        return torch.device("cpu")
    if isinstance(spec, str) and spec.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec.strip() if isinstance(spec, str) else spec)
    except (RuntimeError, TypeError, ValueError) as e:
        raise ValueError(f"unknown device {spec!r} ({e}); use cpu, cuda, cuda:N, mps or auto") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {spec!r}: no CUDA GPU is available here (torch {torch.__version__}, "
                             f"built with CUDA {torch.version.cuda}); use --device cpu")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ValueError(f"device {spec!r}: only {n} CUDA GPU(s) here (cuda:0..cuda:{n - 1})")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {spec!r}: MPS (Apple GPU) is not available here; use --device cpu")
    elif dev.type != "cpu":
        raise ValueError(f"device {spec!r}: unsupported device type {dev.type!r}; use cpu, cuda, cuda:N, mps or auto")
    return dev
