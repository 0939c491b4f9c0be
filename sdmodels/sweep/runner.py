"""Run a sweep: validate it, split it into chunks, run them here, in local processes or on a
Dask cluster, and write each chunk as it finishes (resumable; see `sdmodels.sweep.store`).

Each chunk is one call of the compiled kernel over all its runs; a worker process compiles
(or loads from the kernel cache) the model once and reuses it for every chunk it gets.
Workers return their results to this process, which alone writes files, so a worker that
dies leaves nothing behind: Dask reruns its chunk elsewhere and the chunk is written once.

>>> import tempfile
>>> from sdmodels.sweep import SweepSpec, parse_vary
>>> spec = SweepSpec(model="teacup", factors=parse_vary(["Room Temperature=60:80:10"]))
>>> out = run_sweep(spec, tempfile.mkdtemp(), progress=False)
>>> out.table["Teacup Temperature.label"].tolist()
['decline', 'decline', 'decline']
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from sdmodels.files import writable_dir
from sdmodels.sweep import store
from sdmodels.sweep.design import LabelOptions, SweepError, SweepSpec, design_table, spec_from_json
from sdmodels.sweep.metrics import DEFAULT_KINDS, Metric, compute_metrics, parse_metric

AUTO_CLUSTER_RUNS = 2_000_000      # a sweep this large starts a LocalCluster by itself
AUTO_CLUSTER_MIN_CPUS = 4          # ... on a machine with at least this many cores
SAMPLE_RUNS = 60                   # runs kept whole for the fan plot
_KERNELS: dict[str, object] = {}   # per-process cache: fingerprint -> compiled Kernel


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs to run runs [start, stop) of a sweep."""
    index: int
    start: int
    stop: int
    model: object
    method: str
    fingerprint: str
    scenario: str | None
    params: dict
    seed: int
    outputs: tuple[str, ...]
    labelled: tuple[str, ...]
    metrics: tuple[Metric, ...]
    series: tuple[str, ...]
    sample: tuple[int, ...]
    trigger: tuple[float, float] | None
    labels: LabelOptions
    time: dict
    parallel: bool | None


@dataclass(frozen=True)
class SweepOutcome:
    """What `run_sweep` did."""
    directory: Path
    runs: int
    chunks: int
    chunks_run: int
    chunks_skipped: int
    seconds: float
    table: pd.DataFrame


def _kernel(model, method: str, fingerprint: str):
    kernel = _KERNELS.get(fingerprint)
    if kernel is None:
        from sdmodels.compile import compile
        from sdmodels.sources import load_model
        kernel = compile(load_model(model) if isinstance(model, str) else model, method=method)
        _KERNELS[fingerprint] = kernel
    return kernel


def run_chunk(task: ChunkTask):
    """Simulate one chunk; return (table, series or None, sample frame or None)."""
    from sdmodels.simulate import simulate
    from sdmodels.sweep.labels import classify
    kernel = _kernel(task.model, task.method, task.fingerprint)
    wanted = tuple(dict.fromkeys(task.outputs + task.series))
    results = simulate(kernel, params=task.params, scenario=task.scenario, seed=task.seed,
                       outputs=list(wanted), parallel=task.parallel, on_failure="mark",
                       **task.time)
    t = results.times
    cols = {c: results.data[:, :, i] for i, c in enumerate(results.columns)}
    failed = np.zeros(results.runs, dtype=bool)
    failed[list(results.failures)] = True
    # a run that blew up keeps its NaN series; its metrics are NaN and its label 'failed'
    clean = {c: np.where(failed[:, None], 0.0, y) for c, y in cols.items()} \
        if failed.any() else cols
    table = compute_metrics(t, clean, task.metrics, task.trigger)
    table.loc[failed, :] = np.nan
    for name in task.labelled:
        lab = classify(t, clean[name], trigger=task.trigger, options=task.labels)
        for c in lab.columns:
            table[f"{name}.{c}"] = lab[c].astype(str) if c == "label" else lab[c]
            table.loc[failed, f"{name}.{c}"] = "failed" if c == "label" else np.nan
    table.insert(0, "run", np.arange(task.start, task.stop, dtype=np.int64))
    table["failure"] = pd.Series([results.failures.get(r) for r in range(results.runs)],
                                 index=table.index, dtype=object)   # None: the run did not fail
    series = None
    if task.series:
        series = np.stack([cols[c] for c in task.series], axis=-1)
    sample = None
    if task.sample:
        local = np.asarray(task.sample, dtype=np.int64) - task.start
        sample = pd.DataFrame({"run": np.repeat(np.asarray(task.sample), t.size),
                               "time": np.tile(t, local.size),
                               **{c: cols[c][local].reshape(-1) for c in task.labelled}})
    return table, series, sample


