"""Ports: parts declare inputs and outputs, wired after creation, units checked."""
import math

import pytest

from sdmodels import Model, ModelError, UnknownNameError, run


def _server():
    """A one-queue server: backlog drains at rate backlog / service time."""
    m = Model("server")
    arrivals = m.input("Arrivals", 0.0, units="req/s", source="wired by the caller")
    service = m.input("Service time", 2.0, units="s", source="assumption")
    backlog = m.stock("Backlog", initial=0, units="req")
    m.flow("Arriving", arrivals, into=backlog, units="req/s")
    done = m.flow("Completed", backlog / service, out_of=backlog, units="req/s")
    m.output(done)
    m.output("Backlog")
    return m


def _client():
    """Sends a fixed demand plus a share of what completes again (a feedback through ports)."""
    m = Model("client")
    demand = m.input("Demand", 10.0, units="req/s", source="assumption")
    completed = m.input("Completed", 0.0, units="req/s", source="wired from the server")
    share = m.input("Repeat share", 0.5, units="1", source="assumption")
    m.output(m.aux("Offered", demand + share * completed, units="req/s"))
    return m


def test_two_parts_that_feed_each_other_are_wired_after_creation():
    top = Model("system", stop=60, dt=0.01)
    server = top.module("server", _server(), display="Server")
    client = top.module("client", _client(), display="Client")
    server.connect("Arrivals", client.out["Offered"])
    client.connect("Completed", server.out["Completed"])
    df = run(top)
    # B' = D + s B / T - B / T: equilibrium B* = D T / (1 - s) = 10 x 2 / 0.5 = 40, time
    # constant T / (1 - s) = 4 s, so B(t) = 40 (1 - exp(-t / 4)); Euler at dt 0.01 is within 0.2 %
    t = 20.0
    expected = 40 * (1 - math.exp(-t / 4))
    assert df["Server / Backlog"].loc[t] == pytest.approx(expected, rel=2e-3)
    assert server.unconnected() == ["Service time"]
    assert sorted(client.unconnected()) == ["Demand", "Repeat share"]


def test_inputs_given_at_creation_go_through_the_same_ports():
    top = Model("system", stop=10, dt=0.1)
    server = top.module("server", _server(), inputs={"Arrivals": 5.0})
    assert server.unconnected() == ["Service time"]
    df = run(top)
    # B' = 5 - B / 2 from 0: B(10) = 10 (1 - exp(-5)), Euler at dt 0.1 within 1 %
    assert df["server / Backlog"].iloc[-1] == pytest.approx(10 * (1 - math.exp(-5)), rel=1e-2)


def test_connecting_ports_with_different_units_names_both():
    top = Model("system")
    server = top.module("server", _server(), display="Server")
    seconds = top.constant("Think time", 3.0, units="seconds")
    with pytest.raises(ModelError, match=r"'Think time' \(seconds\) to input "
                                         r"'Server / Arrivals' \(req/s\)"):
        server.connect("Arrivals", seconds)
    # the same unit spelled another way is accepted
    server.connect("Arrivals", top.constant("Traffic", 3.0, units="requests / second"))


def test_port_errors_say_what_exists():
    top = Model("system")
    server = top.module("server", _server(), display="Server")
    with pytest.raises(UnknownNameError, match=r"'Arival' is not an input.*Did you mean "
                                               r"'Arrivals'.*Inputs: Arrivals, Service time"):
        server.connect("Arival", 1.0)
    with pytest.raises(UnknownNameError, match=r"no output 'Latency'.*Outputs: Completed, "
                                               r"Backlog"):
        server.out["Latency"]
    server.connect("Arrivals", 1.0)
    with pytest.raises(ModelError, match="already connected"):
        server.connect("Arrivals", 2.0)


def test_a_model_without_declared_ports_exposes_its_constants():
    sub = Model("plain")
    k = sub.constant("Rate", 1.0)
    sub.stock("Level", initial=0)
    sub.flow("Fill", k, into="Level")
    top = Model("system", stop=4, dt=1)
    handle = top.module("plain", sub, inputs={"Rate": 2.0})
    assert set(handle.inputs) == {"Rate"} and handle.outputs == {}
    assert run(top)["plain / Level"].iloc[-1] == pytest.approx(8.0)
