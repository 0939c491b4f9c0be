"""End to end in a real headless Chromium (Debian's, via Playwright): the workbench started
on a system description shows it in the editor, marks an invalid field inline with its line
as it is typed, and after a fix and a save draws the rebuilt model's curves (twice the API
pods: its utilisation halves, 300 req/s x 0.03 s / (6 x 4) = 0.375), with the old model
pinned as "before". The page cannot open or write any other file. (A two-component system
keeps the test quick; tests/test_workbench_system.py rebuilds examples/service_chain.yaml.)"""
import json
import shutil
import threading

import numpy as np
import pytest

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium "
                                "(scripts/setup.sh installs it)")

SHOP = """# users -> api
system: shop
components:
  users: {kind: traffic, rate: 300/s}
  api:
    kind: service
    replicas: 3
    workersPerPod: 4
    serviceTime: 30ms             # 400 req/s of capacity: 75 % busy
calls:
  - {from: users, to: api, timeout: 2s}
"""
UTIL = "api / Utilization"


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """The workbench on a small description, on a free loopback port."""
    from sdmodels.workbench.server import Catalog, make_server
    path = tmp_path_factory.mktemp("system") / "shop.yaml"
    path.write_text(SHOP)
    catalog = Catalog(str(path))
    catalog.get(catalog.first)
    srv, sock, url = make_server(catalog, host="127.0.0.1", port=0)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield url, path
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(started, tmp_path_factory):
    url, _ = started
    shots = tmp_path_factory.mktemp("shots")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1440, "height": 1300})
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(url)
        pg.wait_for_function("window.workbench.before !== null && "
                             "!document.querySelector('#editor-panel').hidden", timeout=120_000)
        pg.wait_for_selector("#diagram svg", timeout=120_000)
        pg.shots = shots
        yield pg
        pg.screenshot(path=str(shots / "final.png"), full_page=True)
        browser.close()
        assert errors == []


def late_mean(pg, which):
    times, *series = pg.evaluate(f"window.workbench.plots[{UTIL!r}].u.data")
    index = {"before": 0, "after": len(series) - 1}[which]
    t = np.array(times, dtype=float)
    return float(np.mean(np.array(series[index], dtype=float)[t > 300]))


def type_over(pg, old, new):
    """Select `old` in the editor and type `new` over it, key by key, as a person does."""
    text = pg.input_value("#source")
    at = text.index(old)
    pg.evaluate(f"(() => {{ const s = document.querySelector('#source'); s.focus();"
                f" s.setSelectionRange({at}, {at + len(old)}); }})()")
    pg.keyboard.type(new)


def test_edit_validate_save_and_the_curves_follow(page, started):
    _, path = started
    assert page.input_value("#source") == path.read_text()
    assert page.text_content("#editor-name") == "shop.yaml"
    assert late_mean(page, "after") == pytest.approx(0.75, rel=0.01)
    line = SHOP.splitlines().index("    replicas: 3") + 1
    type_over(page, "replicas: 3", "replicsa: 3")
    page.wait_for_selector("#problems li")
    message = page.text_content("#problems li")
    assert f"line {line}, column 5" in message and "Did you mean 'replicas'?" in message
    assert page.get_attribute(f'#gutter span[data-line="{line}"]', "class") == "bad"
    # one gutter row per line, marked or not: the marker sits beside its own line (a marked
    # row was an inline-block that swallowed the next number, shifting the rest up a row)
    rows = page.evaluate("[...document.querySelectorAll('#gutter span')]"
                         ".map(s => s.getBoundingClientRect().top)")
    step = rows[1] - rows[0]
    assert step > 5 and all(abs(b - a - step) < 0.5 for a, b in zip(rows, rows[1:])), rows
    page.screenshot(path=str(page.shots / "invalid.png"), full_page=True)
    before_text = path.read_text()
    page.click("#save")                                   # refused: the file stays as it was
    page.wait_for_function("document.querySelector('#editor-status').textContent"
                           ".includes('not saved')")
    assert path.read_text() == before_text
    type_over(page, "replicsa: 3", "replicas: 6")
    page.wait_for_function("document.querySelector('#problems').children.length === 0")
    page.keyboard.press("Control+s")
    page.wait_for_function("window.workbench.editor.saves === 1", timeout=60_000)
    page.wait_for_selector("#diagram svg")
    assert "replicas: 6" in path.read_text() and "replicsa" not in path.read_text()
    # the old model stays pinned as before; the rebuilt one's inventory is half as busy
    assert late_mean(page, "before") == pytest.approx(0.75, rel=0.01)
    assert late_mean(page, "after") == pytest.approx(0.375, rel=0.01)
    assert "saved shop.yaml" in page.text_content("#editor-status")
    page.screenshot(path=str(page.shots / "saved.png"), full_page=True)


