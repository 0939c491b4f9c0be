"""`sdm loops` and `sdm diagram` through the real click entry point."""
import json
import textwrap

import pytest
from click.testing import CliRunner

from sdmodels.cli import main

MODEL = textwrap.dedent('''
    from sdmodels import Model
    def build(**overrides):
        m = Model("pod eviction", stop=20, dt=0.25)
        pods = m.stock("Running pods", initial=10, non_negative=True)
        per_pod = m.aux("Load per pod", m.constant("Total load", 1000) / pods)
        memory = m.aux("Memory", 4 * per_pod)
        m.flow("Eviction", 0.001 * memory, out_of=pods)
        m.flow("Rescheduling", 0.3, into=pods)
        m.name_loop("Eviction cascade", ["Memory", "Eviction"])
        return m
''')


@pytest.fixture()
def model_file(tmp_path):
    path = tmp_path / "pods.py"
    path.write_text(MODEL)
    return str(path)


def test_loops_formats(model_file):
    runner = CliRunner()
    table = runner.invoke(main, ["loops", model_file])
    assert table.exit_code == 0, table.output
    assert "R1  Eviction cascade  reinforcing" in table.output
    data = json.loads(runner.invoke(main, ["loops", model_file, "--format", "json"]).output)
    assert data["complete"] and data["total"] == data["shown"] and data["cap"] > 0
    data = data["loops"]
    assert data[0]["id"] == "R1" and data[0]["polarity"] == "R"
    assert data[0]["variables"] == ["Running pods", "Load per pod", "Memory", "Eviction"]
    csv = runner.invoke(main, ["loops", model_file, "--format", "csv"]).output
    assert csv.splitlines()[0].startswith("id,name,polarity,length")
    md = runner.invoke(main, ["loops", model_file, "--format", "markdown", "--independent"])
    assert md.exit_code == 0 and "| R1 | Eviction cascade |" in md.output


def test_diagram_writes_each_format(model_file, tmp_path):
    runner = CliRunner()
    for name, magic in (("d.svg", b"<?xml"), ("d.png", b"\x89PNG"), ("d.dot", b"digraph")):
        out = tmp_path / name
        result = runner.invoke(main, ["diagram", model_file, "--loop", "R1", "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(magic)
    sfd = tmp_path / "s.pdf"
    result = runner.invoke(main, ["diagram", model_file, "--kind", "sfd", "--only-loops",
                                  "-o", str(sfd)])
    assert result.exit_code == 0 and sfd.read_bytes().startswith(b"%PDF")


def test_diagram_errors_are_usage_errors(model_file, tmp_path):
    runner = CliRunner()
    bad = runner.invoke(main, ["diagram", model_file, "-o", str(tmp_path / "d.jpeg")])
    assert bad.exit_code == 2 and "must end in" in bad.output
    missing = runner.invoke(main, ["diagram", model_file, "--loop", "B7", "-o",
                                   str(tmp_path / "d.svg")])
    assert missing.exit_code == 2 and "no loop 'B7'" in missing.output
    assert not (tmp_path / "d.svg").exists()
