"""Defects found walking the paths a new user walks (README, every `sdm` subcommand, the
first Python calls of a notebook): each bad input gets one clear line, exit code 2 at the
command line, and leaves no file behind."""
from types import SimpleNamespace

import pytest
from test_hardening_cli import invoke, one_line_error

from sdmodels import Model, ModelError, UnknownNameError, find_loops, simulate


def teacup() -> Model:
    m = Model("teacup", start=0, stop=4, dt=0.5, time_units="minute")
    temp = m.stock("Teacup Temperature", initial=180, units="degF")
    room = m.constant("Room Temperature", 70)
    tau = m.constant("Characteristic Time", 10)
    m.flow("Heat Loss", (temp - room) / tau, out_of=temp)
    m.name_loop("Cooling", ["Teacup Temperature", "Heat Loss"])
    return m


# --- the Python API: wrong types and names say so, not a TypeError deep inside --------------

@pytest.mark.parametrize("options, error, needles", [
    ({"params": [5, 10]}, ModelError, ["params must be a dict", "not list"]),
    ({"seed": "x"}, ModelError, ["seed must be a whole number", "'x'"]),
    ({"saveper": 0}, ModelError, ["saveper must be a positive number"]),
    ({"saveper": -1}, ModelError, ["saveper must be a positive number"]),
    ({"stop": "later"}, ModelError, ["stop must be a number", "'later'"]),
    ({"dt": None, "start": [0]}, ModelError, ["start must be a number"]),
])
def test_simulate_names_the_bad_option(options, error, needles):
    with pytest.raises(error) as info:
        simulate(teacup(), engine="interpreter", **options)
    for needle in needles:
        assert needle in str(info.value), str(info.value)


def test_one_output_name_is_one_output_not_its_letters():
    results = simulate(teacup(), outputs="Heat Loss", engine="interpreter")
    assert list(results.columns) == ["Heat Loss"]
    # Heat Loss at t = 0 is (180 - 70) / 10
    assert results.to_pandas()["Heat Loss"].iloc[0] == pytest.approx(11.0)


def test_a_whole_float_seed_is_accepted():
    assert simulate(teacup(), seed=3.0, engine="interpreter").seeds.tolist() == [3]


def test_model_time_settings_must_be_numbers():
    with pytest.raises(ModelError, match="model 'x': dt must be a number, not 'fast'"):
        Model("x", dt="fast")


def test_an_unknown_loop_suggests_the_close_name():
    loops = find_loops(teacup(), behaviour=False)
    with pytest.raises(UnknownNameError, match="has no loop 'Coolng'.*Did you mean 'Cooling'"):
        loops["Coolng"]


# --- scenario and --set names reach every command that runs the model ----------------------

def test_loops_refuses_an_unknown_set_name_instead_of_ignoring_it():
    one_line_error(invoke("loops", "teacup", "--set", "Room Temp=3"),
                   "parameter 'Room Temp' is not a constant", "Did you mean 'Room Temperature'")
    with pytest.raises(UnknownNameError, match="Did you mean 'Room Temperature'"):
        find_loops(teacup(), params={"Room Temp": 3})


def test_loops_checks_the_scenario_without_a_run_too():
    one_line_error(invoke("loops", "teacup", "--no-behaviour", "--scenario", "cold rooom"),
                   "no scenario 'cold rooom'", "Did you mean 'cold room'")


def test_diagram_dominant_with_an_unknown_scenario_is_one_line(tmp_path):
    one_line_error(invoke("diagram", "teacup", "--dominant", "2", "--scenario", "nope",
                          "-o", tmp_path / "d.svg"), "model 'teacup' has no scenario 'nope'")
    assert not list(tmp_path.iterdir())


# --- output files: the umask's mode, and a plain reason when a folder is a file ------------

