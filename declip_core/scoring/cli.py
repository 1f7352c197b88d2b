"""`declip-score`: score image collections into a resumable table, on one machine or a Ray cluster.

    declip-score INPUT... --metric tech [--metric aes] --out results.parquet [--engine local|ray]
    declip-score photos/ --out -          # small jobs: a table on stdout (--json: one JSON object)

INPUT: folders (recursive), globs, .txt/.csv/.tsv/.parquet lists with a path column, hf:<image folder>.
Exit status: 0 every input in the output scored, 1 some inputs could not be scored (each has an `error`
row; a rerun retries them), 2 bad arguments / weights / device or the output is in use by another run
(nothing done), 3 the output could not be written (disk full, quota, permissions), 130 interrupted (rerun
the same command to resume).
"""
from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
from typing import Any, Iterator, Sequence

from declip_core.constants import METRICS
from declip_core.embed import PRECISIONS, Source, source_key
from declip_core.io import DEFAULT_MAX_PIXELS

PROG = "declip-score"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                 epilog="Docs: docs/scale.md. Exit 0 all scored, 1 some failed (a rerun retries them), "
                                        "2 bad arguments or output in use, 3 output could not be written, "
                                        "130 interrupted (rerun to resume).")
    ap.add_argument("inputs", nargs="+", metavar="INPUT",
                    help="folders (recursive), globs, .txt/.csv/.tsv/.parquet path lists, hf:<image folder>")
    ap.add_argument("--metric", action="append", choices=METRICS, help="repeat for several (default tech)")
    ap.add_argument("--out", "-o", default=None,
                    help="results .parquet, .csv or .jsonl (resumed if it exists); '-': print a table (small jobs)")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object (small jobs; no --out)")
    ap.add_argument("--format", choices=("parquet", "csv", "jsonl"), default=None, help="default: from --out suffix")
    ap.add_argument("--engine", choices=("local", "ray"), default="local")
    ap.add_argument("--path-column", default="path", help="column of .csv/.tsv/.parquet lists (default path)")
    ap.add_argument("--attributes", action="store_true", help="also the per-attribute scores (<metric>_<attr>)")
    ap.add_argument("--embedding", action="store_true", help="also the perceptual embedding (list column)")
    ap.add_argument("--map", default=None, metavar="DIR",
                    help="also write each image's declip_tech quality map into DIR: a 16-bit greyscale PNG of G x G "
                         "regions (7 x 7 with the shipped head; 65535 = score 1), named <file stem>-<8 hex>.png "
                         "(local engine)")
    ap.add_argument("--declip", default=None, help="DeCLIP checkpoint file/folder/tag (default lite)")
    ap.add_argument("--checkpoint", action="append", default=[], metavar="[METRIC=]PATH",
                    help="head checkpoint file/folder/tag (default lite-<metric>); METRIC=PATH with several metrics")
    ap.add_argument("--head", choices=("zeroshot",), default=None, help="zero-shot heads instead of the checkpoints'")
    ap.add_argument("--batch-size", type=int, default=16, help="inputs per backbone pass (default 16)")
    ap.add_argument("--workers", type=int, default=1, help="local engine: decode processes (default 1)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps, auto")
    ap.add_argument("--precision", choices=tuple(PRECISIONS), default="fp32", help="bf16/fp16: autocast")
    ap.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS)
    ap.add_argument("--decode-timeout", type=float, default=300.0,
                    help="local engine: seconds a decode worker may take for a batch before its files are "
                         "retried one by one and a stuck one becomes an error row (default 300)")
    ap.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming")
    ap.add_argument("--flush-rows", type=int, default=4096, help="rows per part file while running")
    ap.add_argument("--quiet", "-q", action="store_true", help="no progress bar (it is off anyway when not a TTY)")
    ap.add_argument("--no-summary", action="store_true", help="not even the one-line summary")
    ray = ap.add_argument_group("Ray engine (pip install 'declip[scale]'; RAY_ADDRESS selects a cluster)")
    ray.add_argument("--actors", type=int, default=1, help="actor pool size (each loads the model once)")
    ray.add_argument("--cpus-per-actor", type=float, default=1.0)
    ray.add_argument("--num-gpus", type=float, default=0.0, help="GPUs per actor (use with --device cuda)")
    ray.add_argument("--wave", type=int, default=100_000, help="inputs enumerated and submitted at a time")
    ray.add_argument("--object-store-mb", type=int, default=256, help="local Ray only")
    return ap


