"""End to end in a real headless Chromium (Debian's, via Playwright): the page loads, a
slider moves the curves the way the model says, a loop lights up in the Graphviz SVG, a bad
value shows its message, exports download. Screenshots go to pytest's tmp dir."""
import csv
import math
import shutil
import threading

import numpy as np
import pytest

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium "
                                "(scripts/setup.sh installs it)")

DT = 0.125


def euler_teacup(t, tau, room=70.0, initial=180.0):
    return room + (initial - room) * (1 - DT / tau) ** (t / DT)


@pytest.fixture(scope="session")
def server():
    """The workbench on a free loopback port, started with teacup (library models allowed)."""
    from sdmodels.workbench.server import Catalog, make_server
    catalog = Catalog("teacup")
    catalog.get("teacup")
    srv, sock, url = make_server(catalog, host="127.0.0.1", port=0)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield url
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")     # one Playwright at a time: the next file starts its own
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server)
    pg.wait_for_selector("#diagram svg", timeout=60_000)
    pg.wait_for_function("window.workbench.before !== null")
    yield pg
    pg.screenshot(path=str(tmp_path / "final.png"), full_page=True)
    context.close()
    assert errors == []


def plotted(pg, output):
    """The data uPlot draws for an output: [times, before..., after...]."""
    return pg.evaluate(f"window.workbench.plots[{output!r}].u.data")


def open_model(pg, key, *, timeout=120_000):
    pg.select_option("#model", key)
    pg.wait_for_function(f"window.workbench.key === {key!r} && window.workbench.before !== null"
                         " && document.querySelector('#diagram svg') !== null", timeout=timeout)


def test_slider_moves_the_curve_as_the_model_says(page, tmp_path):
    times, before, after = (np.array(a, dtype=float) for a in plotted(page, "Teacup Temperature"))
    np.testing.assert_allclose(after, euler_teacup(times, 10.0), rtol=1e-12)
    slider = page.locator('input[data-param="Characteristic Time"]')
    slider.focus()
    for _ in range(20):                       # by the keyboard, as a person: 10 -> 12 in
        page.keyboard.press("ArrowRight")     # steps of 0.1, each a request (coalesced)
    page.keyboard.press("End")                # then to the slider's top, 2 x default = 20
    page.wait_for_function("window.workbench.after.values['Characteristic Time'] === 20"
                           " && !window.workbench.inFlight")
    page.screenshot(path=str(tmp_path / "slider.png"), full_page=True)
    times, before, after = (np.array(a, dtype=float) for a in plotted(page, "Teacup Temperature"))
    k = int(np.argmin(abs(times - 10)))
    # a slower cooling keeps the tea warmer: T(10) = 70 + 110 exp(-10/tau)
    assert after[k] > before[k] + 20
    assert after[k] == pytest.approx(70 + 110 * math.exp(-0.5), abs=0.3)   # Euler's error
    np.testing.assert_allclose(after, euler_teacup(times, 20.0), rtol=1e-12)
    np.testing.assert_allclose(before, euler_teacup(times, 10.0), rtol=1e-12)
    assert page.input_value('input[data-field="Characteristic Time"]') == "20"


def test_scenario_picker_sets_the_sliders(page):
    page.select_option("#scenario", "cold room")
    page.wait_for_function("window.workbench.after.values['Room Temperature'] === 40")
    assert page.input_value('input[data-field="Room Temperature"]') == "40"
    times, _, after = (np.array(a, dtype=float) for a in plotted(page, "Teacup Temperature"))
    np.testing.assert_allclose(after, euler_teacup(times, 10.0, room=40.0), rtol=1e-12)


def edge_titles(pg, cls):
    return set(pg.eval_on_selector_all(f"#diagram g.edge.{cls} title",
                                       "els => els.map(e => e.textContent)"))


def test_picking_a_loop_highlights_it_in_the_svg(page, tmp_path):
    assert edge_titles(page, "hl") == set()
    page.click('#loops tr[data-loop="B1"]')
    assert edge_titles(page, "hl") == {"teacup_temperature->heat_loss",
                                       "heat_loss->teacup_temperature"}
    assert page.locator("#diagram g.node.hl title", has_text="loop:B1").count() == 1
    assert "loop=B1" in page.get_attribute("#export-svg", "href")
    page.screenshot(path=str(tmp_path / "loop.png"), full_page=True)
    page.click('#loops tr[data-loop="B1"]')              # a second click lets it go
    assert edge_titles(page, "hl") == set()
    page.hover('#diagram g.node[data-loop="B1"]')         # the loop's marker in the diagram
    assert len(edge_titles(page, "hl")) == 2
    assert "hover" in page.get_attribute('#loops tr[data-loop="B1"]', "class")


def test_retry_storm_loop_by_name_and_hover(page, tmp_path):
    open_model(page, "retry_storm", timeout=600_000)     # 1,527 loops: their links signed
    # from runs of every scenario, then a Graphviz layout of the 52 independent ones
    loops = page.evaluate("window.workbench.loops")
    storm = next(l for l in loops if l["name"] == "Retry storm")
    page.hover(f'#loops tr[data-loop="{storm["id"]}"]')
    lit = edge_titles(page, "hl")
    assert lit == {f"{u}->{v}" for u, v in storm["edges"]}
    assert edge_titles(page, "dim") and not lit & edge_titles(page, "dim")
    page.click(f'#loops tr[data-loop="{storm["id"]}"]')
    page.select_option("#scenario", "trigger")
    page.wait_for_function("window.workbench.after.values['Capacity drop'] === 0.9"
                           " && !window.workbench.inFlight")
    times, before, after = (np.array(a, dtype=float) for a in plotted(page, "Goodput"))
    late = times > 300
    assert before[late].mean() > 950                  # baseline: 1000 req/s served
    assert after[late].mean() < 300                   # trigger: the storm sustains itself
    page.screenshot(path=str(tmp_path / "retry_storm.png"), full_page=True)