def test_a_diagram_saved_from_python_gets_the_umasks_mode(tmp_path):
    """Diagram.save wrote 0600 files (mkstemp's mode): the postmortem's loop pictures too."""
    import os
    import stat

    from sdmodels import to_graphviz
    old = os.umask(0o022)
    try:
        to_graphviz(teacup(), behaviour=False).save(tmp_path / "d.dot")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d.dot").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["d.dot"]


@pytest.mark.parametrize("command", [["run", "teacup"], ["loops", "teacup", "--no-behaviour"],
                                     ["export", "teacup"]])
def test_an_output_under_a_file_says_the_file_is_not_a_folder(tmp_path, command):
    (tmp_path / "notes.txt").write_text("mine")
    suffix = {"run": "csv", "loops": "txt", "export": "xmile"}[command[0]]
    one_line_error(invoke(*command, "-o", tmp_path / "notes.txt" / f"x.{suffix}"),
                   "notes.txt': it is a file, not a folder")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


# --- a folder where a model file is expected, a file that is no model -----------------------

@pytest.mark.parametrize("command, name, needles", [
    ("run", "m.mdl", ["model file", "m.mdl' is a folder, not a file"]),
    ("loops", "m.xmile", ["model file", "m.xmile' is a folder, not a file"]),
    ("check", "s.yaml", ["system description", "s.yaml' is a folder, not a file"]),
    ("run", "models", ["models' is a folder, not a model", "sdm list"]),
    ("run", "notes.txt", ["notes.txt' is a '.txt' file, not a model", ".mdl"]),
    ("analyze", "gone.yaml", ["system description", "gone.yaml' does not exist"]),
    ("workbench", "s.yaml", ["system description", "s.yaml' is a folder, not a file"]),
])
def test_a_folder_or_a_stray_file_as_model_is_named_plainly(tmp_path, monkeypatch, command,
                                                            name, needles):
    monkeypatch.chdir(tmp_path)
    for folder in ("m.mdl", "m.xmile", "s.yaml", "models"):
        (tmp_path / folder).mkdir()
    (tmp_path / "notes.txt").write_text("x")
    extra = ["-o", "out"] if command == "analyze" else []
    result = invoke(command, name, *extra)
    if command == "workbench":      # it says what it opens first, on stderr
        result = SimpleNamespace(exit_code=result.exit_code, output=result.output.replace(
            f"opening {name}...\n", ""))
    line = one_line_error(result, *needles)
    assert "Errno" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mdl", "m.xmile", "models",
                                                          "notes.txt", "s.yaml"]


# --- click's usage errors are one line too ---------------------------------------------------

@pytest.mark.parametrize("args, needles", [
    (["run"], ["Missing argument 'MODEL'", "run --help"]),
    (["run", "teacup", "--stpo", "3"], ["No such option '--stpo'", "--stop", "run --help"]),
    (["run", "teacup", "--method", "rk5"], ["'rk5' is not one of 'euler', 'rk4'"]),
    (["run", "teacup", "-o", "series.txt"], ["output must end in .csv or .parquet"]),
    (["export", "teacup", "-o", "m.txt"], ["give a .xmile (or .xml/.stmx) file name"]),
    (["loops", "teacup", "--max-loops", "0"], ["0 is not in the range x>=1", "loops --help"]),
    (["runn", "teacup"], ["No such command 'runn'", "Did you mean 'run'"]),
    (["--bogus"], ["No such option '--bogus'"]),
])
def test_usage_errors_are_one_line_with_where_to_look(tmp_path, monkeypatch, args, needles):
    monkeypatch.chdir(tmp_path)
    one_line_error(invoke(*args), *needles)
    assert not list(tmp_path.iterdir())


def test_sdm_alone_still_shows_the_help():
    result = invoke()
    assert "Commands:" in result.output and "run" in result.output


# --- sweep: a malformed YAML file, a scheduler that is no address ----------------------------

def test_a_malformed_yaml_sweep_file_is_one_line_with_line_and_column(tmp_path):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text('model: teacup\nvary: {"Room Temperature": [1, 2]\n')
    one_line_error(invoke("sweep", sweep, "-o", tmp_path / "out"),
                   "sweep file", "line 3, column 1: expected ',' or '}'",
                   "while parsing a flow mapping at line 2, column 7")
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.yaml"]


