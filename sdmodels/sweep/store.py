"""The on-disk layout of a sweep directory; every file is written atomically.

```
DIR/sweep.json                 the spec, its fingerprint, run and chunk counts
DIR/chunks/chunk-00007.parquet one row per run of chunk 7 (its presence = chunk 7 is done)
DIR/chunks/series-00007.npy    full series of chunk 7 (only when series were asked for)
DIR/chunks/sample-00007.parquet a few runs' series for the fan plot
DIR/results.parquet, .csv      the assembled table (parameters, seed, metrics, labels)
DIR/series.nc | series.zarr    the assembled series (run, time)
DIR/sample_series.parquet      the fan-plot sample
```
A chunk's series and sample are written before its table, so a table on disk means the
whole chunk is there. Temporary files start with '.' and end in '.tmp'; `clean_temporary`
removes any left by a killed process.
"""
from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sdmodels.files import atomic_path, write_csv
from sdmodels.sweep.design import SweepError


def chunk_table(root: Path, index: int) -> Path:
    return root / "chunks" / f"chunk-{index:05d}.parquet"


def chunk_series(root: Path, index: int) -> Path:
    return root / "chunks" / f"series-{index:05d}.npy"


def chunk_sample(root: Path, index: int) -> Path:
    return root / "chunks" / f"sample-{index:05d}.parquet"


def clean_temporary(root: Path) -> int:
    """Delete half-written files left by an interrupted sweep; return how many."""
    count = 0
    for folder in (root, root / "chunks"):
        if folder.is_dir():
            for path in folder.glob(".*.tmp"):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                count += 1
    return count


def read_manifest(root: Path) -> dict | None:
    path = root / "sweep.json"
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SweepError(f"'{path}' is not valid JSON; delete the directory to start over") \
            from None
    lacking = MANIFEST_KEYS - set(manifest) if isinstance(manifest, dict) else MANIFEST_KEYS
    if lacking:
        raise SweepError(f"'{path}' is not the record of a sweep (it lacks "
                         f"{', '.join(sorted(lacking))}); delete the directory to start over")
    return manifest


#: what run_sweep and sweep-report read from sweep.json
MANIFEST_KEYS = {"fingerprint", "spec", "model", "runs", "chunks", "metrics"}


def write_manifest(root: Path, manifest: dict) -> None:
    with atomic_path(root / "sweep.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))


def finished_chunks(root: Path, n_chunks: int, with_series: bool) -> set[int]:
    """Chunks whose files are all on disk."""
    done = set()
    for i in range(n_chunks):
        if _readable(chunk_table(root, i)) and (not with_series or
                                                chunk_series(root, i).exists()):
            done.add(i)
    return done


def _readable(table: Path) -> bool:
    """Whether a chunk's table is a Parquet file (its footer reads): one damaged on disk is
    run again, not read back into a traceback when the results are assembled."""
    if not table.exists():
        return False
    import pyarrow.parquet as pq
    try:
        pq.read_metadata(table)
    except Exception:           # pyarrow's ArrowInvalid, OSError: not a finished chunk
        return False
    return True


def write_chunk(root: Path, index: int, table: pd.DataFrame, series: np.ndarray | None,
                sample: pd.DataFrame | None) -> None:
    """Write one finished chunk; its table goes last and marks the chunk done."""
    (root / "chunks").mkdir(parents=True, exist_ok=True)
    if series is not None:
        with atomic_path(chunk_series(root, index)) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, series)
    if sample is not None and len(sample):
        with atomic_path(chunk_sample(root, index)) as tmp:
            sample.to_parquet(tmp, index=False)
    with atomic_path(chunk_table(root, index)) as tmp:
        table.to_parquet(tmp, index=False)