def test_invalid_value_shows_the_message_and_recovers(page, tmp_path):
    field = page.locator('input[data-field="Characteristic Time"]')
    field.fill("ten")
    field.press("Enter")
    page.wait_for_selector("#error:not([hidden])")
    assert "'ten' is neither a number nor a parameter" in page.text_content("#error")
    assert "invalid" in field.get_attribute("class")
    page.screenshot(path=str(tmp_path / "invalid.png"), full_page=True)
    field.fill("-4")
    field.press("Enter")
    page.wait_for_function("document.querySelector('#error').textContent.includes('out of range')")
    field.fill("2 * 10")                                  # an expression, parsed by sdmodels
    field.press("Enter")
    page.wait_for_selector("#error", state="hidden")
    page.wait_for_function("window.workbench.after.values['Characteristic Time'] === 20")
    assert page.input_value('input[data-param="Characteristic Time"]') == "20"


def test_exports_download(page, tmp_path):
    page.fill('input[data-field="Characteristic Time"]', "20")
    page.press('input[data-field="Characteristic Time"]', "Enter")
    page.wait_for_function("window.workbench.after.values['Characteristic Time'] === 20")
    with page.expect_download() as info:
        page.click("#export-csv")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name == "teacup-runs.csv"
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0])[:3] == ["run", "time", "Teacup Temperature"]
    assert "Heat Loss" in rows[0]
    at10 = {r["run"]: float(r["Teacup Temperature"]) for r in rows if float(r["time"]) == 10}
    assert at10["before"] == pytest.approx(euler_teacup(10, 10), rel=1e-12)
    assert at10["after"] == pytest.approx(euler_teacup(10, 20), rel=1e-12)
    with page.expect_download() as info:
        page.click("#export-svg")
    assert info.value.suggested_filename == "teacup.svg"
    info.value.save_as(tmp_path / "d.svg")
    assert (tmp_path / "d.svg").read_text().lstrip().startswith("<?xml")
    with page.expect_download() as info:
        page.click("#export-png")
    info.value.save_as(tmp_path / "d.png")
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"
    assert page.locator("#export-checklist").is_hidden()     # a description's only
    with page.expect_download(timeout=120_000) as info:       # the story of these values
        page.click("#export-postmortem")
    assert info.value.suggested_filename == "teacup-postmortem.html"
    info.value.save_as(tmp_path / "pm.html")
    story = (tmp_path / "pm.html").read_text()
    assert "teacup: which loop drove it" in story and "Cooling" in story
    assert page.text_content("#export-postmortem") == "postmortem"   # the button is back


def test_sweep_panel_draws_the_phase_diagram(page, tmp_path):
    page.select_option("#sweep-x", "Characteristic Time")
    page.fill("#sweep-x-from", "2")
    page.fill("#sweep-x-to", "20")
    page.fill("#sweep-x-n", "4")
    page.select_option("#sweep-y", "Room Temperature")
    page.fill("#sweep-y-from", "70")
    page.fill("#sweep-y-to", "200")
    page.fill("#sweep-y-n", "3")
    page.click("#sweep-form button")
    page.wait_for_selector(".phase td")
    cells = page.eval_on_selector_all(".phase td", "els => els.map(e => e.className)")
    assert len(cells) == 12
    # rows are drawn top = largest y: room 200 > 180 warms the tea (growth), 135 and 70
    # are below it (decline)
    assert cells[:4] == ["lab-growth"] * 4 and cells[4:] == ["lab-decline"] * 8
    page.screenshot(path=str(tmp_path / "sweep.png"), full_page=True)


def test_sweep_with_a_blank_range_is_refused_not_run_at_zero(page):
    """A blank 'from' was Number("") = 0: twelve runs at 0 .. 0, drawn as a phase row."""
    page.select_option("#sweep-x", "Characteristic Time")
    page.fill("#sweep-x-from", "")
    page.fill("#sweep-x-to", "20")
    page.click("#sweep-form button")
    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error") == ("give the sweep range: a number in 'from', 'to' "
                                           "and 'steps'")
    assert page.locator(".phase td").count() == 0


def test_near_flat_series_get_a_readable_band(page):
    """A change under 0.1 % of the value, or a residue of rounding, is drawn flat in a band of
    +-10 % around it (else the axis shows four identical labels, or 1.0e-15 requests)."""
    band = page.evaluate("[flatRange(null, 0.05, 0.05002), flatRange(null, 0, 1e-15),"
                         " flatRange(null, 20, 20), flatRange(null, 0, 1)]")
    assert band[0] == pytest.approx([0.05001 - 0.005001, 0.05001 + 0.005001], rel=1e-9)
    assert band[1] == [-1, 1] and band[2] == [18, 22]
    assert band[3][0] <= 0 and band[3][1] >= 1            # a real change keeps uPlot's range
