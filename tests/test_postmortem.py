"""`sdm postmortem` and `sdm dominance`: the loop story as one self-contained page."""
import json
import re
import shutil
import subprocess
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from sdmodels.cli import main

MODEL = textwrap.dedent('''
    from sdmodels import Model

    def build(**overrides):
        m = Model("adoption", stop=60, dt=0.125, saveper=0.5)
        p = m.stock("Users", initial=10)
        room = m.aux("Room to grow", 1 - p / m.constant("Market", 1000))
        m.flow("Adoption", m.constant("Word of mouth", 0.2) * p * room, into=p)
        m.name_loop("Word of mouth", ["Users", "Adoption"])
        m.name_loop("Saturation", ["Users", "Room to grow"])
        m.add_scenario("trigger", {"Word of mouth": 0.3})
        m.add_scenario("fixed", {"Word of mouth": 0.3, "Market": 500})
        return m
''')


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    root = tmp_path_factory.mktemp("postmortem")
    model = root / "adoption.py"
    model.write_text(MODEL)
    observed = root / "metrics.csv"
    t = np.arange(0, 61, 5.0)
    users = 1000 / (1 + 99 * np.exp(-0.3 * t))                 # the logistic, closed form
    observed.write_text("time,Users\n" + "\n".join(f"{a},{b:.3f}" for a, b in zip(t, users)))
    out = root / "out"
    result = CliRunner().invoke(main, ["postmortem", str(model), "--scenario", "trigger",
                                       "--observed", str(observed), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return model, out


def test_page_is_self_contained_and_tells_the_phases_in_order(story):
    _, out = story
    page = (out / "postmortem.html").read_text()
    assert not re.search(r"""(src|href)=['"](?!data:)""", page)     # nothing fetched
    assert page.count("data:image/svg+xml;base64,") >= 3
    phases = page[page.index("<h2>The phases"):page.index("</ol>")]
    assert phases.index("Word of mouth") < phases.index("Saturation")
    named = page[page.index("in the order they took over"):]
    assert named.index("Word of mouth") < named.index("Saturation")
    assert "With the fixes" in page and "Observed metrics" in page
    assert "drove it with the fixes on" in page
    # one causal loop diagram per phase, the phase's dominant loop highlighted in it
    cld = page[page.index("The loops of each phase"):page.index("in the order they took over")]
    assert cld.count("<img class=phase alt='phase ") == 2


def test_pieces_are_written(story):
    _, out = story
    names = {p.name for p in out.iterdir()}
    assert {"timeline.svg", "timeline.png", "phases.csv", "scores.csv"} <= names
    assert any(re.fullmatch(r"loop_[RBU]\d+\.svg", n) for n in names)
    assert any(re.fullmatch(r"loop_[RBU]\d+_behaviour\.png", n) for n in names)
    assert {"phase_1.svg", "phase_1.png", "phase_2.svg"} <= names
    phases = (out / "phases.csv").read_text().splitlines()
    assert phases[0].startswith("start,end,loops,names,polarity")
    # logistic: growth leads until half the market (500 users at rate 0.3: t = ln 99 / 0.3)
    switch = float(phases[2].split(",")[0])
    assert abs(switch - np.log(99) / 0.3) < 0.75


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed "
                    "(apt-get install -y chromium)")
def test_page_renders_in_headless_chromium(story, tmp_path):
    _, out = story
    shot = tmp_path / "page.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    "--window-size=1200,2400", f"--screenshot={shot}",
                    (out / "postmortem.html").as_uri()], capture_output=True, timeout=120,
                   check=True)
    from matplotlib.image import imread
    pixels = imread(shot)
    assert pixels.shape[0] == 2400
    ink = (pixels[..., :3].mean(axis=2) < 0.5).mean()          # dark pixels: text, lines
    assert ink > 0.005


def test_dominance_command_formats(story):
    model, _ = story
    runner = CliRunner()
    table = runner.invoke(main, ["dominance", str(model), "--scenario", "trigger"])
    assert table.exit_code == 0, table.output
    assert "Word of mouth" in table.output and "Saturation" in table.output
    data = json.loads(runner.invoke(main, ["dominance", str(model), "--format", "json"]).output)
    assert [p["names"] for p in data["phases"]] == ["Word of mouth", "Saturation"]
    csv = runner.invoke(main, ["dominance", str(model), "--format", "csv"]).output
    assert csv.splitlines()[0] == "scenario,time,loop,name,polarity,runs_as,score,relative"
    md = runner.invoke(main, ["dominance", str(model), "--format", "markdown"]).output
    assert "| start | end | loops | names |" in md and "| Saturation |" in md
    bad = runner.invoke(main, ["dominance", str(model), "--variable", "Userz"])
    assert bad.exit_code == 2 and "Did you mean 'Users'" in bad.output


