"""declip-score's main() with a tiny random model (fast), for subprocess tests of the writer.

    python tests/helpers/score_driver.py [--kill-at STEP:N] [--pause-at STEP:N:FILE] -- ARGS...

--kill-at: SIGKILL this process the N-th time the writer reaches STEP (ResultSink._step: start, part-write,
rename, merge, cleanup, replace). --pause-at: at that point wait until FILE exists (holding the lock).
"""
from __future__ import annotations

import os
import signal
import sys
import time


def tiny_build(metrics, **kw):
    from declip_core.iqa import create_quality_model
    from declip_core.scoring.scorer import Scorer
    from declip_core.testing import tiny_declip

    dc = tiny_declip()
    models = {m: create_quality_model(m, head="zeroshot", declip=dc) for m in dict.fromkeys(metrics)}
    return Scorer(models, attributes=kw.get("attributes", False), embedding=kw.get("embedding", False),
                  max_pixels=kw["max_pixels"])


def main(argv: list[str]) -> int:
    from declip_core.scoring import cli, scorer, sink

    sep = argv.index("--")
    opts, args = argv[:sep], argv[sep + 1:]
    kill = dict(zip(opts[::2], opts[1::2]))
    counts: dict[str, int] = {}

    def step(self, name: str) -> None:
        counts[name] = counts.get(name, 0) + 1
        if "--kill-at" in kill and kill["--kill-at"] == f"{name}:{counts[name]}":
            os.kill(os.getpid(), signal.SIGKILL)
        if "--pause-at" in kill:
            at, _, flag = kill["--pause-at"].rpartition(":")
            if at == f"{name}:{counts[name]}":
                while not os.path.exists(flag):
                    time.sleep(0.05)

    sink.ResultSink._step = step
    scorer.build_scorer = tiny_build
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
