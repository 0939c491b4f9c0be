"""Causal-loop analysis: the causal graph, link polarity, feedback loops, loop dominance.

>>> from sdmodels import Model
>>> m = Model("teacup", stop=10)
>>> t = m.stock("Temperature", initial=180)
>>> _ = m.flow("Heat loss", (t - 70) / 10, out_of=t)
>>> print(find_loops(m).to_table())
id  name  type       loop
--  ----  ---------  ----
B1        balancing  Temperature -> Heat loss -> Temperature
1 loop in 'teacup' (all found, cap 5000): 0 reinforcing, 1 balancing
"""
from sdmodels.analysis.discovery import discover_loops
from sdmodels.analysis.dominance import dominance
from sdmodels.analysis.dominance_result import Dominance
from sdmodels.analysis.fitting import Fit, fit
from sdmodels.analysis.graph import DelayLink, causal_graph
from sdmodels.analysis.loops import Loop, LoopDelay, LoopSet, find_loops, independent_cycles
from sdmodels.analysis.phases import phases
from sdmodels.analysis.polarity import LinkPolarity, link_polarities

__all__ = ["DelayLink", "Dominance", "Fit", "LinkPolarity", "Loop", "LoopDelay", "LoopSet",
           "causal_graph", "discover_loops", "dominance", "find_loops", "fit",
           "independent_cycles",
           "link_polarities", "phases"]
