"""TOML system descriptions: read like the YAML ones, with every problem at its line and column."""
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sdmodels.cli import main
from sdmodels.system import SystemDescriptionError, load_system
from tests.toml_text import as_toml

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_reads_the_same_as_toml(path, tmp_path):
    text = as_toml(yaml.safe_load(path.read_text()))
    toml_file = tmp_path / (path.stem + ".toml")
    toml_file.write_text(text)
    a, b = load_system(path), load_system(toml_file)
    assert b.name == a.name and b.description == a.description
    assert {n: (c.kind, dict(c.config)) for n, c in b.components.items()} == \
        {n: (c.kind, dict(c.config)) for n, c in a.components.items()}
    assert [(c.source, c.target, dict(c.config)) for c in b.calls] == \
        [(c.source, c.target, dict(c.config)) for c in a.calls]
    assert load_system(text).components.keys() == a.components.keys()     # text, not a path


BAD = """\
system = "broken"

[components.users]
kind = "traffic"
rate = 100

[components.api]
kind = "servise"

[components.cache]
kind = "cache"
ttl = "1 hour"
ttlJiter = "5s"

[components.web]
kind = "service"
serviceTime = "20ms"
hpa = { minReplicas = 5, maxReplicas = 2 }

[[calls]]
from = "users"
to = "web"

[[calls]]
from = "web"
to = "cach"
  timeout = 2
"""


def test_every_problem_of_a_toml_description_is_listed_with_its_line_and_column():
    """The YAML test's seven problems, each where the TOML text writes it."""
    with pytest.raises(SystemDescriptionError) as info:
        load_system(BAD)
    found = {(p.line, p.column, p.path): p.message for p in info.value.problems}
    assert len(info.value.problems) == 7, str(info.value)
    assert "per unit of time" in found[(5, 8, "components.users.rate")]
    assert "Did you mean 'service'?" in found[(8, 8, "components.api.kind")]
    assert "write it with a unit" in found[(12, 7, "components.cache.ttl")]
    assert "Did you mean 'ttlJitter'?" in found[(13, 1, "components.cache.ttlJiter")]
    assert "minReplicas (5) is above maxReplicas (2)" in found[(18, 7, "components.web.hpa")]
    assert "Did you mean 'cache'?" in found[(26, 6, "calls[1].to")]
    assert "write it with a unit" in found[(27, 13, "calls[1].timeout")]


def test_a_toml_syntax_error_has_its_position(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('system = "x"\n[components.a]\nkind = "traffic"\nrate = \n')
    with pytest.raises(SystemDescriptionError, match=r"line 4, column 8: \(document\): "
                       "Invalid value"):
        load_system(bad)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["analyze", str(bad), "-o", str(out), "--quiet"])
    assert result.exit_code == 2 and "line 4, column 8" in result.output
    assert not out.exists()


def test_toml_keys_quoted_dotted_and_inline_are_placed():
    lines = ['# a comment first', 'system = "s"',
             'components.users = {kind = "traffic", rate = "10/s"}',
             '"components".api.kind = "service"', 'components.api.serviceTyme = "5ms"',
             'calls = [', '  {from = "users", to = "api", timeout = "1"},', ']']
    with pytest.raises(SystemDescriptionError) as info:
        load_system("\n".join(lines) + "\n")
    found = {(p.line, p.column, p.path) for p in info.value.problems}
    assert found == {(4, 1, "components.api.serviceTime"),      # required: where api begins
                     (5, 1, "components.api.serviceTyme"),
                     (7, lines[6].index('"1"') + 1, "calls[0].timeout")}, str(info.value)


def test_the_docs_toml_example_is_the_yaml_one():
    import re
    docs = (Path(__file__).resolve().parent.parent / "docs" / "SYSTEMS.md").read_text()
    yaml_text = re.search(r"```yaml\n(system: shop.*?)```", docs, re.S).group(1)
    toml_text = re.search(r"```toml\n(.*?)```", docs, re.S).group(1)
    a, b = load_system(yaml_text), load_system(toml_text)
    assert {n: dict(c.config) for n, c in b.components.items()} == \
        {n: dict(c.config) for n, c in a.components.items()}
    assert [dict(c.config) for c in b.calls] == [dict(c.config) for c in a.calls]


def test_positions_survive_strings_comments_and_arrays_of_tables():
    import tomllib

    from sdmodels.system.toml_nodes import positions

    def at(text):
        return {k: (v[1].line + 1, v[1].column + 1) for k, v in positions(text).items()}
    # a multi-line string holding quotes, '=' and '#' does not hide the key after it
    text = 'a = """x = "y" # \\"\n"""\nb = 1\n'
    assert tomllib.loads(text) == {"a": 'x = "y" # "\n', "b": 1}
    assert at(text)[("b",)] == (3, 5)
    # each [[x.y]] entry is its own index; a comment inside an array is skipped
    found = at('a = [\n  1, # c = 3\n  2,\n]\n[[x.y]]\nk = 1\n[[x.y]]\nk = 2\n')
    assert found[("a", 1)] == (3, 3) and found[("x", "y", 1, "k")] == (8, 5)
