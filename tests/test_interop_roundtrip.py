"""Round trip: every library model (and teacup) exported to XMILE and read back by sdmodels,
pysd (pysd.read_xmile) and pysimlin, compared with our own run of the original model under
the suite's rule |a - b| <= 1e-5 + 1e-5*|b|. Constructs an engine cannot read are listed in
CANNOT_READ with the reason, and the test checks that they still cannot (so a fix shows up).
"""
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from sdmodels import Model, ModelError, build, run


# pysd steps in Python, through xarray for arrays (connection_pool: tens of ms a step). Where
# a model's run would take it minutes, it reads the same export over a shorter span:
# eviction_cascade (10 pods, 1,508 columns) its first 150 s; connection_pool's baseline is
# constant after 30 s (every column), so its first 40 s say all that its 100 s did
PYSD_STOP = {"eviction_cascade": 150.0, "connection_pool": 40.0}
# thundering_herd changes over all its 5,400 s (the 1 h TTL replays the fill history): pysd
# and pysimlin read, and we run, its export at a 2.5x coarser step instead (108,000 steps, not
# 270,000): the same equations over the same span (pysimlin's pipeline still differs there)
EXTERNAL_DT = {"thundering_herd": 0.05}


def _pysd_horizon(ir) -> float:
    """The stop time for pysd: the trigger and 20 time units of its aftermath, or the end."""
    value = {v.id: v.values[0] for v in ir.variables.values() if getattr(v, "values", None)}
    if ir.name in PYSD_STOP:
        return min(ir.stop, PYSD_STOP[ir.name])
    if "trigger_start" not in value:
        return ir.stop
    return min(ir.stop, value["trigger_start"] + value.get("trigger_duration", 0.0) + 20.0)
from sdmodels.interop import import_model, to_xmile
from sdmodels.sources import library_models, load_model

MODELS = sorted(library_models())
RTOL = 1e-5
ENGINE = "interpreter"   # our runs: no numba compile of a big model's kernel (same numbers,
                         # tests/test_engine_interpreter.py); the suite's time goes to checks
# (engine, model) -> why that engine cannot read / reproduce our export (strict xfail)
_VENDOR = ("rolling windows are written as our vendor functions sdmodels.ROLLING_MAX/MIN "
           "(XMILE has no built-in for them); this engine does not know that namespace")
CANNOT_READ = {
    ("pysimlin", "thundering_herd"): "pysimlin's DELAY (pipeline) is not Stella's: it fails the "
                                     "suite's own tests/delay_xmile file ('Delay Flow 2' at t=3: "
                                     "Stella 2, pysimlin 2.008), which sdmodels passes",
    **{(engine, name): _VENDOR for engine in ("pysd", "pysimlin") for name in (
        "api_service", "black_friday", "capacity_spiral", "hpa_autoscaler", "retry_storm")},
    # eviction_cascade builds no deletion ranking (rolling_min) since its one-pod deployments
    # delete nothing (pod_lifecycle(deletions=False)), so pysimlin reads it
    ("pysd", "eviction_cascade"): "pysd's translation fails (KeyError 'crash count1'): it reads a "
    "subscript in an equation with '_' as ' ' (x[crash_count1] -> 'crash count1') but not the "
    "declared element <elem name=\"crash_count1\"/>, though XMILE names equate the two. With the "
    "elements renamed without '_' (tried by hand) pysd reproduces our run in all 1,508 columns "
    "over 150 s",
}


def _known(engine, name):
    reason = CANNOT_READ.get((engine, name))
    return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=reason)) \
        if reason else name


def _exported(name, tmp_path, **time):
    model = load_model(name).with_time(**time)
    try:
        text = to_xmile(model)
    except ModelError as exc:   # every library model must be expressible
        pytest.fail(f"{name}: not expressible in XMILE: {exc}")
    path = tmp_path / f"{name}.xmile"
    path.write_text(text)
    return model, path


def _agree(reference, other, columns):
    """Max violation of the suite's rule over the shared columns and times (<= 1 passes)."""
    times = np.intersect1d(np.round(reference.index.to_numpy(float), 9),
                           np.round(other.index.to_numpy(float), 9))
    assert times.size > 1
    worst = 0.0
    ref = reference.set_index(np.round(reference.index.to_numpy(float), 9)).loc[times]
    oth = other.set_index(np.round(other.index.to_numpy(float), 9)).loc[times]
    for ours, theirs in columns:
        a, b = ref[ours].to_numpy(float), oth[theirs].to_numpy(float)
        worst = max(worst, float(np.max(np.abs(a - b) / (RTOL + RTOL * np.abs(b)))))
    return worst


def _column_map(model, reference, other):
    """(our column, their column) pairs, through the names the export wrote."""
    from sdmodels.interop.conformance import column_key
    from sdmodels.interop.export import xmile_names
    names = xmile_names(model)
    keys = {column_key(c): c for c in other.columns}
    pairs = []
    for col in reference.columns:
        base, bracket, rest = col.partition("[")
        key = column_key(names.get(base, base) + bracket + rest)
        if key in keys:
            pairs.append((col, keys[key]))
    return pairs


