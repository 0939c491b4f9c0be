"""Limits of issue 13: array elements, equation length and nesting, run and sweep size,
ranges. Every case ends in a LimitError (or SweepError) before anything large is allocated;
the sizes used here would take gigabytes or hours without the checks.
"""
import os
import textwrap

import pytest
from click.testing import CliRunner

from sdmodels import Model, build, simulate
from sdmodels.cli import main
from sdmodels.errors import LimitError, ModelError, SDModelsError
from sdmodels.interop import import_model
from sdmodels.limits import Limits, current_limits, use_limits
from sdmodels.parse import parse_equation
from sdmodels.sweep.design import SweepError, SweepSpec, check_design, parse_vary

CONTROL = "INITIAL TIME = 0 ~ ~ |\nFINAL TIME = 2 ~ ~ |\nTIME STEP = 1 ~ ~ |\nSAVEPER = 1 ~ ~ |\n"
XMILE = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
  <header><name>big</name></header>
  <sim_specs><start>0</start><stop>{stop}</stop><dt>1</dt></sim_specs>
  <dimensions><dim name="D" size="{size}"/></dimensions>
  <model><variables>
    <aux name="x"><dimensions><dim name="D"/></dimensions><eqn>1</eqn></aux>
    <aux name="y"><dimensions><dim name="D"/></dimensions><eqn>x</eqn></aux>
  </variables></model>