def test_a_scheduler_that_is_no_address_is_refused_before_anything_is_written(tmp_path):
    """It was a 60-line traceback from dask (exit 1), with the sweep's sweep.json left."""
    one_line_error(invoke("sweep", "teacup", "--vary", "Room Temperature=60,70",
                          "--scheduler", "nonsense", "-o", tmp_path / "out"),
                   "--scheduler 'nonsense' is not a scheduler address", "tcp://HOST:PORT")
    assert not list(tmp_path.iterdir())


# --- demo: nothing written unless every scenario ran ------------------------------------------

BOOM = '''
from sdmodels import Model

def build():
    m = Model("boom", stop=2, dt=1)
    d = m.constant("Divisor", 1)
    s = m.stock("Level", initial=1)
    m.flow("Inflow", 1 / d, into=s)
    m.add_scenario("fine", {"Divisor": 2})
    m.add_scenario("broken", {"Divisor": 0})
    return m
'''


@pytest.mark.parametrize("extra, code, needles", [
    (["--scenario", "baseline", "--scenario", "nope"], 2, ["has no scenario 'nope'"]),
    ([], 1, ["'Inflow' became inf", "Divisor=0"]),
])
def test_demo_that_fails_leaves_no_folder(tmp_path, extra, code, needles):
    model = tmp_path / "boom.py"
    model.write_text(BOOM)
    name = "teacup" if extra else model
    result = invoke("demo", name, *extra, "-o", tmp_path / "report")
    assert result.exit_code == code, result.output
    assert all(n in result.output for n in needles), result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boom.py"]


# --- postmortem --observed: what the page would silently drop is an error ---------------------

@pytest.mark.parametrize("csv, needles", [
    ("time,Teacup Temperature\n0,180\n1,hot\n",
     ["column 'Teacup Temperature', data row 2: 'hot' is not a number"]),
    ("time,Teacup Temperature,Teacup Temp\n0,180,180\n",
     ["column 'Teacup Temp' names no variable", "Did you mean 'Teacup Temperature'"]),
    ("time,Teacup Temperature\n100,180\n200,170\n",
     ["every observed time (100 to 200) lies outside the run", "(0 to 30 minute)"]),
])
def test_observed_metrics_that_cannot_be_drawn_are_refused(tmp_path, csv, needles):
    (tmp_path / "m.csv").write_text(csv)
    one_line_error(invoke("postmortem", "teacup", "--observed", tmp_path / "m.csv",
                          "-o", tmp_path / "pm"), *needles)
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]


def test_fit_with_no_name_is_refused(tmp_path):
    (tmp_path / "m.csv").write_text("time,Teacup Temperature\n0,180\n")
    one_line_error(invoke("postmortem", "teacup", "--observed", tmp_path / "m.csv", "--fit", ",",
                          "-o", tmp_path / "pm"), "--fit", "names no constant")
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]


def test_an_xmile_file_without_a_model_is_not_handed_to_pysd(tmp_path):
    """It said '... (and pysd's XMILE translator: could not parse (KeyError: None))'."""
    (tmp_path / "m.xmile").write_text("<xmile><header/></xmile>")
    line = one_line_error(invoke("run", tmp_path / "m.xmile"), "m.xmile: the file has no <model>")
    assert "pysd" not in line and "KeyError" not in line


@pytest.mark.parametrize("call", [simulate, find_loops])
def test_a_model_name_where_a_model_belongs_says_how_to_load_it(call):
    with pytest.raises(TypeError, match=r"got str 'retry_storm': load it first, "
                                        r"library\.retry_storm\.build\(\)"):
        call("retry_storm")


# --- DSL and helpers: a wrong shape is named, not a TypeError/AttributeError from inside ----

