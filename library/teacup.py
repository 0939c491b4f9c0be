"""Teacup: Newton's cooling, the system-dynamics "hello world" (one balancing loop).

Not a failure model; it is here as the smallest complete example of the DSL, with a
closed-form solution T(t) = room + (T0 - room) * exp(-t / tau) to check the engine against.
"""
from sdmodels import Model


def build(**overrides) -> Model:
    """The teacup model; keyword overrides replace constants' defaults by display name."""
    p = {"Room Temperature": 70.0, "Characteristic Time": 10.0, "Initial Temperature": 180.0}
    p.update(overrides)
    m = Model("teacup", start=0, stop=30, dt=0.125, time_units="minute",
              doc="A cup of tea cooling to room temperature")
    t0 = m.constant("Initial Temperature", p["Initial Temperature"], units="degF")
    temp = m.stock("Teacup Temperature", initial=t0, units="degF")
    room = m.constant("Room Temperature", p["Room Temperature"], units="degF")
    tau = m.constant("Characteristic Time", p["Characteristic Time"], units="minute")
    m.flow("Heat Loss", (temp - room) / tau, out_of=temp, units="degF/minute")
    m.name_loop("Cooling", ["Teacup Temperature", "Heat Loss"])
    m.add_scenario("baseline", {})
    m.add_scenario("cold room", {"Room Temperature": 40.0})
    return m