</xmile>
"""


def test_limits_have_defaults_env_overrides_and_a_context():
    assert Limits().max_array_elements == 1_000_000
    assert Limits.from_env({"SDMODELS_MAX_ARRAY_ELEMENTS": "5e6"}).max_array_elements == 5_000_000
    with pytest.raises(LimitError, match="SDMODELS_MAX_NESTING='lots' is not a whole number"):
        Limits.from_env({"SDMODELS_MAX_NESTING": "lots"})
    with use_limits(max_nesting=3):
        assert current_limits().max_nesting == 3
    assert current_limits().max_nesting == 50


def test_xmile_dim_size_is_checked_before_allocation(tmp_path):
    path = tmp_path / "big.xmile"
    path.write_text(XMILE.format(stop=10, size=100_000_000))     # 9.5 GB before the check
    with pytest.raises(LimitError, match=r"big\.xmile: 100,000,000 elements in dimension 'D' "
                                         r"exceed the limit of 1,000,000; raise it with "
                                         r"--max-array-elements"):
        import_model(path)
    path.write_text(XMILE.format(stop=10, size=30))
    with use_limits(max_array_elements=49):                 # 2 variables x 30 cells
        with pytest.raises(LimitError, match="at variable 'y': 60 cells of arrayed variables"):
            import_model(path)
    assert len(simulate(build(import_model(path))).to_pandas().columns) == 60


def test_vensim_subscript_range_is_checked_before_pysd_expands_it(tmp_path):
    path = tmp_path / "big.mdl"
    path.write_text("{UTF-8}\nD: (d1-d100000000) ~ ~ |\nx[D] = 1 ~ ~ |\n" + CONTROL)
    with pytest.raises(LimitError, match=r"subscript 'D': 100,000,000 elements in range "
                                         r"\(d1-d100000000\)"):
        import_model(path)


def test_dsl_dimensions_and_variables_are_checked():
    m = Model("big")
    with pytest.raises(LimitError, match="100,000,000 elements in dimension 'pod'"):
        m.dim("pod", 100_000_000)
    m.dim("a", 2000)
    m.dim("b", 1000)
    with pytest.raises(LimitError, match=r"2,000,000 cells of one variable over a, b"):
        m.constant("c", 1.0, dims=("a", "b"))
    small = Model("small", stop=1)
    small.dim("a", 600)
    small.constant("c1", 1.0, dims=("a",))
    small.constant("c2", 1.0, dims=("a",))
    with use_limits(max_array_elements=1000):
        with pytest.raises(LimitError, match="1,200 cells of arrayed variables"):
            build(small)


def test_equation_length_and_nesting():
    with pytest.raises(LimitError, match=r"200,000 characters in one equation exceed the limit "
                                         r"of 100,000; raise it with --max-equation-chars"):
        parse_equation("1+" * 100_000)
    for text in ["(" * 60 + "x" + ")" * 60, "-" * 60 + "x", "not " * 60 + "x",
                 "MAX(" * 60 + "x" + ", 1)" * 60]:
        with pytest.raises(LimitError, match="more than 50 parentheses, calls or signs"):
            parse_equation(text)
    with pytest.raises(LimitError, match="is 300 levels deep"):
        parse_equation("+".join(["x"] * 300))
    assert parse_equation("(" * 40 + "x" + ")" * 40) is not None
    with use_limits(max_nesting=100):                       # raised: 60 levels now parse
        assert parse_equation("(" * 60 + "x" + ")" * 60) is not None


def test_deep_dsl_expression_is_refused_by_build():
    m = Model("deep", stop=1)
    x = m.constant("x", 1.0)
    total = x
    for _ in range(300):
        total = total + x
    m.aux("y", total)
    with pytest.raises(LimitError, match="variable 'y'.*levels deep"):
        build(m)


def test_vensim_one_long_line_fails_fast(tmp_path):
    """A 10 MB line of 1+1+... took 7 GB and 240 s in pysd; it is refused on the text."""
    path = tmp_path / "long.mdl"
    path.write_text("{UTF-8}\nx = " + "1+" * 5_000_000 + "1 ~ ~ |\n" + CONTROL)
    with pytest.raises(LimitError, match=r"variable 'x': 10,000,0\d\d characters in one equation"):
        import_model(path)
    path.write_text("{UTF-8}\nx = " + "+".join(["1"] * 3000) + " ~ ~ |\n" + CONTROL)
    with pytest.raises(SDModelsError, match="nested too deeply|levels deep"):
        build(import_model(path))                           # 6 kB: too deep, not too long


def test_time_steps_and_result_memory_are_checked_before_allocation():
    m = Model("t", stop=10)
    m.stock("s", initial=m.constant("s0", 1))
    with pytest.raises(LimitError, match=r"1e\+300 time steps|time steps .* exceed"):
        simulate(m, stop=1e300)
    with pytest.raises(ModelError, match="finite stop"):
        simulate(m, stop=float("inf"))
    with use_limits(max_result_bytes=1000):
        with pytest.raises(LimitError, match=r"1000 runs x 11 saved times x 2 outputs need "
                                             r"172 KiB of memory, more than the 1000 bytes"):
            simulate(m, params={"s0": [1.0] * 1000})


@pytest.mark.parametrize("vary, message", [
    ("X=0:1e9:1", r"range '0:1e9:1' gives 1e\+09 values, more than the limit of 1,000,000"),
    ("X=1e3:2e3:1e-300", r"gives 1e\+303 values"),
    ("X=0:inf:1", "needs finite numbers"),
    ("X=nan:1:1", "needs finite numbers"),
])
def test_ranges_that_would_hang_error_at_once(vary, message):
    with pytest.raises(SweepError, match=message):
        parse_vary([vary])


def test_sweep_run_count_and_memory_are_checked_before_anything_runs(tmp_path):
    factors = parse_vary(["A=0:999:1", "B=0:999:1", "C=0:99:1"])      # 1e8 runs
    with pytest.raises(SweepError, match=r"100,000,000 runs, more than the limit of 10,000,000"):
        check_design(SweepSpec("teacup", factors=factors))
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, ["sweep", "teacup", "--vary", "Room Temperature=60,70",
                                       "--max-result-bytes", "1000", "-o", str(out),
                                       "--no-progress"])
    assert result.exit_code == 2 and "need" in result.output and "--max-result-bytes" in \
        result.output, result.output
    assert not out.exists()                                  # nothing written
    assert "SDMODELS_MAX_RESULT_BYTES" not in os.environ


def test_cli_flag_raises_a_limit(tmp_path):
    path = tmp_path / "wide.xmile"
    path.write_text(XMILE.format(stop=2, size=20))
    refused = CliRunner().invoke(main, ["run", str(path), "--max-array-elements", "30"])
    assert refused.exit_code == 2 and "exceed the limit of 30;" in refused.output
    assert CliRunner().invoke(main, ["run", str(path), "--max-array-elements", "40"]
                              ).exit_code == 0


def test_sweep_file_limits_name_the_file(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(textwrap.dedent("""
        model = "teacup"
        [vary]
        "Room Temperature" = {start = 0, stop = 1e12, step = 1}
        "Characteristic Time" = {start = 1, stop = 2, num = 1e10}
        """))
    from sdmodels.sweep.design import load_sweep
    with pytest.raises(SweepError, match=r"s\.toml: 2 problems: \(1\) .*1e\+12 values.*\(2\) "
                                         r".*1e\+10 values"):
        load_sweep(spec)