def test_dsl_shapes_that_are_wrong_are_named():
    from sdmodels import Dim, LimitError, fit, use_limits
    m = Model("x", stop=2, dt=1)
    with pytest.raises(ModelError, match=r"lookup 'L' in model 'x': give \(x, y\) points"):
        m.lookup("L", [1, 2, 3])
    with pytest.raises(ModelError, match="scenario 's' of model 'x': give its parameters as a "
                                         "dict"):
        m.add_scenario("s", [1, 2])
    with pytest.raises(ValueError, match="not the string 'abc'"):
        Dim("pod", "abc")                   # was three elements a, b, c
    with pytest.raises(ModelError, match="times must be numbers"):
        simulate(teacup(), times="abc", engine="interpreter")
    with pytest.raises(ModelError, match="observed metrics must be a pandas DataFrame"):
        fit(teacup(), {"Teacup Temperature": [180]}, ["Room Temperature"])
    with pytest.raises(LimitError, match="no limit 'max_arrays'. Did you mean "
                                         "'max_array_elements'"):
        with use_limits(max_arrays=3):
            pass
    with pytest.raises(LimitError, match="max_nesting='deep' is not a whole number"):
        with use_limits(max_nesting="deep"):     # was taken, then failed at the first compare
            pass


# --- -o into a FIFO, our own stdout or a device: written into or refused, never replaced -----

def test_output_into_a_fifo_is_written_into_not_replaced(tmp_path):
    """atomic_path renamed a regular file over the FIFO (as root, over /dev/full too)."""
    import os
    import stat
    import threading
    fifo = tmp_path / "loops.txt"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    result = invoke("loops", "teacup", "--no-behaviour", "--format", "csv", "-o", fifo)
    reader.join(timeout=20)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert got and got[0].startswith("id,name,polarity") and "B1,Cooling,B,2" in got[0]


def test_output_to_our_own_stdout_keeps_the_data_clean():
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(root / "cli.py"), "loops", "teacup",
                           "--no-behaviour", "--format", "csv", "-o", "/proc/self/fd/1"],
                          capture_output=True, text=True, cwd=root, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("id,name,polarity")
    assert "wrote" not in done.stdout and "wrote /proc/self/fd/1" in done.stderr


def test_a_device_is_refused_before_anything_is_written():
    from sdmodels import OutputError
    from sdmodels.files import atomic_path
    with pytest.raises(OutputError, match="'/dev/zero': it is a device, not a file"):
        with atomic_path("/dev/zero"):
            raise RuntimeError("atomic_path must refuse a device before the body runs")


def test_dominance_of_a_constant_is_refused_like_postmortem_does():
    """It printed 'no loop active' and exit 0; the variable is now checked before the run."""
    one_line_error(invoke("dominance", "teacup", "--variable", "Room Temperature"),
                   "'Room Temperature' is a constant of model 'teacup'",
                   "give a stock, flow or auxiliary")
    one_line_error(invoke("dominance", "teacup", "--variable", "Teacup Temp"),
                   "Did you mean 'Teacup Temperature'")


@pytest.mark.parametrize("broken, needles", [
    ("results.parquet", ["results.parquet' cannot be read", "run the same sdm sweep command"]),
    ("sweep.json", ["sweep.json' is not valid JSON"]),
])
def test_sweep_report_on_a_damaged_sweep_is_one_line(tmp_path, broken, needles):
    """Both were tracebacks (pyarrow's ArrowInvalid, json's JSONDecodeError), exit 1."""
    out = tmp_path / "s"
    assert invoke("sweep", "teacup", "--vary", "Room Temperature=60,70", "--no-progress",
                  "--stop", "2", "-o", out).exit_code == 0
    (out / broken).write_text("{junk")
    one_line_error(invoke("sweep-report", out), *needles)
    assert not (out / "report").exists() and not (out / "report.md").exists()


