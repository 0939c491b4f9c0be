"""Causal-loop analysis: the causal graph, link polarity, feedback loops.

>>> from sdmodels import Model
>>> m = Model("teacup", stop=10)
>>> t = m.stock("Temperature", initial=180)
>>> _ = m.flow("Heat loss", (t - 70) / 10, out_of=t)
>>> print(find_loops(m).to_table())
id  name  type       loop
--  ----  ---------  ---------------------------------------
B1        balancing  Temperature -> Heat loss -> Temperature
1 loop in 'teacup': 0 reinforcing, 1 balancing
"""
from sdmodels.analysis.graph import DelayLink, causal_graph
from sdmodels.analysis.loops import Loop, LoopDelay, LoopSet, find_loops, independent_cycles
from sdmodels.analysis.polarity import LinkPolarity, link_polarities

__all__ = ["DelayLink", "LinkPolarity", "Loop", "LoopDelay", "LoopSet", "causal_graph",
           "find_loops", "independent_cycles", "link_polarities"]
