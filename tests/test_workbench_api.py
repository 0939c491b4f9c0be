"""The workbench's HTTP API (Starlette's TestClient, in process): runs follow the model,
bad requests get a 4xx JSON error and leave the server working, only allowed models open."""
import csv
import re
import io
import math

import numpy as np
import pytest
from starlette.testclient import TestClient

from sdmodels.workbench.server import Catalog, create_app
from sdmodels.workbench.session import Workbench
from sdmodels.workbench.values import InvalidValueError, parameter_specs, read_value

DT = 0.125          # library/teacup.py's step


def euler_teacup(t, tau, room=70.0, initial=180.0):
    """Euler's solution of dT/dt = -(T - room)/tau, exactly: (1 - dt/tau)^(t/dt)."""
    return room + (initial - room) * (1 - DT / tau) ** (t / DT)


@pytest.fixture(scope="module")
def client():
    catalog = Catalog("teacup")
    with TestClient(create_app(catalog)) as c:
        yield c


def test_models_are_the_started_one_and_the_library(client):
    data = client.get("/api/models").json()
    assert data["first"] == "teacup" and data["models"][0] == "teacup"
    assert "retry_storm" in data["models"]
    desc = client.get("/api/model/teacup").json()
    names = [p["name"] for p in desc["parameters"]]
    assert names == ["Initial Temperature", "Room Temperature", "Characteristic Time"]
    tau = desc["parameters"][2]
    assert (tau["default"], tau["low"], tau["high"], tau["units"]) == (10.0, 0.0, 20.0, "minute")
    assert tau["source"].startswith("SDXorg")
    assert [s["name"] for s in desc["scenarios"]] == ["baseline", "cold room"]
    assert desc["scenarios"][1]["values"] == {"Room Temperature": 40.0}


@pytest.mark.parametrize("tau", [10.0, 20.0])
def test_run_follows_the_closed_form(client, tau):
    response = client.post("/api/model/teacup/run", json={"values": {"Characteristic Time": tau}})
    assert response.status_code == 200
    assert response.headers["server-timing"].startswith("app;dur=")
    data = response.json()
    t = np.array(data["times"])
    y = np.array(data["series"]["Teacup Temperature"])
    np.testing.assert_allclose(y, euler_teacup(t, tau), rtol=1e-12)
    k = int(np.argmin(abs(t - 10)))
    assert abs(y[k] - (70 + 110 * math.exp(-10 / tau))) < 0.3     # Euler's O(dt) error


def test_equation_text_goes_through_the_parser(client):
    data = client.post("/api/model/teacup/run", json={"values": {
        "Room Temperature": 60, "Characteristic Time": "Room Temperature / 3"}}).json()
    assert data["values"]["Characteristic Time"] == 20.0


@pytest.mark.parametrize("values, words", [
    ({"Characteristic Tme": 5}, ["not a parameter", "Did you mean 'Characteristic Time'"]),
    ({"Characteristic Time": "ten"}, ["'ten' is neither a number nor a parameter"]),
    ({"Characteristic Time": "__import__('os')"}, ["Characteristic Time"]),
    ({"Characteristic Time": -1}, ["out of range", "at least 0"]),
    ({"Characteristic Time": [1, 2]}, ["not a number"]),
    ({"Characteristic Time": "1/0"}, ["no finite value"]),
    ({"Characteristic Time": "exp(1000)"}, ["no value"]),
    ({"Characteristic Time": 0}, ["became", "run 0 of model 'teacup'"]),    # a failed run
])
def test_bad_values_get_a_json_error_and_the_server_goes_on(client, values, words):
    response = client.post("/api/model/teacup/run", json={"values": values})
    assert response.status_code == 422
    message = response.json()["error"]
    assert all(w in message for w in words), message
    assert client.post("/api/model/teacup/run", json={"values": {}}).status_code == 200


def test_malformed_requests_are_4xx(client):
    assert client.post("/api/model/teacup/run", content=b"{not json").status_code == 400
    assert client.post("/api/model/teacup/run", json=[1, 2]).status_code == 400
    assert client.post("/api/model/teacup/run", json={"values": 3}).status_code == 400
    assert client.post("/api/model/teacup/sweep", json={"x": "Room Temperature"}).status_code == 400
    assert client.get("/api/model/teacup/diagram.exe").status_code == 404