@dataclass(frozen=True)
class Plan:
    """A validated sweep: the design table, chunk bounds, resolved names, fingerprint."""
    spec: SweepSpec
    design: pd.DataFrame
    chunks: tuple[tuple[int, int], ...]
    outputs: tuple[str, ...]
    metrics: tuple[Metric, ...]
    series: tuple[str, ...]
    times: tuple[float, ...]
    fingerprint: str
    model_name: str


def default_chunk_size(runs: int) -> int:
    """About 20 chunks, between 200 and 5,000 runs each (depends on the run count only,
    so the same sweep always splits the same way)."""
    return int(min(5000, max(200, math.ceil(runs / 20))))


def _one_label(kernel, name: str, role: str) -> list[str]:
    from sdmodels.simulate import _output_slots
    return [kernel.slots[i].label for i in _output_slots(kernel, [name])]


def prepare(spec: SweepSpec):
    """Check the whole sweep against its model before anything runs; return (kernel, Plan).

    Every problem found (unknown parameter, output or scenario, bad metric, empty range,
    bad distribution) is reported in one SweepError.
    """
    from sdmodels.compile import compile
    from sdmodels.elements import Stock
    from sdmodels.simulate import check_scenario, resolve_params, simulate
    from sdmodels.sources import load_model
    from sdmodels.errors import SDModelsError
    design = design_table(spec)           # raises on design-only problems
    kernel = compile(load_model(spec.model) if isinstance(spec.model, str) else spec.model,
                     method=spec.method)
    ir = kernel.ir
    problems: list[str] = []

    def check(fn, *args):
        try:
            return fn(*args)
        except SDModelsError as exc:
            problems.append(str(exc))
            return None
    for name in [f.name for f in spec.factors] + list(spec.set):
        check(resolve_params, kernel, {name: 0.0})
    check(check_scenario, ir, spec.scenario)
    names = list(spec.outputs) or [v.display for v in ir.of_kind(Stock) if not v.internal]
    outputs = [lab for n in names for lab in (check(_one_label, kernel, n, "output") or [])]
    metrics = []
    texts = list(spec.metrics) or [f"{o}:{k}" for o in outputs for k in DEFAULT_KINDS]
    for text in texts:
        metric = check(parse_metric, text)
        if metric is None:
            continue
        labels = check(_one_label, kernel, metric.output, "output")
        if labels is not None and len(labels) != 1:
            problems.append(f"metric '{text}': '{metric.output}' is arrayed; name one element, "
                            f"for example {labels[0]}")
        elif labels:
            metrics.append(replace(metric, output=labels[0]))
        if metric.kind == "recovery" and spec.trigger is None:
            problems.append(f"metric '{text}' needs a trigger (trigger = {{start = S, end = E}})")
    series = [lab for n in spec.series for lab in (check(_one_label, kernel, n, "series") or [])]
    time_opts = {k: v for k, v in (("stop", spec.stop), ("dt", spec.dt),
                                   ("saveper", spec.saveper)) if v is not None}
    probe = None
    if not problems:   # one tiny run: time settings, scenario values, fixed settings
        probe = check(lambda: simulate(kernel, params=dict(spec.set), scenario=spec.scenario,
                                       outputs=outputs[:1] or None, method=spec.method,
                                       **time_opts))
    if problems:
        raise SweepError("invalid sweep: " + "; ".join(dict.fromkeys(problems)))
    size = int(spec.chunk_size or default_chunk_size(len(design)))
    bounds = tuple((a, min(a + size, len(design))) for a in range(0, len(design), size))
    spec = replace(spec, chunk_size=size)
    digest = hashlib.sha256((spec.to_json() + kernel.source_hash
                             + kernel.defaults.tobytes().hex()).encode()).hexdigest()[:16]
    return kernel, Plan(spec, design, bounds, tuple(dict.fromkeys(outputs)),
                        tuple(dict.fromkeys(metrics)), tuple(dict.fromkeys(series)),
                        tuple(float(x) for x in probe.times), digest, ir.name)