def test_a_damaged_chunk_is_run_again_and_a_foreign_record_refused(tmp_path):
    out = tmp_path / "s"
    args = ["sweep", "teacup", "--vary", "Room Temperature=60,70", "--no-progress", "--stop", "2",
            "-o", out]
    assert invoke(*args).exit_code == 0
    chunk = out / "chunks" / "chunk-00000.parquet"
    chunk.write_text("junk")                 # was pyarrow's traceback when assembling
    again = invoke(*args)
    assert again.exit_code == 0 and "(1 run now, 0 already done)" in again.output, again.output
    import pandas as pd
    assert sorted(pd.read_parquet(out / "results.parquet")["Room Temperature"]) == [60, 70]
    (out / "sweep.json").write_text("{}")    # was KeyError: 'fingerprint'
    one_line_error(invoke(*args), "sweep.json' is not the record of a sweep", "fingerprint")


# --- the workbench's API -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    """The workbench's API on teacup, in process; a server error is a 500, not raised."""
    from starlette.testclient import TestClient

    from sdmodels.workbench.server import Catalog, create_app
    return TestClient(create_app(Catalog("teacup")), raise_server_exceptions=False)


def test_workbench_run_with_outputs_that_are_not_names_is_a_422_not_a_crash(client):
    """outputs [1, null] reached canonical() and ended in a TypeError (a 500)."""
    answer = client.post("/api/model/teacup/run", json={"values": {}, "outputs": [1, None]})
    assert answer.status_code == 422
    assert answer.json() == {"error": "outputs are variable names, not 1"}


def test_workbench_expression_typo_suggests_the_display_name(client):
    """A field's '2 * Room Temp' suggested the id 'room_temperature', a name the page
    shows nowhere."""
    answer = client.post("/api/model/teacup/run",
                         json={"values": {"Characteristic Time": "Room Temp / 7"}})
    assert answer.status_code == 422
    assert answer.json()["error"].endswith("Did you mean 'Room Temperature'?")


def test_allow_data_dir_that_is_no_folder_is_refused(tmp_path):
    """A mistyped --allow-data-dir allowed nothing, silently."""
    one_line_error(invoke("run", "teacup", "--allow-data-dir", tmp_path / "dat",
                          "-o", tmp_path / "t.csv"), "dat' is not a folder")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("extra, needles", [
    (["--set", "room temperature=3"], ["Room Temperature are both varied and set"]),
    (["--samples", "5"], ["samples = 5 draws nothing", "uniform(0, 1)"]),
])
def test_sweep_options_that_would_be_ignored_are_refused(tmp_path, extra, needles):
    """Both ran: the varied values won over --set, and --samples without a distribution
    changed nothing."""
    one_line_error(invoke("sweep", "teacup", "--vary", "Room Temperature=60,70", *extra,
                          "-o", tmp_path / "s"), *needles)
    assert not list(tmp_path.iterdir())


def test_an_unknown_element_of_an_arrayed_constant_lists_the_elements():
    """It said the parameter was not a constant and suggested the name it had right."""
    from sdmodels import Dim
    m = Model("pods", stop=2, dt=1)
    pods = Dim("pod", 3)
    m.constant("Memory factor", 1.0, dims=[pods])
    m.stock("Memory", initial=m.constant("Start", 1.0), dims=[pods])
    assert simulate(m, params={"Memory factor[pod2]": 2.0}, engine="interpreter").runs == 1
    with pytest.raises(UnknownNameError, match=r"'Memory factor' has no such element in model "
                                               r"'pods'.*\[pod1, pod2, pod3\]"):
        simulate(m, params={"Memory factor[pod9]": 2.0}, engine="interpreter")


def test_a_dt_override_that_does_not_divide_the_run_warns_as_the_models_own_does():
    """`sdm run teacup --dt 0.7` ran to 30.1 without a word (build warns for a model's dt)."""
    import warnings

    from sdmodels import ModelWarning
    with pytest.warns(ModelWarning, match=r"dt=0\.7 does not divide the horizon 0\.0\.\.4\.0"):
        results = simulate(teacup(), dt=0.7, engine="interpreter")
    assert results.times[-1] == pytest.approx(4.2)         # 6 steps of 0.7: past stop
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        simulate(teacup(), dt=0.25, engine="interpreter")  # divides: no warning
    result = invoke("run", "teacup", "--dt", "0.7")
    assert result.exit_code == 0
    assert "Warning: model 'teacup': dt=0.7 does not divide the horizon" in result.output