def test_the_page_cannot_write_or_open_another_file(page, started, tmp_path):
    url, path = started
    other = tmp_path / "other.yaml"
    answers = page.evaluate("""async ([text, other]) => {
      const post = (u, b) => fetch(u, {method: "POST", headers: {"content-type":
        "application/json"}, body: JSON.stringify(b)}).then(r => r.status);
      return [
        await post("/api/model/shop/description", {text, path: other}),
        await post(`/api/model/${encodeURIComponent(other)}/description`, {text}),
        await fetch(`/api/model/${encodeURIComponent(other)}/description`).then(r => r.status),
        await fetch("/api/model/..%2F..%2Fetc%2Fpasswd").then(r => r.status),
        await post("/api/model/retry_storm/description", {text}),
      ];
    }""", [path.read_text(), str(other)])
    assert answers == [400, 404, 404, 404, 404]
    assert not other.exists()


def test_dominance_control_shown_only_when_available(page):
    from sdmodels.workbench.dominance import available
    assert page.is_hidden("#dominance-control") == (not available())


@pytest.fixture
def teacup_with_dominance(monkeypatch):
    """teacup served while sdmodels.analysis has a dominance function of the ltm branch's
    shape: the one loop B1 is all of its partition, its relative score -1 at every time."""
    import pandas as pd

    import sdmodels.analysis
    from sdmodels.workbench.server import Catalog, make_server

    def dominance(model, *, loops=None, params=None, **_):
        times = pd.Index(np.arange(0.0, 30.0, 0.5), name="time")
        return type("D", (), {"relative": pd.DataFrame({l.id: -1.0 for l in loops}, index=times)})

    monkeypatch.setattr(sdmodels.analysis, "dominance", dominance, raising=False)
    srv, sock, url = make_server(Catalog("teacup"), host="127.0.0.1", port=0)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield url
    srv.should_exit = True
    thread.join(timeout=10)


def test_diagram_coloured_by_the_dominant_loop(page, teacup_with_dominance):
    page.goto(teacup_with_dominance)
    page.wait_for_selector("#diagram svg", timeout=60_000)
    assert page.is_visible("#dominance-control")
    page.check("#dominance-toggle")
    page.wait_for_function("window.workbench.dominance !== null")
    page.wait_for_selector("#diagram g.edge.dominant")
    lit = set(page.eval_on_selector_all("#diagram g.edge.dominant.B title",
                                        "els => els.map(e => e.textContent)"))
    assert lit == {"teacup_temperature->heat_loss", "heat_loss->teacup_temperature"}
    assert page.text_content('#loops tr[data-loop="B1"] td:last-child') == "1"
    assert "B1" in page.text_content("#dominant-now")
    page.screenshot(path=str(page.shots / "dominance.png"), full_page=True)
    page.uncheck("#dominance-toggle")
    assert page.locator("#diagram g.edge.dominant").count() == 0


def test_a_description_that_does_not_compose_opens_in_the_editor(page, tmp_path):
    """Started on a description with problems (an alert rule on a metric its component does
    not expose), the page still opens: the editor shows the file and the problem at the
    rule's line."""
    from sdmodels.workbench.server import Catalog, make_server
    path = tmp_path / "alerted.yaml"            # a rule on a metric a service lacks
    text = SHOP.replace("calls:\n", "  alerts:\n    kind: alerting\n    rules:\n      - {alert:"
                        " Busy, component: api, metric: connections_pending, threshold: 1,"
                        " action: rollback, target: api}\ncalls:\n")
    path.write_text(text)
    srv, sock, url = make_server(Catalog(str(path)), host="127.0.0.1", port=0)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        page.goto(url)
        page.wait_for_selector("#problems li", timeout=60_000)
        line = text.splitlines().index("  alerts:") + 4
        assert page.text_content("#problems li").startswith(f"line {line}, column ")
        assert "is not a metric of api" in page.text_content("#error")
        assert page.input_value("#source") == text
        # the diagram panel says why it is empty (it said "finding loops, drawing..." forever)
        assert page.text_content("#diagram") == ("no model to draw: mend the description "
                                                 "below and save")
        page.screenshot(path=str(page.shots / "not_composable.png"), full_page=True)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