def test_overview_diagram_keeps_the_dominant_loops(story, tmp_path):
    model, _ = story
    out = tmp_path / "overview.dot"
    result = CliRunner().invoke(main, ["diagram", str(model), "--dominant", "1", "--scenario",
                                       "trigger", "-o", str(out)])
    assert result.exit_code == 0, result.output
    source = out.read_text()
    # saturation leads from t = ln 99 / 0.3 = 15.3 to 60: the larger mean share; drawn
    # alone, its three links and no other
    assert "Saturation" in source and "Word of mouth" not in source
    assert source.count(" -> ") == 3 and '"room_to_grow" -> "adoption"' in source


def test_bad_inputs_are_one_line_errors_and_write_nothing(story, tmp_path):
    model, _ = story
    runner = CliRunner()
    for args in (["--scenario", "no such"], ["--variable", "Market"],
                 ["--observed", str(model)]):             # a .py file is no metrics CSV
        out = tmp_path / "never"
        result = runner.invoke(main, ["postmortem", str(model), *args, "-o", str(out)])
        assert result.exit_code == 2, result.output
        assert result.output.startswith("Error: ") and len(result.output.splitlines()) == 1
        assert not out.exists()


def test_a_loop_held_at_a_limit_is_said_to_hold_the_state():
    """A goal-seeking loop whose flow is clamped (min(1, gap)) after the goal jumps: each
    link moves at some time, never all at once, so the loop never scores; the page must say
    where it is held: the flow at 1, its largest value, from the jump at t = 1 on."""
    from sdmodels import Model, minimum, step
    from sdmodels.analysis.dominance import dominance
    from sdmodels.postmortem_loops import never_drove
    m = Model("clamped goal", stop=40, dt=0.25)
    level = m.stock("Level", initial=0)
    gap = m.aux("Gap", step(100, 1) - level)
    m.flow("Filling", minimum(1, gap), into=level)
    m.name_loop("Close the gap", ["Level", "Gap", "Filling"])
    d = dominance(m)
    loop = next(l for l in d.loops if l.name == "Close the gap")
    assert d.relative[loop.id].abs().max() < 1e-9                 # never scored
    text = never_drove(d)
    assert "each link changed" in text
    assert re.search(r"Filling held at 1 from 1(\.0)? \(its largest in the run\)", text)
    assert "Level held" not in text and "Gap held" not in text     # those go on moving


def test_params_set_the_story_as_the_closed_form_says(tmp_path, market=500.0):
    """`params` (the workbench's sliders) reach the story's runs. Logistic adoption
    P' = r P (1 - P/K): word of mouth leads until P = K/2, at t* = ln(K/P0 - 1)/r
    (r = 0.2, P0 = 10: 19.46 for K = 500; the model's own K = 1000 would give 22.98),
    then saturation."""
    import importlib.util

    import pandas as pd

    from sdmodels.postmortem import write_postmortem
    path = tmp_path / "adoption.py"
    path.write_text(MODEL)
    spec = importlib.util.spec_from_file_location("adoption_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    write_postmortem(module.build(), tmp_path / "out", variable="Users",
                     params={"Market": market})
    phases = pd.read_csv(tmp_path / "out" / "phases.csv")
    first = phases.iloc[0]
    assert first["names"] == "Word of mouth"
    assert first["end"] == pytest.approx(np.log(market / 10 - 1) / 0.2, abs=0.5 + 0.125)
    assert phases.iloc[1]["names"] == "Saturation"


FILLED = textwrap.dedent('''
    from sdmodels import Model

    def build(**overrides):
        m = Model("filled", stop=10, dt=0.25)
        level = m.stock("Level", initial=0)
        m.flow("Fill", 1 + m.constant("Gain", 0.0) * level, into=level)
        m.name_loop("Growth", ["Level", "Fill"])
        m.add_scenario("trigger", {"Gain": 0.1})
        m.add_scenario("fixed", {"Gain": 0.0})
        return m
''')


def test_the_fixed_run_that_moves_without_a_loop_is_not_called_still(tmp_path):
    # with the fix (gain 0) the level still rises as t by its constant inflow, through no
    # loop: the "with the fixes" section said "no loop is changing anything"
    model = tmp_path / "filled.py"
    model.write_text(FILLED)
    result = CliRunner().invoke(main, ["postmortem", str(model), "--scenario", "trigger",
                                       "--variable", "Level", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out" / "postmortem.html").read_text()
    fixes = page[page.index("With the fixes"):]
    assert "no loop is changing anything" not in fixes
    # Level = t (inflow 1); the scores' last interval starts at 10 - dt = 9.75
    assert "no loop through Level passes a change on, yet it went from 0 to 9.75" in fixes
