"""The workbench on a system description (routes in process): problems with their line and
column as the page types, a save that rebuilds the composed model (utilisation follows
arrivals x service time / (replicas x workers)), writes only the file it was started with
and only when it composes; loop dominance through sdmodels.analysis when it has it."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from sdmodels.workbench.server import Catalog, create_app

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "service_chain.yaml"
UTIL = "inventory / Utilization"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("system")
    path = folder / "chain.yaml"
    shutil.copy(EXAMPLE, path)
    with TestClient(create_app(Catalog(str(path)))) as client:
        yield client, path


def late_mean(run, column):
    t = np.array(run["times"])
    return float(np.mean(np.array(run["series"][column])[t > 300]))


def test_opens_the_description_with_utilisation_as_key_output(setup):
    client, path = setup
    models = client.get("/api/models").json()
    assert models["first"] == "chain" and "compose" not in models["models"]
    desc = client.get("/api/model/chain").json()
    assert desc["description"] is True and desc["engine"] == "interpreter"
    assert UTIL in desc["key_outputs"]
    assert client.get("/api/model/chain/description").json()["text"] == path.read_text()
    run = client.post("/api/model/chain/run", json={}).json()
    # 300 req/s x 30 ms / (3 replicas x 4 workers) = 0.75 (below saturation: no retries)
    assert late_mean(run, UTIL) == pytest.approx(0.75, rel=0.01)


def test_problems_carry_line_and_column(setup):
    client, path = setup
    text = path.read_text().replace("    replicas: 3\n    workersPerPod: 4\n    serviceTime: 30ms",
                                    "    replicsa: 3\n    workersPerPod: 4\n    serviceTime: 30ms")
    line = text.splitlines().index("    replicsa: 3") + 1
    problems = client.post("/api/model/chain/validate", json={"text": text}).json()["problems"]
    assert [(p["line"], p["column"], p["path"]) for p in problems] == [
        (line, 5, "components.inventory.replicsa")]
    assert "Did you mean 'replicas'?" in problems[0]["message"]
    broken = client.post("/api/model/chain/validate", json={"text": "system: [a\n"}).json()
    assert broken["problems"][0]["line"] == 2
    before = path.read_text()
    saved = client.post("/api/model/chain/description", json={"text": text})
    assert saved.status_code == 422 and saved.json()["problems"][0]["line"] == line
    assert path.read_text() == before                      # not written


def test_an_alert_rule_problem_is_at_its_line_and_alerting_composes(setup):
    """Every kind composes now, alerting included (its rules on the chain's metrics); a
    rule watching a metric its component does not expose is reported at the rule's line."""
    client, path = setup
    text = path.read_text() + "  # end\n"
    alerts = ("  alerts:\n    kind: alerting\n    rules:\n      - {alert: DbSlow, component: db,"
              " metric: latncy, threshold: 1, for: 5m, action: rollback}\n  db:\n")
    text = text.replace("  db:\n", alerts, 1)
    problems = client.post("/api/model/chain/validate", json={"text": text}).json()["problems"]
    assert [p["path"] for p in problems] == ["components.alerts.rules[0].metric"]
    assert problems[0]["line"] == text.splitlines().index("  alerts:") + 4
    assert "Did you mean 'latency'?" in problems[0]["message"]
    fixed = text.replace("metric: latncy", "metric: latency")
    assert client.post("/api/model/chain/validate", json={"text": fixed}).json()[
        "problems"] == []                                   # alerting composes


def test_one_line_text_is_never_read_as_a_path(setup, tmp_path):
    client, _ = setup
    secret = tmp_path / "secret.yaml"
    secret.write_text("system: secret\ncomponents: {}\ncalls: []\n")
    problems = client.post("/api/model/chain/validate", json={"text": str(secret)}).json()
    assert all("secret" not in p["message"] for p in problems["problems"])
    assert problems["problems"][0]["path"] == "(document)"


def test_only_the_started_file_is_written(setup, tmp_path):
    client, path = setup
    other = tmp_path / "other.yaml"
    answer = client.post("/api/model/chain/description",
                         json={"text": path.read_text(), "path": str(other)})
    assert answer.status_code == 400 and not other.exists()
    for key in ("retry_storm", "..%2F..%2Fetc%2Fpasswd", "other"):
        assert client.get(f"/api/model/{key}/description").status_code == 404
        assert client.post(f"/api/model/{key}/description",
                           json={"text": "system: x\n"}).status_code == 404
    assert client.get("/api/model/%2Ftmp%2Fother.yaml").status_code == 404


def test_save_rebuilds_and_the_curves_follow(setup):
    client, path = setup
    text = path.read_text().replace("    replicas: 3\n    workersPerPod: 4\n    serviceTime: 30ms",
                                    "    replicas: 6\n    workersPerPod: 4\n    serviceTime: 30ms")
    answer = client.post("/api/model/chain/description", json={"text": text, "outputs": [UTIL]})
    assert answer.status_code == 200, answer.text
    assert answer.headers["server-timing"].startswith("app;dur=")
    data = answer.json()
    assert list(data["run"]["series"]) == [UTIL]
    assert late_mean(data["run"], UTIL) == pytest.approx(0.375, rel=0.01)   # twice the pods
    assert path.read_text() == text
    assert not list(path.parent.glob(".chain.yaml.*"))                      # no temporaries
    run = client.post("/api/model/chain/run", json={"outputs": [UTIL]}).json()
    assert late_mean(run, UTIL) == pytest.approx(0.375, rel=0.01)


def test_dominance_hidden_without_the_analysis_function(monkeypatch):
    import sdmodels.analysis
    from sdmodels.workbench import dominance
    monkeypatch.delattr(sdmodels.analysis, "dominance", raising=False)
    assert dominance.available() is False
    with TestClient(create_app(Catalog("teacup"))) as client:
        assert client.get("/api/model/teacup").json()["dominance"] is False
        assert client.post("/api/model/teacup/dominance", json={}).status_code == 404
        assert all(l["importance"] is None for l in client.get("/api/model/teacup/loops").json()["loops"])


def test_dominance_fills_importance_when_the_analysis_has_it(monkeypatch):
    """With a dominance function of the ltm branch's shape (`relative`: time x loop id): the
    teacup's one loop B1 is all of its partition, so its relative score is -1 throughout."""
    import pandas as pd

    import sdmodels.analysis

    def dominance(model, *, loops=None, params=None, **_):
        times = pd.Index(np.arange(0.0, 30.0, 1.0), name="time")
        return type("D", (), {"relative": pd.DataFrame({l.id: -1.0 for l in loops}, index=times)})

    monkeypatch.setattr(sdmodels.analysis, "dominance", dominance, raising=False)
    with TestClient(create_app(Catalog("teacup"))) as client:
        assert client.get("/api/model/teacup").json()["dominance"] is True
        found = client.post("/api/model/teacup/dominance", json={}).json()
        assert set(found["dominant"]) == {"B1"} and found["importance"] == {"B1": 1.0}
        loops = client.get("/api/model/teacup/loops").json()["loops"]
        assert [l["importance"] for l in loops] == [1.0]


def test_a_description_that_does_not_compose_is_served_to_be_mended(tmp_path):
    path = tmp_path / "broken.yaml"
    good = EXAMPLE.read_text()
    path.write_text(good.replace("serviceTime: 30ms", "serviceTime: 30 parsecs"))
    with TestClient(create_app(Catalog(str(path)))) as client:
        assert client.get("/api/models").json()["description"] == "broken"
        answer = client.get("/api/model/broken")
        assert answer.status_code == 422 and "serviceTime" in answer.json()["error"]
        text = client.get("/api/model/broken/description").json()["text"]
        problems = client.post("/api/model/broken/validate", json={"text": text}).json()
        line = text.splitlines().index(next(l for l in text.splitlines() if "parsecs" in l)) + 1
        assert [p["line"] for p in problems["problems"]] == [line]
        saved = client.post("/api/model/broken/description", json={"text": good})
        assert saved.status_code == 200 and path.read_text() == good
        assert client.get("/api/model/broken").json()["description"] is True


def test_sweeps_of_a_composed_model_run_on_the_interpreter(setup):
    client, _ = setup
    body = {"output": UTIL, "x": "clients / Base rate", "xs": [150, 300]}
    answer = client.post("/api/model/chain/sweep", json=body)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["labels"][0]) == 2 and "failed" not in answer.json()["counts"]
    too_many = client.post("/api/model/chain/sweep", json={**body, "xs": list(range(11)),
                                                            "y": "Pods lost", "ys": [0] * 11})
    assert too_many.status_code == 422 and "120" in too_many.json()["error"]