def test_export_forms_every_engine_reads():
    """Rolling windows as our vendor function; no [*] reductions and no DT built-in."""
    from sdmodels import Model, rolling_max, sum_over
    m = Model("forms", stop=4, dt=0.25)
    m.dim("pod", ["a", "b", "c"])
    load = m.aux("Load", m.time, dims=("pod",))
    total = m.aux("Total", sum_over(load, "pod"))
    m.aux("Peak", rolling_max(total, 2))
    m.aux("Per step", total * m.dt_expr)
    text = to_xmile(m)
    assert "sdmodels.ROLLING_MAX(Total, 2.0)" in text
    assert "Load[a] + Load[b] + Load[c]" in text
    assert "Total * 0.25" in text and "[*]" not in text and "DT" not in text
    path = Path(tempfile.mkdtemp()) / "forms.xmile"
    path.write_text(text)
    back = run(import_model(path), engine=ENGINE)
    ours = run(m, engine=ENGINE)
    # Peak at t = 4: the largest Total over the last 2 time units is Total(4) = 3 * 4
    assert back["Peak"].iloc[-1] == pytest.approx(12.0)
    assert np.allclose(back["Peak"].to_numpy(), ours["Peak"].to_numpy())


def test_a_sampled_input_holding_a_delay_gets_its_own_aux(tmp_path):
    """A held stock starts at its input, and a stock's initial value may not hold a delay:
    the export writes such an input as an aux, and the file reads back to the closed form.
    (pysimlin reads it too, but its DELAY is not a pipeline: see CANNOT_READ.)"""
    from sdmodels import delay_fixed, maximum, sample_hold
    m = Model("held_delay", stop=10, dt=0.5)
    s = m.stock("S", initial=1.0)
    m.flow("In", 1.0, into=s)
    m.aux("Y", sample_hold(maximum(0, s - delay_fixed(s, 2.0, 0.0)), 1.0))
    path = tmp_path / "held_delay.xmile"
    path.write_text(to_xmile(m))
    back = run(import_model(path), engine=ENGINE)
    # S = 1 + t; S - S(t - 2) = 2 from t = 2 on (1 + t before: the delay starts at 0), held
    # over each whole second: Y = 1 until t = 1, then 2
    t = back.index.to_numpy()
    want = np.minimum(2.0, 1 + np.floor(t))
    assert np.allclose(back["Y"].to_numpy(), want)
    assert np.allclose(run(m, engine=ENGINE)["Y"].to_numpy(), want)


@pytest.mark.parametrize("name", [_known("sdmodels", m) for m in MODELS])
def test_sdmodels_reads_its_export(name, tmp_path):
    model, path = _exported(name, tmp_path)
    reference = run(model, engine=ENGINE)
    back = run(import_model(path), engine=ENGINE)
    pairs = _column_map(model, reference, back)
    assert len(pairs) == len(reference.columns)
    assert _agree(reference, back, pairs) <= 1.0


@pytest.mark.parametrize("name", [_known("pysimlin", m) for m in MODELS])
def test_pysimlin_reads_our_export(name, tmp_path):
    simlin = pytest.importorskip("simlin")
    model, path = _exported(name, tmp_path, dt=EXTERNAL_DT.get(name))
    reference = run(model, engine=ENGINE)
    other = simlin.load(str(path)).run().results
    pairs = _column_map(model, reference, other)
    assert pairs, "pysimlin returned none of our columns"
    assert _agree(reference, other, pairs) <= 1.0


@pytest.mark.parametrize("name", [_known("pysd", m) for m in MODELS])
def test_pysd_reads_our_export(name, tmp_path):
    import pysd
    model, path = _exported(name, tmp_path, dt=EXTERNAL_DT.get(name))
    reference = run(model, engine=ENGINE)
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    shutil.copy(path, work / path.name)
    # pysd steps in Python (connection_pool's 30,000 steps take it over 3 minutes): where a
    # model has a timed trigger, compare up to 20 time units after it ends, else everything
    ir = build(model)
    final = _pysd_horizon(ir)
    times = reference.index.to_numpy(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = pysd.read_xmile(str(work / path.name)).run(
            final_time=final, return_timestamps=times[times <= final + 1e-9])
    pairs = _column_map(model, reference, other)
    assert pairs
    assert _agree(reference, other, pairs) <= 1.0


def test_per_element_stock_start_and_zero_delay_read_by_pysd_and_pysimlin(tmp_path):
    """A stock whose start differs by element (pysd reads a stock's start only from one
    <eqn>) and a pipeline of delay 0 (ours holds one step; pysimlin's DELAY gave NaN)."""
    import pysd
    from sdmodels import delay_fixed
    m = Model("forms2", stop=3, dt=0.5)
    m.dim("stage", ["s1", "s2"])
    level = m.stock("Level", {"s1": 4.0, "s2": 9.0}, dims=("stage",))
    m.flow("Drain", level * 0.25, out_of=level, dims=("stage",))
    m.aux("Echo", delay_fixed(m.time + 1, m.constant("Lag", 0.0), 0.0))
    path = tmp_path / "forms2.xmile"
    path.write_text(to_xmile(m))
    ours = run(m, engine=ENGINE)
    # closed forms: Level(t) = L0 (1 - 0.25 dt)^(t / dt); Echo = input one step back, 0 first
    assert ours["Level[s2]"].iloc[-1] == pytest.approx(9.0 * 0.875 ** 6)
    assert ours["Echo"].to_numpy() == pytest.approx([0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = pysd.read_xmile(str(path)).run(return_timestamps=ours.index.to_numpy(float))
    pairs = _column_map(m, ours, other)
    assert {"Level[s1]", "Level[s2]", "Echo"} <= {a for a, _ in pairs}
    assert _agree(ours, other, pairs) <= 1.0
    simlin = pytest.importorskip("simlin")
    other = simlin.load(str(path)).run().results
    pairs = _column_map(m, ours, other)
    assert {"Level[s1]", "Level[s2]", "Echo"} <= {a for a, _ in pairs}
    assert _agree(ours, other, pairs) <= 1.0
