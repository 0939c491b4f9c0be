"""The units check (`sdm check`): mismatches named with both units, the flow/stock time rule,
Vensim spellings, imported models, every library model's report, and the CLI's exit codes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sdmodels import Model
from sdmodels.units import check_units, parse_units, unit_registry
from sdmodels.cli import main
from sdmodels.expr import delay3, exp, if_then_else
from sdmodels.interop.conformance import shared_root
from sdmodels.sources import library_names, load_model

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SAMPLES = shared_root() / "test-models" / "samples"
needs_samples = pytest.mark.skipif(not SAMPLES.exists(), reason="external test models absent")


@pytest.fixture(scope="module")
def ureg():
    return unit_registry()


def _queue(flow_units="req/s", time_units="second"):
    m = Model("queue", stop=10, dt=1, time_units=time_units)
    q = m.stock("Queue", initial=5, units="req")
    rate = m.constant("Arrival rate", 3, units="req/s")
    return m, q, rate


def _balanced():
    m = Model("queue", stop=10, time_units="second")
    q = m.stock("Queue", 0, units="requests")
    m.flow("Arrivals", 100, into=q, units="req/s")           # req = request, singular = plural
    hold = m.constant("Service time", 0.5, units="s")
    served = m.flow("Served", q / hold, out_of=q, units="requests/second")
    m.aux("Wait", q / served, units="s")                     # Little's law: req / (req/s) = s
    m.aux("Pods needed", served / m.constant("Pod rate", 10, units="req/s/pod"), units="pods")
    m.aux("Late", delay3(served, 5), units="req/s")          # a delay keeps its input's units
    m.aux("Share", exp(-m.time / m.constant("Scale", 60, units="s")), units="1")
    return m


def _issues(m, ureg):
    return [(p.element, p.what, p.left, p.right) for p in check_units(m, ureg=ureg)]


def test_a_balanced_model_has_no_issues(ureg):
    assert _issues(_balanced(), ureg) == []


@pytest.mark.parametrize("name, equation, units, issue", [
    ("Mixed", "Queue + Wait", "req", ("'+' operands", "req", "s")),
    ("Throughput per pod", "Served / Pod rate", "req/s", ("equation vs declared units", "pod", "req/s")),
    ("Late pods", "DELAY3(Served, 5)", "pods", ("equation vs declared units", "req/s", "pod")),
    ("Decay", "EXP(-Time)", "1", ("exp() argument vs dimensionless", "s", "1")),
    ("Soon", "DELAY3(Served, Queue)", "req/s", ("delay3 time vs model time", "req", "s")),
])
def test_each_kind_of_imbalance_is_named(ureg, name, equation, units, issue):
    m = _balanced()
    m.aux(name, equation, units=units)
    assert _issues(m, ureg) == [(name, *issue)]


def test_memory_is_a_dimension_and_scales_differ(ureg):
    # pint counts bytes as dimensionless; here MB + 1 is an imbalance, and GB is not MB
    assert parse_units(ureg, "MB").dimensionality != parse_units(ureg, "1").dimensionality
    m = Model("leak", stop=10, time_units="minute")
    memory = m.stock("Memory", 400, units="MB")
    m.flow("Leak", 0.1 * m.constant("Leak rate", 1, units="MB/s"), into=memory, units="MB/s")
    m.aux("Headroom", m.constant("Limit", 1, units="GB") - memory, units="MB")
    assert _issues(m, ureg) == [("Leak", "flow vs stock 'Memory' per time unit", "MB/s", "MB/min"),
                                ("Headroom", "'-' operands", "GB", "MB")]


def test_module_ports_are_checked_inside_the_part(ureg):
    from library.parts.server import server_pool
    m = Model("one", stop=1, time_units="second")
    m.module("api", server_pool(), display="API")
    report = check_units(m, ureg=ureg)
    assert report.checked > 20 and not [p for p in report if p.element.startswith("API / Queue")]


def test_adding_a_rate_to_a_stock_is_reported_with_both_units(ureg):
    m, q, rate = _queue()
    m.aux("Load", q + rate, units="req")
    m.flow("Arrivals", rate, into=q, units="req/s")
    report = check_units(m, ureg=ureg)
    assert [(p.element, p.what, p.left, p.right) for p in report.problems] == [
        ("Load", "'+' operands", "req", "req/s")]
    assert "Load" in str(report.problems[0]) and "req/s" in str(report.problems[0])
    assert not report.clean and report.checked == 4 and report.unknown == ()


def test_flow_units_are_stock_units_per_model_time_unit(ureg):
    m, q, rate = _queue(time_units="minute")      # req/s into a stock of req, timed in minutes
    m.flow("Arrivals", rate, into=q, units="req/s")
    (problem,) = check_units(m, ureg=ureg).problems
    assert (problem.element, problem.left, problem.right) == ("Arrivals", "req/s", "req/min")
    assert "per minute" in problem.hint
    m2, q2, rate2 = _queue(time_units="second")
    m2.flow("Arrivals", rate2, into=q2, units="req/s")
    assert check_units(m2, ureg=ureg).clean
    m3, q3, _ = _queue()                            # an undeclared flow: its computed units
    m3.flow("Drain", q3 / m3.constant("Hold", 2, units="min"), out_of=q3)
    (problem,) = check_units(m3, ureg=ureg).problems
    assert (problem.element, problem.left, problem.right) == ("Drain", "req/min", "req/s")
    m4, q4, _ = _queue(time_units="time")           # the DSL's default: no time unit given
    m4.flow("Arrivals", m4.constant("Pod rate", 1, units="pods/s"), into=q4, units="pods/s")
    report = check_units(m4, ureg=ureg)
    assert report.clean and not report.time_unit and "give the model a time unit" in (
        report.summary())


def test_declared_units_branches_and_dimensionless_arguments(ureg):
    m, q, rate = _queue()
    m.flow("Arrivals", rate, into=q, units="req/s")
    m.aux("Wrong declared", q / rate, units="req")                    # computes s
    m.aux("Branches", if_then_else(q > 3, q, rate), units="req")      # req vs req/s
    m.aux("Growth", exp(q), units="1")                                # exp of req
    m.aux("Fine", exp(rate / rate) * q - 1 + m.time * rate, units="req")
    m.aux("Switched", 600 * (q > 3), units="req/s")       # a number times a switch: any units
    got = {(p.element, p.what, p.left, p.right) for p in check_units(m, ureg=ureg).problems}
    assert got == {("Wrong declared", "equation vs declared units", "s", "req"),
                   ("Branches", "if-then-else branches", "req", "req/s"),
                   ("Growth", "exp() argument vs dimensionless", "req", "1")}


def test_undeclared_elements_are_unknown_not_errors(ureg):
    m, q, _ = _queue()
    m.aux("Mystery", 7)
    m.aux("Uses it", q + m.aux("Other", 2), units="req")
    report = check_units(m, ureg=ureg)
    assert report.clean and set(report.unknown) == {"Mystery", "Other"}


def test_vensim_spellings(ureg):
    same = [("Dmnl", "1"), ("1/Month", "1/month"), ("Person", "people"), ("$", "USD"),
            ("Pollution units", "pollution unit"), ("units", "Unit"), ("ms", "millisecond"),
            ("Requests/Second", "req/s"), ("pods", "pod"), ("Foxes", "Fox"), ("0/1", "1"),
            ("x normal/month", "1/month"), ("Dmnl [0,1]", "")]
    for a, b in same:
        ua, ub = parse_units(ureg, a), parse_units(ureg, b or "1")
        assert ua == ub, (a, b)
    assert parse_units(ureg, "") is None
    assert parse_units(ureg, "pods").dimensionality != parse_units(ureg, "req").dimensionality
    # pint's far-fetched readings are refused: 'units' is not micro-nit, 'Rs' not ronna-second
    assert parse_units(ureg, "units").dimensionality != parse_units(ureg, "nit").dimensionality
    assert parse_units(ureg, "Rs/Day").dimensionality != parse_units(ureg, "1/day").dimensionality
    assert parse_units(ureg, "Person Hours") != parse_units(ureg, "Person*Hours")  # Vensim


def test_teacup_is_clean(ureg):
    report = check_units(load_model("teacup"), ureg=ureg)
    assert report.clean and report.checked == 5 and report.unknown == ()


@pytest.mark.parametrize("name", library_names())
def test_library_model_report(name, ureg):
    """Every library model is clean (library/README.md, "Units": a countable thing is its own
    unit, conversions between them are explicit factors of 1)."""
    report = check_units(load_model(name), ureg=ureg)
    assert [str(p) for p in report.problems] == []
    assert report.unparsed == () and report.unknown == ()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_system_composes_clean(path, ureg):
    """A composed system is held to the library's rule too: the composition's own wiring
    (request threads, a cache's misses sent as queries, an HPA's external metric) converts
    between counts through explicit factors of 1. Every example used to have 1-4 problems."""
    report = check_units(load_model(str(path)), ureg=ureg)
    assert [str(p) for p in report.problems] == []
    assert report.unparsed == () and report.unknown == ()


@needs_samples
def test_imported_vensim_models(ureg):
    assert check_units(load_model(str(SAMPLES / "teacup/teacup.mdl")), ureg=ureg).clean
    assert check_units(load_model(str(SAMPLES / "SIR/SIR.mdl")), ureg=ureg).clean
    # workforce.mdl's own mistakes: "Time per Task" declared Person*Hours (not per Task),
    # "Rookie-Hours Worked per Week" declared "Person Hours" (no /Week), MIN(rate, backlog)
    report = check_units(load_model(str(SAMPLES / "Workforce/workforce.mdl")), ureg=ureg)
    assert {(p.element, p.left, p.right) for p in report.problems} == {
        ("Expert Task Completion", "1/week", "tasks/week"),
        ("Rookie Task Completion", "1/week", "tasks/week"),
        ("Rookie-Hours on Task per Week", "person_hours", "h*person/week"),
        ("Task Completion", "tasks/week", "tasks")}
    assert len(report.unknown) == 7
    # the time unit comes from the file: XMILE's time_units, Vensim's TIME STEP units
    xmile = check_units(load_model(str(SAMPLES / "SIR/SIR.xmile")), ureg=ureg)
    assert [(p.element, p.left, p.right) for p in xmile] == [
        ("recovering", "person/day", "person/time")]   # duration in days, time_units="Time"


LARGE = shared_root() / "large-models" / "wrld3-03.mdl"


@pytest.mark.skipif(not LARGE.exists(), reason="World3 model absent")
def test_world3_balances(ureg):
    """World3-03 declares units on all its 311 elements and they balance in Vensim; multi-word
    units ('Pollution units', 'Veg equiv kg') must read as one unit each for that."""
    report = check_units(load_model(str(LARGE)), ureg=ureg)
    assert report.checked == 311 and report.unknown == () and report.unparsed == ()
    assert report.time_unit          # 'year', from TIME STEP's units: flows checked per year
    assert report.clean, [str(p) for p in report.problems]


BAD_PY = ("from sdmodels import Model\n"
          "def build(**overrides):\n"
          "    m = Model('bad', stop=1, time_units='second')\n"
          "    q = m.stock('Queue', 0, units='req')\n"
          "    m.aux('Wrong', q + m.time, units='req')\n"
          "    m.aux('Also wrong', q * m.time, units='req')\n"
          "    return m\n")


def test_cli_exit_codes_and_json(tmp_path):
    runner = CliRunner()
    clean = runner.invoke(main, ["check", "teacup"])
    assert clean.exit_code == 0 and "teacup: clean" in clean.output
    path = tmp_path / "bad.py"
    path.write_text(BAD_PY)
    bad = runner.invoke(main, ["check", str(path), "--json"])
    assert bad.exit_code == 1
    data = json.loads(bad.output)
    assert data["clean"] is False and {p["element"] for p in data["problems"]} == {
        "Wrong", "Also wrong"}
    text = runner.invoke(main, ["check", str(path)])
    assert text.exit_code == 1 and text.output.count("\n") == len(data["problems"]) + 1
    missing = runner.invoke(main, ["check", "no_such_model"])
    assert missing.exit_code == 2 and "neither a library model" in missing.output


def test_cli_on_a_user_py_file(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(BAD_PY)
    bad = CliRunner().invoke(main, ["check", str(path)])
    assert bad.exit_code == 1
    lines = bad.output.splitlines()
    assert lines[0].startswith("Wrong: '+' operands: req vs s. Hint:")
    assert lines[2] == "bad: 2 unit problem(s); 3 elements checked, 0 without declared units"
