"""Teacup: Newton's cooling, the system-dynamics "hello world" (one balancing loop).

Not a failure model; it is here as the smallest complete example of the DSL, with a
closed-form solution T(t) = room + (T0 - room) * exp(-t / tau) to check the engine against.
"""
from sdmodels import Model


PARAMETERS = {
    "Initial Temperature": (180.0, "degF", "SDXorg test-models samples/teacup"),
    "Room Temperature": (70.0, "degF", "SDXorg test-models samples/teacup"),
    "Characteristic Time": (10.0, "minute", "SDXorg test-models samples/teacup"),
}


def build(**overrides) -> Model:
    """The teacup model; keyword overrides replace constants' defaults by display name."""
    m = Model("teacup", start=0, stop=30, dt=0.125, time_units="minute",
              doc="A cup of tea cooling to room temperature")
    c = m.parameters(PARAMETERS, overrides)
    temp = m.stock("Teacup Temperature", initial=c["Initial Temperature"], units="degF")
    m.flow("Heat Loss", (temp - c["Room Temperature"]) / c["Characteristic Time"], out_of=temp,
           units="degF/minute")
    m.name_loop("Cooling", ["Teacup Temperature", "Heat Loss"])
    m.add_scenario("baseline", {})
    m.add_scenario("cold room", {"Room Temperature": 40.0})
    return m
