"""`check_units` / `sdm check`: equations whose units do not balance, by dimensional analysis.

Expected findings are worked out by hand from each small model's equations (no simulation).
"""
import pytest
from click.testing import CliRunner

from sdmodels import Model, check_units, delay3, exp
from sdmodels.cli import main


def _messages(m):
    return [str(i) for i in check_units(m)]


def _queue():
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


def test_a_balanced_model_has_no_issues():
    assert _messages(_queue()) == []


def test_the_library_teacup_balances():
    from library import teacup
    assert _messages(teacup.build()) == []


def test_adding_two_dimensions_is_reported_with_both_names():
    m = _queue()
    m.aux("Mixed", "Queue + Wait", units="req")
    assert _messages(m) == ["Mixed: cannot add or compare request and s ('Queue', 'Wait')"]


def test_an_equation_against_its_declared_units_is_reported():
    m = _queue()
    m.aux("Throughput per pod", "Served / Pod rate", units="req/s")     # gives pods
    assert _messages(m) == ["Throughput per pod: declared request/s, its equation gives pod"]


def test_a_flow_must_be_its_stocks_units_per_time_unit():
    m = Model("leak", stop=10, time_units="minute")
    memory = m.stock("Memory", 400, units="MB")
    m.flow("Leak", 0.1, into=memory, units="MB/s")            # per second in a model in minutes
    assert _messages(m) == ["Leak: a flow of 'Memory' (MB) must be in MB/min, not MB/s"]


def test_exp_of_a_dimensioned_quantity_is_reported():
    m = _queue()
    m.aux("Decay", exp(-m.time), units="1")                  # time in seconds, not a ratio
    assert _messages(m) == ["Decay: exp of an expression in s: it must be dimensionless"]


def test_a_delay_output_has_its_inputs_units():
    m = _queue()
    m.aux("Late pods", "DELAY3(Served, 5)", units="pods")
    assert _messages(m) == ["Late pods: declared pod, its equation gives request/s"]


def test_module_ports_are_checked_inside_the_part():
    from library.parts.server import server_pool
    m = Model("one", stop=1, time_units="second")
    m.module("api", server_pool(), display="API")
    # the server part's own equations balance (its queue, waits and rates)
    assert [i for i in check_units(m) if i.element.startswith("API / Queue wait")] == []


def test_sdm_check_prints_each_issue_and_exits_1(tmp_path):
    ok = CliRunner().invoke(main, ["check", "teacup"])
    assert ok.exit_code == 0 and "units balance in every equation" in ok.output
    path = tmp_path / "bad.py"
    path.write_text("from sdmodels import Model\n"
                    "def build(**overrides):\n"
                    "    m = Model('bad', stop=1, time_units='second')\n"
                    "    q = m.stock('Queue', 0, units='req')\n"
                    "    m.aux('Wrong', q + m.time, units='req')\n"
                    "    return m\n")
    bad = CliRunner().invoke(main, ["check", str(path)])
    assert bad.exit_code == 1
    assert bad.output.splitlines() == ["Wrong: cannot add or compare request and s ('Queue', time)",
                                       "bad: 1 unit imbalance"]
    missing = CliRunner().invoke(main, ["check", "no_such_model"])
    assert missing.exit_code == 2 and "neither a library model" in missing.output


@pytest.fixture(scope="module")
def checker():
    from sdmodels.ir import build
    from sdmodels.units import _Checker
    return _Checker(build(_queue()))


@pytest.mark.parametrize("text, same", [("pods/s", "pod/s"), ("queries", "query"),
                                        ("x normal", "1"), ("%", "1"), ("0/1", "1"),
                                        ("req", "requests")])
def test_unit_words_agree_singular_plural_and_ratios(checker, text, same):
    assert not checker.differ(checker.parse(text), checker.parse(same))


def test_memory_is_a_dimension_and_scales_differ(checker):
    # pint counts bytes as dimensionless; here MB + 1 is an imbalance, and GB is not MB
    assert checker.parse("MB").dimensionality != checker.parse("1").dimensionality
    assert checker.differ(checker.parse("GB"), checker.parse("MB"))
    assert (1 * checker.parse("GB")).to(checker.parse("MB")).magnitude == pytest.approx(1000)