@pytest.mark.parametrize("path, body, field, takes", [
    ("run", {"value": {"Room Temperature": 30}}, "value", "values, outputs"),   # misspelt
    ("run", {"values": {}, "scenario": "trigger"}, "scenario", "values, outputs"),
    ("dominance", {"variable": "x"}, "variable", "values"),
    ("postmortem.html", {"values": {}, "scenario": "x"}, "scenario", "values"),
    ("sweep", {"output": "Teacup Temperature", "x": "Room Temperature", "xs": [1],
               "runs": 5}, "runs", "output, x, xs, y, ys, values"),
    ("export.csv", {"run": {}}, "run", "runs"),
])
def test_a_field_the_request_does_not_take_is_refused_by_name(client, path, body, field, takes):
    # before: ignored, so {"value": ...} (for "values") ran the defaults without a word
    response = client.post(f"/api/model/teacup/{path}", json=body)
    assert response.status_code == 400
    message = response.json()["error"]
    assert f"unknown field '{field}'" in message and f"This request takes: {takes}" in message
    if field == "value":
        assert "Did you mean 'values'?" in message


@pytest.mark.parametrize("key", ["..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "teacup.py",
                                 "library.teacup", "nope"])
def test_only_allowed_models_open(client, key):
    response = client.get(f"/api/model/{key}")
    assert response.status_code == 404
    assert "error" in response.json()


def test_loops_and_diagram(client):
    loops = client.get("/api/model/teacup/loops").json()["loops"]
    assert [(l["id"], l["name"], l["polarity"]) for l in loops] == [("B1", "Cooling", "B")]
    assert sorted(map(tuple, loops[0]["edges"])) == [("heat_loss", "teacup_temperature"),
                                                      ("teacup_temperature", "heat_loss")]
    svg = client.get("/api/model/teacup/diagram.svg").text
    assert "<title>teacup_temperature&#45;&gt;heat_loss</title>" in svg
    assert "<title>loop:B1</title>" in svg
    png = client.get("/api/model/teacup/diagram.png?loop=B1")
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/api/model/teacup/diagram.svg?loop=R7").status_code == 404


def test_csv_export_has_both_runs(client):
    response = client.post("/api/model/teacup/export.csv", json={"runs": {
        "before": {}, "after": {"Characteristic Time": 20}}})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0])[:3] == ["run", "time", "Teacup Temperature"]
    assert set(rows[0]) == {"time", "run", "Teacup Temperature", "Heat Loss",
                            "Initial Temperature", "Room Temperature", "Characteristic Time"}
    assert len(rows) == 2 * (30 / DT + 1)
    at10 = {r["run"]: float(r["Teacup Temperature"]) for r in rows if float(r["time"]) == 10}
    assert at10["before"] == pytest.approx(euler_teacup(10, 10), rel=1e-12)
    assert at10["after"] == pytest.approx(euler_teacup(10, 20), rel=1e-12)


def test_sweep_phase_diagram_of_the_retry_storm(client):
    # DESIGN.md: with R retries the collapse sustains itself for mu/(R+1) < lambda < mu
    # (mu = 1250): 250 < 312.5 recovers, 600 and 1000 collapse; without retries all recover
    trigger = {"Capacity drop": 0.9, "Trigger duration": 10}
    data = client.post("/api/model/retry_storm/sweep", json={
        "output": "Goodput", "x": "Arrival rate", "xs": [250, 600, 1000],
        "y": "Max retries", "ys": [0, 3], "values": trigger}).json()
    assert data["trigger"] == [60.0, 70.0]
    assert data["labels"] == [["recovered"] * 3, ["recovered", "collapsed", "collapsed"]]
    too_big = client.post("/api/model/retry_storm/sweep", json={
        "output": "Goodput", "x": "Arrival rate", "xs": list(range(100)),
        "y": "Max retries", "ys": list(range(100))})
    assert too_big.status_code == 422 and "sdm sweep" in too_big.json()["error"]


def test_specs_and_values_without_a_server():
    from library.retry_storm import build
    specs = {s.name: s for s in parameter_specs(build())}
    assert specs["Jitter"].switch and (specs["Jitter"].low, specs["Jitter"].high) == (0, 1)
    assert specs["Capacity drop"].high == 1.0          # a fraction, 0.9 in a scenario
    assert specs["Capacity"].high == 2500.0
    with pytest.raises(InvalidValueError, match="switch"):
        read_value(specs["Jitter"], 0.5, {})
    assert read_value(specs["Capacity"], "max(1000, 2 * 600)", {}) == 1200.0
    wb = Workbench(build(), warm=False)
    from sdmodels.elements import Stock       # without KEY_OUTPUTS: the model's own stocks
    stocks = [v.display for v in wb.ir.of_kind(Stock) if not v.internal]
    assert wb.key_outputs == stocks[:6] and "Server / Backlog" in stocks   # the server queue
    assert Workbench.open("retry_storm").key_outputs[:3] == ["Offered load", "Throughput",
                                                             "Goodput"]


def test_sweep_with_non_numbers_is_a_400(client):
    response = client.post("/api/model/teacup/sweep", json={
        "output": "Teacup Temperature", "x": "Room Temperature", "xs": ["warm", 2]})
    assert response.status_code in (400, 422) and "error" in response.json()
    response = client.post("/api/model/teacup/sweep", json={
        "output": "Teacup Temperature", "x": "Room Temperature", "xs": [-5, 2]})
    assert response.status_code == 422 and "out of range" in response.json()["error"]


