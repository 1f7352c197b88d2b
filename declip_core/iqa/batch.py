"""Deprecated door: `python -m declip_core.iqa.batch` forwards to `declip-score ... --out -` (a table) or
`declip-score ... --json`, with a deprecation line on stderr. In Python use declip_core.scoring.score_files /
embed_files. Nothing is imported from declip_core.scoring until main() runs (declip_core.iqa sits below it)."""
from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Print the deprecation line, then run declip-score with the same arguments (its exit status)."""
    args = list(sys.argv[1:] if argv is None else argv)
    print("python -m declip_core.iqa.batch is deprecated: use `declip-score INPUT... --out -` (a table) or "
          "`declip-score INPUT... --json`; forwarding.", file=sys.stderr)
    if "--json" not in args and not any(a in ("--out", "-o") or a.startswith("--out=") for a in args):
        args += ["--out", "-"]
    from declip_core.scoring.cli import main as declip_score

    return declip_score(args)


if __name__ == "__main__":
    sys.exit(main())