def test_demo_script_reads_model_and_folder_from_where_it_is_called(tmp_path):
    """scripts/demo.sh cd'ed to the repository first, so 'demo.sh teacup -o mine' wrote into
    the repository's mine/, and a relative model path was looked up there. The script runs
    as it is, in a copy whose set-up is done (setup.sh: nothing to do) and whose .venv/bin/sdm
    is this checkout's cli.py under this Python."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    (copy / ".venv" / "bin").mkdir(parents=True)
    (copy / "scripts" / "demo.sh").write_text((root / "scripts" / "demo.sh").read_text())
    (copy / "scripts" / "setup.sh").write_text("exit 0\n")
    sdm = copy / ".venv" / "bin" / "sdm"
    sdm.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{root / "cli.py"}" "$@"\n')
    sdm.chmod(0o755)
    caller = tmp_path / "caller"
    caller.mkdir()
    done = subprocess.run(["bash", str(copy / "scripts" / "demo.sh"), "teacup", "-o", "mine"],
                          cwd=caller, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (caller / "mine" / "report.html").is_file()
    assert not (copy / "mine").exists() and not (copy / "out").exists()


def test_workbench_on_a_port_in_use_is_exit_2_with_what_to_change():
    """It was exit 1, without a word on what to do."""
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("workbench", "teacup", "--port", port)
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "choose another --port, or leave --port out for a free one" in result.output


@pytest.mark.parametrize("name, needles", [
    ("gone.mdl", ["model file", "gone.mdl' does not exist"]),
    ("folder.mdl", ["folder.mdl' is a folder, not a file"]),
    ("notes.txt", ["a '.txt' file is no model file", "Vensim .mdl"]),
])
def test_import_model_names_what_is_wrong_with_the_path(tmp_path, name, needles):
    """FileNotFoundError / IsADirectoryError escaped, and a .txt was parsed as XMILE."""
    from sdmodels import ImportModelError
    from sdmodels.interop import import_model
    (tmp_path / "folder.mdl").mkdir()
    (tmp_path / "notes.txt").write_text("x = 1")
    with pytest.raises(ImportModelError) as info:
        import_model(tmp_path / name)
    assert all(n in str(info.value) for n in needles), str(info.value)


def test_results_to_pandas_of_a_run_it_does_not_hold_says_which_it_holds():
    results = simulate(teacup(), params={"Room Temperature": [60, 70]}, engine="interpreter")
    assert results.to_pandas(run=1)["Room Temperature"].iloc[0] == 70
    for run in (2, "x"):
        with pytest.raises(IndexError, match=r"they hold runs 0 to 1"):
            results.to_pandas(run=run)


def test_dsl_arguments_of_the_wrong_kind_are_named():
    """units=5 failed inside pint at check_units, a name 5 was 'not non-empty', a parameter
    row without (default, units, source) was "'int' object is not subscriptable", and a
    negative rolling window was numpy's 'negative dimensions not allowed' at the run."""
    from sdmodels import rolling_max
    m = Model("x", stop=2, dt=1)
    with pytest.raises(ModelError, match="'C' in model 'x': units are text such as 'req/s'"):
        m.constant("C", 1, units=5)
    with pytest.raises(ModelError, match="an element's name is text, not 5"):
        m.constant(5, 1)
    with pytest.raises(ModelError, match=r"parameter 'A' is 1; give \(default, units, source\)"):
        m.parameters({"A": 1})
    s = m.stock("S", initial=1, units="req")
    m.aux("Peak", rolling_max(s, -3))
    with pytest.raises(ModelError, match="rolling_max over a window of -3; give a window of 0 "
                                         "or more"):
        simulate(m, engine="interpreter")