def test_a_py_model_opens_by_its_stem_and_nothing_else(tmp_path):
    source = tmp_path / "my_tank.py"
    source.write_text("from sdmodels import Model\n"
                      "def build():\n"
                      "    m = Model('tank', stop=2, dt=1)\n"
                      "    s = m.stock('Water', initial=8)\n"
                      "    m.flow('Drain', s / m.constant('Drain time', 2, units='s'), out_of=s)\n"
                      "    return m\n")
    with TestClient(create_app(Catalog(str(source)))) as c:
        assert c.get("/api/models").json()["first"] == "my_tank"
        data = c.post("/api/model/my_tank/run", json={"values": {"Drain time": 4}}).json()
        assert data["series"]["Water"] == [8.0, 6.0, 4.5]
        assert c.get(f"/api/model/{str(source).replace('/', '%2F')}").status_code == 404


@pytest.mark.parametrize("name", ["black_friday", "api_service", "thundering_herd"])
def test_every_listed_parameter_is_accepted_back(name):
    """The page sends back every slider by its display name. A module's constants are shown
    as "Traffic source / Ramp start" while the model's id is "traffic.ramp_start" (the
    module's id is not its title): each must still be found, and sweep as an axis."""
    wb = Workbench.open(name, warm=False)
    given = {p.name: p.default for p in wb.parameters}
    assert any(" / " in n for n in given)                     # module constants are listed
    assert wb.values(given) == given
    moved = next(p for p in wb.parameters if " / " in p.name and p.default > 0)
    assert wb.values({moved.name: 2 * moved.default}) == {moved.name: 2 * moved.default}


def test_named_loops_lead_the_loop_table():
    """A person looks for the loops the model names: they come first, whatever their ids."""
    from sdmodels import Model
    m = Model("two loops", stop=10, dt=1)
    a = m.stock("Backlog", initial=10)
    m.flow("Work done", a / 4, out_of=a)
    b = m.stock("Fame", initial=1)
    m.flow("Word of mouth", b / 10, into=b)
    m.name_loop("Word of mouth spreads", ["Fame", "Word of mouth"])
    rows = Workbench(m, warm=False, engine="interpreter").loops()
    assert [(r["polarity"], r["name"]) for r in rows] == [("R", "Word of mouth spreads"),
                                                         ("B", None)]


def test_postmortem_export_is_one_page_with_the_values_checked(client):
    response = client.post("/api/model/teacup/postmortem.html",
                           json={"values": {"Characteristic Time": 20}})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == \
        'attachment; filename="teacup-postmortem.html"'
    page = response.text
    assert "teacup: which loop drove it" in page and "Cooling" in page
    assert not re.search(r"""(src|href)=['"](?!data:)""", page)     # nothing fetched
    bad = client.post("/api/model/teacup/postmortem.html",
                      json={"values": {"Characteristic Tim": 20}})
    assert bad.status_code == 422 and "Did you mean 'Characteristic Time'" in bad.json()["error"]
    # the checklist is a system description's only
    assert client.get("/api/model/teacup/checklist.html").status_code == 404


def test_a_mode_written_in_switch_units_is_a_number():
    """Units "0/1" on a value of 2 (the retry part's Jitter: 0 none, 1 full, 2 equal) make a
    number, not a switch that refuses its own default (examples/queue_workers.yaml's page
    opened on "Jitter = 2 is out of range")."""
    from sdmodels import Model
    m = Model("modes")
    m.parameters({"Jitter": (2.0, "0/1", "0 none, 1 full, 2 equal"),
                  "Breaker on": (0.0, "0/1", "")}, {})
    specs = {s.name: s for s in parameter_specs(m)}
    assert not specs["Jitter"].switch and read_value(specs["Jitter"], 2, {}) == 2.0
    assert specs["Breaker on"].switch
    with pytest.raises(InvalidValueError, match="switch"):
        read_value(specs["Breaker on"], 2, {})


def test_every_library_model_runs_with_all_its_sliders_sent(client):
    """What the page does on opening a model: describe it, then run with every slider at
    its default. The run must equal the model's own default run (no value lost or refused)."""
    from sdmodels.sources import library_models
    for key in library_models():
        desc = client.get(f"/api/model/{key}").json()
        values = {p["name"]: p["default"] for p in desc["parameters"]}
        outputs = desc["key_outputs"][:2]
        sent = client.post(f"/api/model/{key}/run", json={"values": values, "outputs": outputs})
        assert sent.status_code == 200, (key, sent.json())
        plain = client.post(f"/api/model/{key}/run", json={"outputs": outputs}).json()
        for name in outputs:
            assert sent.json()["series"][name] == plain["series"][name], (key, name)
