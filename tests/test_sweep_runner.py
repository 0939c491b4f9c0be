"""The sweep runner on real processes: local, resumable after a kill, and on a real Dask
LocalCluster on loopback where a worker is killed mid-sweep."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sdmodels.cli import main
from sdmodels.sweep import SweepError, SweepSpec, parse_vary
from sdmodels.sweep.runner import run_sweep

ROOT = Path(__file__).resolve().parent.parent

# One run is ~1e6 Euler steps, so a chunk of 40 runs takes a noticeable fraction of a second:
# long enough to interrupt a sweep between chunks, short enough for a fast test.
SLOW_MODEL = '''
from sdmodels import Model


def build(**overrides):
    m = Model("slow", stop=10000, dt=0.01, saveper=50)
    x = m.stock("X", initial=0)
    k = m.constant("K", 1.0)
    m.flow("Inflow", k - 0.1 * x, into=x)
    return m
'''
SLOW_RUNS, SLOW_CHUNK = 400, 40


@pytest.fixture
def slow_model(tmp_path):
    path = tmp_path / "slow.py"
    path.write_text(SLOW_MODEL)
    return path


def slow_spec(path):
    return SweepSpec(str(path), factors=parse_vary([f"K=1:{SLOW_RUNS}:1"]),
                     chunk_size=SLOW_CHUNK, metrics=("X:final",))


def check_slow_results(directory):
    """Every run present once, with the Euler closed form x_n = 10 K (1 - 0.999^n)."""
    table = pd.read_parquet(Path(directory) / "results.parquet")
    assert table["run"].tolist() == list(range(SLOW_RUNS))
    assert table["K"].tolist() == [float(k) for k in range(1, SLOW_RUNS + 1)]
    expected = 10 * table["K"] * (1 - 0.999 ** 1_000_000)
    np.testing.assert_allclose(table["X.final"], expected, rtol=1e-9)
    assert len(pd.read_csv(Path(directory) / "results.csv")) == SLOW_RUNS
    leftovers = [p.name for p in Path(directory).rglob("*.tmp")]
    assert leftovers == []


def test_teacup_sweep_matches_euler_closed_form(tmp_path):
    spec = SweepSpec("teacup", factors=parse_vary(["Room Temperature=40:80:10",
                                                   "Characteristic Time=5,10,20"]),
                     chunk_size=4, series=("Teacup Temperature",))
    out = run_sweep(spec, tmp_path / "s", progress=False)
    t = out.table
    assert (out.runs, out.chunks, out.chunks_run) == (15, 4, 4)
    # Euler with dt = 0.125 for 240 steps: T = room + (180 - room) (1 - dt / tau)^240
    closed = t["Room Temperature"] + (180 - t["Room Temperature"]) * \
        (1 - 0.125 / t["Characteristic Time"]) ** 240
    np.testing.assert_allclose(t["Teacup Temperature.final"], closed, rtol=1e-12)
    assert set(t["Teacup Temperature.label"]) == {"decline"}
    assert (t["Teacup Temperature.peak"] == 180).all()
    import xarray as xr
    with xr.open_dataset(tmp_path / "s" / "series.nc") as ds:
        assert ds["Teacup Temperature"].shape == (15, 241)
        np.testing.assert_allclose(ds["Teacup Temperature"][:, -1], closed, rtol=1e-12)
    # the same sweep again: every chunk is already there, nothing runs
    again = run_sweep(spec, tmp_path / "s", progress=False)
    assert (again.chunks_run, again.chunks_skipped) == (0, 4)
    # a different sweep into the same directory is refused
    with pytest.raises(SweepError, match=r"already holds a different sweep"):
        run_sweep(SweepSpec("teacup", factors=parse_vary(["Room Temperature=1,2"])),
                  tmp_path / "s", progress=False)


def test_zarr_series_and_replications(tmp_path):
    spec = SweepSpec("teacup", factors=parse_vary(["Room Temperature=60,70"]), replications=2,
                     series=("Teacup Temperature",), series_format="zarr", stop=10)
    out = run_sweep(spec, tmp_path / "z", progress=False)
    import xarray as xr
    with xr.open_zarr(tmp_path / "z" / "series.zarr") as ds:
        assert ds["Teacup Temperature"].shape == (4, 81)
        assert ds["run"].values.tolist() == [0, 1, 2, 3]
    assert out.table["seed"].tolist() == [0, 1, 2, 3]


def test_interrupted_sweep_resumes_without_losing_or_repeating_runs(slow_model, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "cli.py"), "sweep", str(slow_model), "--vary",
               f"K=1:{SLOW_RUNS}:1", "--chunk-size", str(SLOW_CHUNK), "--metric", "X:final",
               "-o", str(out), "--no-progress"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunks = out / "chunks"
    while proc.poll() is None and len(list(chunks.glob("chunk-*.parquet"))) < 2:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = sorted(p.name for p in chunks.glob("chunk-*.parquet"))
    assert 2 <= len(done_before) < SLOW_RUNS // SLOW_CHUNK, "the kill came too late"
    assert not (out / "results.parquet").exists()
    resumed = subprocess.run(command[:2] + ["sweep", "--resume", "-o", str(out),
                                            "--no-progress"],
                             capture_output=True, text=True, check=True)
    skipped = int(resumed.stdout.split(" run now, ")[1].split(" already done")[0])
    assert skipped >= len(done_before)
    check_slow_results(out)


def test_kill_a_dask_worker_mid_sweep(slow_model, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        killed = []

        def kill_one(index, done, total):
            if not killed:
                pids = client.run(os.getpid)
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append((victim, done, total))
        out = run_sweep(slow_spec(slow_model), tmp_path / "d",
                        scheduler=cluster.scheduler_address, progress=False, on_chunk=kill_one)
    victim, done, total = killed[0]
    assert done < total, "the worker was killed after the sweep had finished"
    assert out.chunks_run == total
    check_slow_results(tmp_path / "d")


def test_kill_a_local_worker_process_mid_sweep(slow_model, tmp_path):
    """--workers N: a worker process SIGKILLed mid-sweep breaks the pool; a new pool runs the
    chunks not yet written, and every run is there exactly once."""
    psutil = pytest.importorskip("psutil")
    killed = []

    def kill_one(index, done, total):
        if killed:
            return
        workers = [p for p in psutil.Process().children(recursive=True)
                   if any("spawn_main" in part for part in p.cmdline())]
        if workers:
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append((workers[0].pid, done, total))
    out = run_sweep(slow_spec(slow_model), tmp_path / "w", workers=2, progress=False,
                    on_chunk=kill_one)
    victim, done, total = killed[0]
    assert done < total, "the worker was killed after the sweep had finished"
    assert out.chunks_run == total
    check_slow_results(tmp_path / "w")


def test_local_processes(tmp_path):
    spec = SweepSpec("teacup", factors=parse_vary(["Room Temperature=40:80:10"]), chunk_size=2)
    out = run_sweep(spec, tmp_path / "p", workers=2, progress=False)
    assert out.table["run"].tolist() == list(range(5))
    closed = out.table["Room Temperature"] + (180 - out.table["Room Temperature"]) * \
        (1 - 0.125 / 10) ** 240
    np.testing.assert_allclose(out.table["Teacup Temperature.final"], closed, rtol=1e-12)


def test_cli_sweep_and_report(tmp_path):
    runner = CliRunner()
    sweep_file = tmp_path / "s.toml"
    sweep_file.write_text('''
model = "teacup"
[vary]
"Room Temperature" = "40:80:20"
"Characteristic Time" = [5, 10]
[metrics]
"Teacup Temperature" = ["final", "time_above=100"]
''')
    result = runner.invoke(main, ["sweep", str(sweep_file), "--vary", "Initial Temperature=170,180",
                                  "-o", str(tmp_path / "o"), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "12 runs" in result.output and "decline 12" in result.output
    table = pd.read_csv(tmp_path / "o" / "results.csv")
    assert list(table.columns[:6]) == ["run", "Room Temperature", "Characteristic Time",
                                       "Initial Temperature", "replicate", "seed"]
    # time above 100: T0 -> 100 crossing of room + (T0 - room) exp(-t / tau), to within Euler
    row = table[(table["Room Temperature"] == 40) & (table["Characteristic Time"] == 10)
                & (table["Initial Temperature"] == 180)].iloc[0]
    assert row["Teacup Temperature.time_above=100"] == pytest.approx(10 * np.log(140 / 60),
                                                                      rel=0.01)
    report = runner.invoke(main, ["sweep-report", str(tmp_path / "o")])
    assert report.exit_code == 0, report.output
    md = (tmp_path / "o" / "report.md").read_text()
    assert "decline 12" in md and "![Phase diagram" in md
    for name in ("phase", "heatmap", "fan-teacup-temperature", "line-room-temperature"):
        for suffix in (".png", ".svg"):
            assert (tmp_path / "o" / "report" / f"{name}{suffix}").stat().st_size > 1000
    bad = runner.invoke(main, ["sweep", "teacup", "--vary", "Room Temp=1,2", "-o",
                               str(tmp_path / "bad")])
    assert bad.exit_code == 2
    assert "Did you mean 'Room Temperature'?" in bad.output
    missing = runner.invoke(main, ["sweep", "--resume", "-o", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "no sweep" in missing.output


GROWTH_MODEL = '''
from sdmodels import Model


def build(**overrides):
    m = Model("growth", stop=100, dt=1)
    x = m.stock("X", initial=1)
    r = m.constant("r", 0.1)
    m.flow("Growth", r * x, into=x)
    return m
'''


def test_a_run_that_blows_up_is_marked_and_the_sweep_goes_on(tmp_path):
    """Euler x_n = (1 + r)^n: r = 0.1 ends at 1.1^100. With r = 5000 the flow r x_n passes
    1.8e308 (the largest double) first at n = 83 (log10 5000 + 83 log10 5001 = 310.7 while
    n = 82 gives 307.0), so that run stops there and is marked; the others go on."""
    path = tmp_path / "growth.py"
    path.write_text(GROWTH_MODEL)
    spec = SweepSpec(str(path), factors=parse_vary(["r=0.1,5000,0.2"]),
                     metrics=("X:final",))
    out = run_sweep(spec, tmp_path / "runs")
    table = out.table.set_index("r")
    assert table.loc[0.1, "X.final"] == pytest.approx(1.1 ** 100, rel=1e-12)
    assert table.loc[0.2, "X.final"] == pytest.approx(1.2 ** 100, rel=1e-12)
    assert np.isnan(table.loc[5000.0, "X.final"])
    assert table.loc[5000.0, "X.label"] == "failed" and table.loc[0.1, "X.label"] == "growth"
    assert table.loc[5000.0, "failure"] == "'Growth' became inf at time 83"
    assert table.loc[0.1, "failure"] is None                # null: the run did not fail
    assert out.table["failure"].notna().sum() == 1
    saved = pd.read_parquet(tmp_path / "runs" / "results.parquet")
    assert saved["failure"].isna().tolist() == table["failure"].isna().tolist()
    assert saved["failure"].dropna().tolist() == table["failure"].dropna().tolist()
    from sdmodels.sweep.report import write_report
    write_report(tmp_path / "runs")
    text = (tmp_path / "runs" / "report.md").read_text()
    assert "## Failed runs" in text and "| 1 | 5000 | 'Growth' became inf at time 83 |" in text