def test_a_sweep_files_missing_model_is_named_where_it_was_looked_for(tmp_path, monkeypatch):
    """The model path is relative to the sweep file; the error named it relative to nowhere
    ('nope.py'), so the user looked in the wrong folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "sweep.toml").write_text('model = "nope.py"\n[vary]\n"X" = [1, 2]\n')
    one_line_error(invoke("sweep", "sub/sweep.toml", "-o", "out"),
                   "model file 'sub/nope.py' does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]


def test_sweep_takes_a_system_description_as_its_model(tmp_path):
    """'sdm sweep examples/service_chain.yaml --vary ...' read the description as a sweep
    file: 'unknown setting system, description, components...'."""
    from sdmodels.cli.sweep_cmd import is_sweep_file
    (tmp_path / "shop.yaml").write_text("system: shop\ncomponents:\n  users: {kind: traffic}\n")
    (tmp_path / "shop.toml").write_text('system = "shop"\n[components.users]\nkind = "traffic"\n')
    (tmp_path / "sweep.yaml").write_text("model: shop.yaml\nvary: {x: [1, 2]}\n")
    (tmp_path / "sweep.toml").write_text('model = "teacup"\n')
    assert [is_sweep_file(str(tmp_path / n)) for n in
            ("shop.yaml", "shop.toml", "sweep.yaml", "sweep.toml", "missing.yaml")] == \
        [False, False, True, True, True]


BOM = b"\xef\xbb\xbf"
DECAY_MDL = b"""{UTF-8}
Stock = INTEG(-Stock / 2, 10) ~ ~ |
INITIAL TIME = 0 ~ ~ |
FINAL TIME = 4 ~ ~ |
TIME STEP = 1 ~ ~ |
SAVEPER = TIME STEP ~ ~ |
"""


def test_files_saved_with_a_utf8_byte_order_mark_are_read(tmp_path):
    """Notepad's BOM: the .mdl reader stopped at 'unexpected character \\ufeff', tomllib at
    'Invalid statement' in a sweep file and in a TOML system description."""
    from sdmodels.interop import import_model
    from sdmodels.sweep.design import load_sweep
    from sdmodels.system.description import load_system
    (tmp_path / "decay.mdl").write_bytes(BOM + DECAY_MDL)
    # Euler: the stock halves each step, 10 -> 5 -> 2.5 -> 1.25 -> 0.625
    assert simulate(import_model(tmp_path / "decay.mdl"),
                    engine="interpreter").to_pandas()["Stock"].tolist() == \
        [10.0, 5.0, 2.5, 1.25, 0.625]
    (tmp_path / "sweep.toml").write_bytes(BOM + b'model = "teacup"\n[vary]\n"Room Temperature"'
                                                b' = [60, 70]\n')
    assert load_sweep(tmp_path / "sweep.toml").factors[0].values == (60.0, 70.0)
    (tmp_path / "shop.toml").write_bytes(BOM + b'system = "shop"\n[components.users]\n'
                                               b'kind = "traffic"\nrate = "300/s"\n'
                                               b'[components.api]\nkind = "service"\n'
                                               b'serviceTime = "20ms"\n'
                                               b'[[calls]]\nfrom = "users"\nto = "api"\n')
    assert load_system(tmp_path / "shop.toml").name == "shop"


def test_workbench_says_which_scenario_settings_it_cannot_show():
    """A scenario setting an arrayed constant (no slider) lost that setting without a word:
    the page's 'scenario' curves differed from `sdm run --scenario`."""
    from sdmodels import Dim
    from sdmodels.workbench.session import Workbench
    m = Model("pods", stop=4, dt=1)
    pods = Dim("pod", 3)
    m.stock("Memory", initial=1.0, dims=[pods])
    m.flow("Leak", m.constant("Growth", 1.0) * m.constant("Memory factor", 1.0, dims=[pods]),
           into="Memory", dims=[pods])
    m.add_scenario("leaky", {"Memory factor": 2.0, "Growth": 1.5})
    leaky = Workbench(m, warm=False).describe()["scenarios"][0]
    assert leaky["values"] == {"Growth": 1.5} and leaky["skipped"] == ["Memory factor"]