def assemble_table(root: Path, n_chunks: int, design: pd.DataFrame) -> pd.DataFrame:
    """All chunk tables joined to the design; checks each run is there exactly once."""
    parts = [pd.read_parquet(chunk_table(root, i)) for i in range(n_chunks)]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"run": []})
    runs = table["run"].to_numpy()
    if runs.size != len(design) or not np.array_equal(np.sort(runs), design["run"].to_numpy()):
        dupes = int(runs.size - np.unique(runs).size)
        raise SweepError(f"sweep in '{root}' has {runs.size} result rows for {len(design)} runs "
                         f"({dupes} duplicated); delete '{root / 'chunks'}' and run it again")
    table = design.merge(table, on="run", how="left", validate="one_to_one")
    if "failure" in table:      # null when a run did not fail ("" in chunks of older versions)
        table["failure"] = table["failure"].astype(object).where(
            table["failure"].notna() & (table["failure"] != ""), None)
    with atomic_path(root / "results.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    write_csv(table, root / "results.csv", index=False)
    samples = [pd.read_parquet(p) for i in range(n_chunks)
               if (p := chunk_sample(root, i)).exists()]
    if samples:
        with atomic_path(root / "sample_series.parquet") as tmp:
            pd.concat(samples, ignore_index=True).to_parquet(tmp, index=False)
    return table


def _safe(name: str) -> str:
    return name.replace("/", "_")


def assemble_series(root: Path, manifest: dict, design: pd.DataFrame, fmt: str) -> Path:
    """Stream the chunks' series into one NetCDF (h5netcdf) or Zarr store, a chunk at a time."""
    names = manifest["series_columns"]
    times = np.asarray(manifest["times"], dtype=float)
    bounds = manifest["chunks"]
    params = [c for c in design.columns if c != "run"]
    if fmt == "zarr":
        return _assemble_zarr(root, names, times, bounds, design, params)
    try:
        import h5netcdf
    except ImportError:
        raise SweepError("writing series to NetCDF needs h5netcdf: pip install 'sdmodels[sweep]'"
                         " (or pip install h5netcdf)") from None
    target = root / "series.nc"
    with atomic_path(target) as tmp:
        with h5netcdf.File(tmp, "w") as f:
            f.dimensions = {"run": len(design), "time": times.size}
            f.create_variable("run", ("run",), "i8")[:] = design["run"].to_numpy()
            f.create_variable("time", ("time",), "f8")[:] = times
            for p in params:
                values = design[p].to_numpy()
                f.create_variable(_safe(p), ("run",), values.dtype)[:] = values
            rows = max(1, min(len(design), bounds[0][1] - bounds[0][0]))
            variables = [f.create_variable(_safe(n), ("run", "time"), "f8",
                                           chunks=(rows, times.size)) for n in names]
            for i, (a, b) in enumerate(bounds):
                block = np.load(chunk_series(root, i))
                for j, var in enumerate(variables):
                    var[a:b, :] = block[:, :, j]
            f.attrs["model"] = str(manifest.get("model", ""))
    return target


def _assemble_zarr(root, names, times, bounds, design, params) -> Path:
    import xarray as xr
    try:
        import zarr  # noqa: F401
    except ImportError:
        raise SweepError("writing series to Zarr needs zarr: pip install 'sdmodels[sweep]' "
                         "(or pip install zarr)") from None
    target = root / "series.zarr"
    tmp = root / ".series.zarr.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for i, (a, b) in enumerate(bounds):
        block = np.load(chunk_series(root, i))
        part = design.iloc[a:b]
        data = {_safe(n): (("run", "time"), block[:, :, j]) for j, n in enumerate(names)}
        data.update({_safe(p): ("run", part[p].to_numpy()) for p in params})
        ds = xr.Dataset(data, coords={"run": part["run"].to_numpy(), "time": times})
        with warnings.catch_warnings():   # zarr 3 notes consolidated metadata is an extension
            warnings.simplefilter("ignore")
            if i == 0:
                ds.to_zarr(tmp, mode="w")
            else:
                ds.to_zarr(tmp, append_dim="run")
    old = root / ".series.zarr.old.tmp"
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
    return target