def check_sweep_size(plan: Plan, root: Path, *, workers: int = 1) -> None:
    """Before any run: a chunk's results (x workers) must fit in memory, kept series on disk."""
    import shutil
    from sdmodels.limits import check_result_size
    width = len(dict.fromkeys(plan.outputs + plan.series))
    rows = max((b - a for a, b in plan.chunks), default=0)
    check_result_size(f"sweep of model '{plan.model_name}' (chunks of {rows} runs)", runs=rows,
                      saved=len(plan.times), outputs=width, copies=workers)
    if plan.series:
        need = 2 * 8 * len(plan.design) * len(plan.times) * len(plan.series)
        probe = root if root.exists() else next((p for p in root.parents if p.exists()), root)
        free = shutil.disk_usage(probe).free
        if need > free:
            raise SweepError(f"the series kept by this sweep ({len(plan.design)} runs x "
                             f"{len(plan.times)} times x {len(plan.series)} variables, twice "
                             f"while assembled) need {need / 2**30:.1f} GiB on disk and "
                             f"{probe} has {free / 2**30:.1f} GiB free; keep fewer series, save "
                             "fewer times (saveper) or write elsewhere (-o)")


def _tasks(plan: Plan, pending: list[int], parallel: bool | None) -> list[ChunkTask]:
    spec, design = plan.spec, plan.design
    varied = [f.name for f in spec.factors]
    stride = max(1, math.ceil(len(design) / SAMPLE_RUNS))
    time_opts = {k: v for k, v in (("stop", spec.stop), ("dt", spec.dt),
                                   ("saveper", spec.saveper)) if v is not None}
    out = []
    for i in pending:
        a, b = plan.chunks[i]
        params = dict(spec.set)
        params.update({n: design[n].to_numpy()[a:b] for n in varied})
        if not varied and b - a > 1:   # replications only: repeat the defaults
            first = next(iter(params), None)
            params = {k: np.full(b - a, v) for k, v in params.items()} if first else {}
        out.append(ChunkTask(
            i, a, b, spec.model, spec.method, plan.fingerprint, spec.scenario, params,
            int((spec.seed + a) % 2 ** 32), plan.outputs, plan.outputs, plan.metrics,
            plan.series, tuple(r for r in range(a, b) if r % stride == 0), spec.trigger,
            spec.labels, time_opts, parallel))
    return out


def _runs_of(task: ChunkTask) -> int:
    return task.stop - task.start


def run_sweep(spec: SweepSpec | None, directory, *, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, progress: bool = True,
              on_chunk: Callable[[int, int, int], None] | None = None) -> SweepOutcome:
    """Run (or finish) the sweep `spec` into `directory`.

    The same sweep started again on the same directory skips the chunks already written;
    `resume=True` with `spec=None` continues the sweep recorded in the directory.
    `workers` > 1 runs chunks in that many local processes; `scheduler` is the address of
    a Dask scheduler (or "local" to start a LocalCluster with `workers` workers).
    `on_chunk(index, chunks_done, chunks_total)` is called as each chunk is written.
    """
    began = time.perf_counter()
    root = Path(directory)
    manifest = store.read_manifest(root)
    if spec is None:
        if manifest is None:
            raise SweepError(f"nothing to resume: '{root}' holds no sweep (no sweep.json); "
                             "give the sweep file or model")
        spec = spec_from_json(manifest["spec"])
    elif resume and manifest is None:
        raise SweepError(f"--resume: '{root}' holds no sweep to resume; drop --resume to start")
    check_scheduler(scheduler)
    kernel, plan = prepare(spec)
    check_sweep_size(plan, root, workers=workers or 1)
    if manifest is not None and manifest["fingerprint"] != plan.fingerprint:
        raise SweepError(f"'{root}' already holds a different sweep (of model "
                         f"'{manifest.get('model')}', {manifest.get('runs')} runs); choose "
                         "another output directory or delete this one")
    writable_dir(root)
    store.clean_temporary(root)
    manifest = {"fingerprint": plan.fingerprint, "spec": plan.spec.to_json(),
                "model": plan.model_name, "runs": len(plan.design), "chunks": plan.chunks,
                "outputs": plan.outputs, "series_columns": plan.series, "times": plan.times,
                "metrics": [m.column for m in plan.metrics], "trigger": spec.trigger}
    store.write_manifest(root, manifest)
    with_series = bool(plan.series)
    done = store.finished_chunks(root, len(plan.chunks), with_series)
    pending = [i for i in range(len(plan.chunks)) if i not in done]
    _KERNELS[plan.fingerprint] = kernel
    distributed = scheduler is not None or (
        workers is None and len(plan.design) >= AUTO_CLUSTER_RUNS
        and (os.cpu_count() or 1) >= AUTO_CLUSTER_MIN_CPUS)
    parallel = False if (distributed or (workers or 1) > 1) else None
    tasks = _tasks(plan, pending, parallel)
    from tqdm.auto import tqdm
    bar = tqdm(total=len(plan.design), initial=sum(b - a for i, (a, b) in enumerate(plan.chunks)
                                                   if i in done),
               unit="run", unit_scale=True, disable=not progress, desc=plan.model_name,
               smoothing=0.1)
    count = [len(done)]

    def finish(task, result):
        store.write_chunk(root, task.index, *result)
        count[0] += 1
        bar.update(_runs_of(task))
        if on_chunk is not None:
            on_chunk(task.index, count[0], len(plan.chunks))
    try:
        if tasks and distributed:
            _run_dask(tasks, finish, scheduler, workers)
        elif tasks and (workers or 1) > 1:
            _run_processes(tasks, finish, workers)
        else:
            for task in tasks:
                finish(task, run_chunk(task))
    finally:
        bar.close()
    table = store.assemble_table(root, len(plan.chunks), plan.design)
    if with_series:
        store.assemble_series(root, manifest, plan.design, spec.series_format)
    store.clean_temporary(root)
    return SweepOutcome(root, len(plan.design), len(plan.chunks), len(tasks), len(done),
                        time.perf_counter() - began, table)