def test_a_vensim_models_data_file_can_be_given_on_the_command_line(tmp_path, monkeypatch):
    """The error told a command-line user to call import_model(path, data_files=[...]): there
    was no way to give the file to sdm."""
    import pandas as pd
    (tmp_path / "m.mdl").write_text("{UTF-8}\nDemand ~~|\nINITIAL TIME = 0 ~~|\n"
                                    "FINAL TIME = 4 ~~|\nTIME STEP = 1 ~~|\n"
                                    "SAVEPER = TIME STEP ~~|\n")
    (tmp_path / "d.dat").write_text("Demand\n0\t10\n2\t30\n4\t50\n")
    monkeypatch.chdir(tmp_path)
    missing = invoke("run", "m.mdl", "-o", "out.csv")
    assert missing.exit_code == 2 and "--data-file data.tab" in missing.output
    assert invoke("run", "m.mdl", "--data-file", "d.dat", "-o", "out.csv").exit_code == 0
    # Vensim's DATA: linear between the file's points
    assert pd.read_csv("out.csv")["Demand"].tolist() == [10, 20, 30, 40, 50]


def test_module_and_name_loop_take_what_they_say():
    """m.module('db', 'pool') was "'str' object has no attribute 'dims'"; name_loop('L',
    'Level') named a loop through the letters L, e, v, e, l."""
    m = Model("x", stop=2, dt=1)
    with pytest.raises(TypeError, match="module 'db' takes a Model .the sub-model., got str "
                                        "'pool': load it first"):
        m.module("db", "pool")
    with pytest.raises(ModelError, match=r"loop 'L' in model 'x': give the variables it passes "
                                         r"through as a list, e.g. \['Level', ...\]"):
        m.name_loop("L", "Level")


def test_an_xmile_syntax_error_is_ours_alone(tmp_path):
    """A stray ')' gave our caret message, then '(and pysd's XMILE translator: could not
    parse (IncompleteParseError: Rule 'expr_type' matched in its entirety...))'."""
    text = (XMILE_TEACUP.replace("<eqn>(T - R) / C</eqn>", "<eqn>(T - R)) / C</eqn>"))
    (tmp_path / "m.xmile").write_text(text)
    result = invoke("run", tmp_path / "m.xmile")
    assert result.exit_code == 2
    assert "variable 'F': unexpected ')' at column 8" in result.output
    assert "pysd" not in result.output and "IncompleteParseError" not in result.output


XMILE_TEACUP = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
  <header><name>m</name></header>
  <sim_specs><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
  <model><variables>
    <stock name="T"><eqn>180</eqn><outflow>F</outflow></stock>
    <flow name="F"><eqn>(T - R) / C</eqn></flow>
    <aux name="R"><eqn>70</eqn></aux>
    <aux name="C"><eqn>10</eqn></aux>
  </variables></model>
</xmile>
"""


def test_an_mdl_reference_to_an_unknown_name_suggests_the_close_one(tmp_path):
    (tmp_path / "m.mdl").write_bytes(DECAY_MDL.replace(b"INTEG(-Stock", b"INTEG(-Stok"))
    one_line_error(invoke("run", tmp_path / "m.mdl"), "m.mdl:2: variable 'Stock'",
                   "'stok' is not defined in the model. Did you mean 'Stock'?")


def test_an_mdl_with_a_zero_time_step_says_so_once(tmp_path):
    """It read 'm.mdl: the model: model 'm': dt must be positive'."""
    (tmp_path / "m.mdl").write_bytes(DECAY_MDL.replace(b"TIME STEP = 1", b"TIME STEP = 0"))
    line = one_line_error(invoke("run", tmp_path / "m.mdl"), "model 'm': dt must be positive")
    assert "the model:" not in line