def test_a_kernel_compiled_aside_in_a_child_reports_a_description_that_does_not_compose():
    """The child (sdmodels/workbench/compile_aside.py) reads the text it is sent as YAML and
    says whether it compiled; the server then compiles in its thread (not run here: a
    composed kernel takes tens of seconds)."""
    from sdmodels.workbench.compile_aside import compile_in_child
    # a text that looks like a path is YAML to the child (a scalar, not a description)
    assert compile_in_child(str(EXAMPLE), timeout=120) is False


def test_checklist_export_is_sdm_analyze_report_on_one_page(setup):
    """The checklist of the started description, as `sdm analyze` writes it: a chain of
    services that each retry is a retry storm per hop (the description says so), and the
    page carries its pictures inline."""
    import re
    client, _ = setup
    response = client.get("/api/model/chain/checklist.html")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="chain-checklist.html"'
    page = response.text
    for heading in ("Recognised loops", "Dangerous combinations", "Fixes"):
        assert f"<h2>{heading}</h2>" in page
    assert "retry storm" in page.lower()
    assert not re.search(r"""(src|href)=['"](?!data:)""", page) and "data:image/" in page


@pytest.mark.parametrize("name", ["hands_on", "queue_workers", "service_chain"])
def test_every_slider_default_of_the_examples_is_accepted_back(name):
    """The page sends every slider's default back on its first run: none may be refused
    (queue_workers' page opened on its own retry Jitter = 2 refused as a switch)."""
    from sdmodels.workbench.system import DescriptionFile
    from sdmodels.workbench.values import read_value
    example = Path(__file__).resolve().parents[1] / "examples" / f"{name}.yaml"
    wb = DescriptionFile(example).build(warm=False)
    for spec in wb.parameters:
        assert read_value(spec, spec.default, {}) == spec.default, spec.name
    given = {p.name: p.default for p in wb.parameters}
    assert wb.values(given) == given