def _checkpoints(specs: Sequence[str], metrics: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for s in specs:
        name, eq, path = s.partition("=")
        if eq and name in METRICS:
            out[name] = path
        elif len(metrics) == 1:
            out[metrics[0]] = s
        else:
            raise ValueError(f"--checkpoint {s!r}: with several metrics write METRIC=PATH (e.g. tech=heads/tech)")
    return out


def _pending(inputs: Iterator[Source], done: Any, progress: Any) -> Iterator[Source]:
    for i, s in enumerate(inputs):
        if done.take(source_key(s, i)):
            progress.skipped()
        else:
            yield s


def _bad_setting(args: argparse.Namespace) -> str | None:
    """The first unusable setting, named, or None: checked before any model is loaded or file written."""
    from declip_core.scoring.sink import output_format

    checks = [(args.batch_size >= 1, "--batch-size must be >= 1"), (args.workers >= 0, "--workers must be >= 0"),
              (args.actors >= 1, "--actors must be >= 1"), (args.max_pixels >= 1, "--max-pixels must be >= 1"),
              (args.flush_rows >= 1, "--flush-rows must be >= 1"), (args.wave >= 1, "--wave must be >= 1"),
              (args.cpus_per_actor > 0, "--cpus-per-actor must be > 0"), (args.num_gpus >= 0, "--num-gpus must be >= 0"),
              (args.object_store_mb >= 1, "--object-store-mb must be >= 1"),
              (args.decode_timeout > 0, "--decode-timeout must be > 0")]
    for ok, msg in checks:
        if not ok:
            return msg
    if args.map is not None and args.engine != "local":
        return "--map writes files from this process: use --engine local"
    if args.map is not None and os.path.exists(args.map) and not os.path.isdir(args.map):
        return f"--map {args.map}: is a file; name a folder"
    if args.out is None or args.out == "-":  # printed results: no file to check
        return None
    if os.path.isdir(args.out):
        return f"--out {args.out}: is a folder; name the results file (e.g. {os.path.join(args.out, 'results.parquet')})"
    try:
        if output_format(args.out, args.format) == "csv" and args.embedding:
            return f"{args.out}: CSV cannot hold the embedding column; write .parquet or .jsonl"
    except ValueError as e:
        return str(e)
    return None


def write_maps(rows: list[dict[str, Any]], folder: str) -> None:
    """Take each row's quality map (the Scorer's `_map`, (G, G) float in 0..1) out of the row and write it to
    `folder` as a 16-bit greyscale PNG (0..65535), named after the input: <stem>-<8 hex of sha1(path)>.png."""
    import hashlib

    import numpy as np
    from PIL import Image

    for r in rows:
        m = r.pop("_map", None)
        if m is None:
            continue
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in os.path.splitext(os.path.basename(r["path"]))[0])
        name = f"{stem[:80]}-{hashlib.sha1(r['path'].encode('utf-8', 'surrogateescape')).hexdigest()[:8]}.png"
        Image.fromarray(np.round(np.clip(m, 0.0, 1.0) * 65535).astype(np.uint16)).save(os.path.join(folder, name))


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # a cluster scheduler's SIGTERM: stop like Ctrl-C, keeping what is written


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    metrics = list(dict.fromkeys(args.metric or ["tech"]))
    from declip_core.device import resolve_device
    from declip_core.scoring.printed import PrintedResults
    from declip_core.scoring.progress import Progress
    from declip_core.scoring.ray_engine import MissingExtra
    from declip_core.scoring.scorer import build_scorer
    from declip_core.scoring.sink import OutputError, OutputLocked, ResultSink
    from declip_core.scoring.sources import Skipped, iter_inputs

    def fail(msg: str) -> int:
        print(f"error: {msg}", file=sys.stderr)
        return 2

    if args.json and args.out not in (None, "-"):
        return fail("--json prints the results: leave out --out FILE")
    if args.out is None and not args.json:
        return fail("give --out FILE (a resumable table), --out - (print a table) or --json (print JSON)")
    printed = args.json or args.out == "-"
    try:
        import tqdm  # noqa: F401
        if not printed:  # only the result tables need pyarrow, and their lock filelock
            import filelock  # noqa: F401
            import pyarrow  # noqa: F401
    except ImportError as e:
        return fail(f"declip-score needs pyarrow, tqdm and filelock ({e}): pip install 'declip[scale]'")
    bad = _bad_setting(args)
    if bad is not None:
        return fail(bad)
    try:
        device = str(resolve_device(args.device))
        ckpts = _checkpoints(args.checkpoint, metrics)
        if args.engine == "ray":
            from declip_core.scoring.ray_engine import import_ray

            import_ray()
        make = functools.partial(build_scorer, metrics, declip=args.declip, checkpoints=ckpts, head=args.head,
                                 device=device, attributes=args.attributes, embedding=args.embedding,
                                 precision=args.precision, max_pixels=args.max_pixels)
        scorer = make()
        if args.map is not None:
            if "tech" not in scorer.models or not scorer.models["tech"].has_map:
                return fail("--map needs the tech metric with a head that has a quality map (the shipped lite-tech)")
            scorer.maps = True
            os.makedirs(args.map, exist_ok=True)
        if printed:
            sink = PrintedResults(scorer.columns(), scorer.metrics, as_json=args.json)
            done = sink.done()
        else:
            sink = ResultSink(args.out, scorer.schema(), fmt=args.format, flush_rows=args.flush_rows,
                              overwrite=args.overwrite)
            try:
                done = sink.done()
            except BaseException:
                sink.close()  # the lock: an in-process caller may retry
                raise
    except (MissingExtra, OutputLocked) as e:
        return fail(str(e))
    except OutputError as e:
        print(f"error: {e.strerror}", file=sys.stderr)
        return 3
    except (ValueError, OSError) as e:
        return fail(f"{e}\n(weights: pass --declip and --checkpoint, or --head zeroshot)"
                    if "checkpoint" in str(e) or "weights" in str(e) else str(e))

    for path, why in sink.set_aside:
        print(f"warning: {path}: an unreadable part ({why}) set aside; its inputs are scored again",
              file=sys.stderr)
    skipped = Skipped()
    progress = Progress(enabled=False if args.quiet else None,
                        count_inputs=lambda: iter_inputs(args.inputs, args.path_column))
    pending = _pending(iter_inputs(args.inputs, args.path_column, skipped), done, progress)
    if args.engine == "ray":
        from declip_core.scoring.ray_engine import score_ray

        batches = score_ray(pending, make, batch_size=args.batch_size, actors=args.actors,
                            cpus_per_actor=args.cpus_per_actor, num_gpus=args.num_gpus, wave=args.wave,
                            object_store_mb=args.object_store_mb)
    else:
        from declip_core.embed import thread_safe_start_method
        from declip_core.scoring.local import score_local

        # the bar runs threads (tqdm's, the input count): decode processes must not be forked then
        batches = score_local(pending, scorer, batch_size=args.batch_size, workers=args.workers,
                              timeout=args.decode_timeout,
                              start_method=thread_safe_start_method() if progress.bar is not None else None)
    old = signal.signal(signal.SIGTERM, _sigterm)
    code = 0
    try:
        for rows in batches:
            if args.map is not None:
                write_maps(rows, args.map)
            sink.write(rows)
            progress.update(len(rows), sum(r["error"] is not None for r in rows))
        sink.finish()
    except KeyboardInterrupt:
        code = _flush_on_exit(sink, 130)
        progress.summary.interrupted = code == 130
    except OutputError as e:  # disk full, quota: what is written stays; rerun to resume
        sink.close()
        progress.close()
        print(f"error: {e.strerror}; what was written before stays, rerun to resume", file=sys.stderr)
        return 3
    except ValueError as e:  # e.g. a list file without the path column, met while enumerating
        code = _flush_on_exit(sink, 2)
        progress.close()
        return fail(str(e)) if code == 2 else code
    finally:
        signal.signal(signal.SIGTERM, old)
        sink.close()
    summary = progress.close()
    summary.not_images = skipped.not_images
    if isinstance(sink, PrintedResults):
        print(sink.report(skipped.not_images))
    elif not args.no_summary:
        print(summary.line(args.out), file=sys.stderr)
    if code:
        return code
    return 1 if sink.errors_left else 0


def _flush_on_exit(sink: Any, code: int) -> int:
    """Write the buffered rows before stopping: `code`, or 3 (with an `error:` line) when that fails."""
    from declip_core.scoring.sink import OutputError

    try:
        sink.flush()
    except OutputError as e:
        print(f"error: {e.strerror}", file=sys.stderr)
        return 3
    return code


if __name__ == "__main__":
    sys.exit(main())
