"""The Ray Data engine: the same per-batch function (`Scorer.score_sources`) in an actor pool, on a local
Ray or a cluster (`RAY_ADDRESS`). Ray is an optional extra (`pip install 'declip[scale]'`), imported only
here, only when this engine is asked for.

Work goes in waves of `wave` inputs: the driver enumerates the inputs lazily, puts a wave into the object
store as Arrow blocks of (index, path), and runs `map_batches` with a pool of `actors` actors (each loads
the model once per wave from `make_scorer`, a picklable zero-argument callable) that read and decode the
files themselves (paths must be readable on every node: a shared file system), score them and return
Arrow tables. Rows come back to the driver in input order (`preserve_order`) and are written by the
same resumable writer as the local engine. Driver memory: one wave of paths plus the rows in flight.
"""
from __future__ import annotations

import itertools
import os
from typing import Any, Callable, Iterable, Iterator

from declip_core.embed import EncodedImage, Source, source_key

_HERE = "declip_core/scoring/ray_engine.py"
MISSING_RAY = ("--engine ray needs Ray Data, which is not installed: pip install 'declip[scale]' "
               "(or pip install 'ray[data]')")


class MissingExtra(ImportError):
    """An optional dependency that the asked-for feature needs is not installed."""


def import_ray() -> Any:
    """`ray` with `ray.data`, or MissingExtra with the pip command."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise MissingExtra(f"{MISSING_RAY} ({e})") from None
    return ray


# Ray's usage-stats switches are environment variables only (RAY_USAGE_STATS_ENABLED, read by the usage
# reporter that also probes cloud-metadata addresses; RAY_DATA_USAGE_DISABLED for Ray Data's collector):
# they are set for the worker processes this engine's jobs start (runtime_env), never in this process.
NO_TELEMETRY = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DATA_USAGE_DISABLED": "1"}


def init_ray(num_cpus: int, num_gpus: int = 0, object_store_mb: int = 256) -> Any:
    """Connect to RAY_ADDRESS when set (a cluster), else start a small local Ray (no dashboard). The job's
    workers run with usage stats and Ray Data's usage collection off (NO_TELEMETRY, via runtime_env).
    The head processes that `ray.init` starts for a local Ray inherit this process's environment: run
    `ray disable-usage-stats` once (or export RAY_USAGE_STATS_ENABLED=0) to keep their reporter off too."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    runtime_env = {"env_vars": dict(NO_TELEMETRY)}
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False, runtime_env=runtime_env)
    else:
        ray.init(num_cpus=num_cpus, num_gpus=num_gpus or None, object_store_memory=object_store_mb << 20,
                 include_dashboard=False, log_to_driver=False, runtime_env=runtime_env)
    return ray


class ScoreActor:
    """One Ray actor: the model is built once (make_scorer()), then each batch of (index, path) rows is
    decoded here and scored by Scorer.score_sources. Ray gives the actor's process as many intra-op threads
    as CPUs it reserved (OMP_NUM_THREADS)."""

    def __init__(self, make_scorer: Callable[[], Any]) -> None:
        self.scorer = make_scorer()
        self.schema = self.scorer.schema()

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        from declip_core.scoring.sink import storable_rows, with_path_raw

        idx = batch.column("index").to_pylist()
        paths = [os.fsdecode(p) for p in batch.column("path").to_pylist()]  # raw bytes: any file name
        data = batch.column("data").to_pylist() if "data" in batch.column_names else [None] * len(paths)
        src = [(i, EncodedImage(p, d) if d is not None else p) for i, p, d in zip(idx, paths, data)]
        rows = storable_rows(self.scorer.score_sources(src))
        table = pa.Table.from_pylist(rows, schema=with_path_raw(self.schema))
        return table.add_column(0, "index", pa.array(idx, pa.int64()))


def _blocks(wave: list[tuple[int, Source]], rows_per_block: int) -> list[Any]:
    import pyarrow as pa

    out = []
    for k in range(0, len(wave), rows_per_block):
        chunk = wave[k : k + rows_per_block]
        cols: dict[str, Any] = {"index": pa.array([i for i, _ in chunk], pa.int64()),
                                "path": pa.array([os.fsencode(source_key(s, i)) for i, s in chunk], pa.binary())}
        if any(isinstance(s, EncodedImage) for _, s in chunk):
            cols["data"] = pa.array([s.data if isinstance(s, EncodedImage) else None for _, s in chunk], pa.binary())
        out.append(pa.table(cols))
    return out


def score_ray(inputs: Iterable[Source], make_scorer: Callable[[], Any], batch_size: int = 16, actors: int = 1,
              cpus_per_actor: float = 1, num_gpus: float = 0, wave: int = 100_000,
              object_store_mb: int = 256) -> Iterator[list[dict[str, Any]]]:
    """Lazy inputs -> batches of row dicts, in input order, one row per input (same rows as score_local).

    Raises MissingExtra without Ray; ValueError for bad sizes. Paths (or EncodedImage bytes) travel to the
    actors; tensors are not supported here."""
    if actors < 1 or batch_size < 1 or wave < 1:
        raise ValueError(f"{_HERE}: actors, batch_size and wave must be >= 1")
    ray = import_ray()
    init_ray(num_cpus=max(1, int(round(actors * cpus_per_actor))), num_gpus=int(num_gpus * actors + 0.999),
             object_store_mb=object_store_mb)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    it = iter(enumerate(inputs))
    while True:
        chunk = list(itertools.islice(it, wave))
        if not chunk:
            return
        for _, s in chunk:
            if not isinstance(s, (str, os.PathLike, EncodedImage)):
                raise ValueError(f"{_HERE}: the Ray engine takes paths or EncodedImage, got {type(s).__name__}")
        ds = ray.data.from_arrow(_blocks(chunk, max(batch_size, len(chunk) // max(1, 4 * actors) or 1)))
        ds = ds.map_batches(ScoreActor, fn_constructor_args=(make_scorer,), batch_size=batch_size,
                            batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=actors),
                            num_cpus=cpus_per_actor,
                            num_gpus=num_gpus or None)
        for b in ds.iter_batches(batch_format="pyarrow", batch_size=None):
            yield b.drop_columns(["index"]).to_pylist()