def test_a_toml_description_opens_validates_and_saves(tmp_path):
    """The same service chain written in TOML: it opens, its problems are placed in the TOML
    text (read as TOML because the file is .toml, whatever the text's first line), and a
    save writes the TOML back."""
    import yaml

    from tests.toml_text import as_toml
    path = tmp_path / "chain.toml"
    path.write_text("# the service chain\n" + as_toml(yaml.safe_load(EXAMPLE.read_text())))
    with TestClient(create_app(Catalog(str(path)))) as client:
        assert client.get("/api/models").json()["first"] == "chain"
        run = client.post("/api/model/chain/run", json={}).json()
        assert late_mean(run, UTIL) == pytest.approx(0.75, rel=0.01)   # as the YAML's
        text = path.read_text().replace('serviceTime = "30ms"', 'serviceTyme = "30ms"')
        line = text.splitlines().index('serviceTyme = "30ms"') + 1
        problems = client.post("/api/model/chain/validate", json={"text": text}).json()
        found = {(p["line"], p["column"], p["path"]) for p in problems["problems"]}
        assert (line, 1, "components.inventory.serviceTyme") in found
        faster = path.read_text().replace('serviceTime = "30ms"', 'serviceTime = "15ms"')
        assert client.post("/api/model/chain/description", json={"text": faster}
                           ).status_code == 200
        assert path.read_text() == faster