def _single_thread() -> None:
    import numba
    numba.set_num_threads(1)


POOL_RESTARTS = 3


def _run_processes(tasks, finish, workers: int) -> None:
    """Chunks in local processes. A process that dies (killed, out of memory) breaks the
    pool; a new pool then runs the chunks not yet finished, up to POOL_RESTARTS times."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool
    context = multiprocessing.get_context("spawn")
    pending = list(tasks)
    for attempt in range(POOL_RESTARTS + 1):
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                     initializer=_single_thread) as pool:
                futures = {pool.submit(run_chunk, t): t for t in pending}
                for future in as_completed(futures):
                    task = futures[future]
                    finish(task, future.result())
                    pending.remove(task)
            return
        except BrokenProcessPool:
            if attempt == POOL_RESTARTS:
                raise SweepError(f"worker processes died {POOL_RESTARTS + 1} times; "
                                 f"{len(pending)} chunks are not done. Finished chunks are "
                                 "kept: run again with --resume, or fewer --workers if memory "
                                 "ran out") from None


#: tcp://host:port, host:port, tls://[::1]:8786: what dask's Client takes as an address
_ADDRESS = re.compile(r"(?:[a-z][a-z0-9+]*://)?(?:\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):\d{1,5}")


def check_scheduler(scheduler: str | None) -> None:
    """A SweepError unless `scheduler` is None, 'local' or a scheduler address: before the
    sweep's folder is written, not after dask fails on it.

    >>> check_scheduler("tcp://10.0.0.5:8786"), check_scheduler("local")
    (None, None)
    >>> check_scheduler("nonsense")
    Traceback (most recent call last):
    ...
    sdmodels.sweep.design.SweepError: --scheduler 'nonsense' is not a scheduler address: give tcp://HOST:PORT (for example tcp://10.0.0.5:8786), or 'local' for a cluster on this machine
    """
    if scheduler is None or scheduler == "local" or _ADDRESS.fullmatch(scheduler):
        return
    raise SweepError(f"--scheduler '{scheduler}' is not a scheduler address: give "
                     "tcp://HOST:PORT (for example tcp://10.0.0.5:8786), or 'local' for a "
                     "cluster on this machine")


def _run_dask(tasks, finish, scheduler: str | None, workers: int | None) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise SweepError("running on Dask needs dask.distributed: pip install 'sdmodels[sweep]' "
                         "(or pip install 'dask[distributed]')") from None
    cluster = None
    if scheduler in (None, "local"):
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, host="127.0.0.1", dashboard_address=None)
        address = cluster.scheduler_address
    else:
        address = scheduler
    try:
        try:
            client = Client(address)
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"cannot reach the Dask scheduler at '{address}' ({exc}); start "
                             "it (dask scheduler), or run with --scheduler local; then run "
                             "the same command again") from None
        with client:
            futures = {client.submit(run_chunk, t, key=f"sdm-{t.fingerprint}-{t.index}",
                                     retries=3, pure=False): t for t in tasks}
            for future in as_completed(list(futures)):
                finish(futures[future], future.result())
                future.release()
    finally:
        if cluster is not None:
            cluster.close()
