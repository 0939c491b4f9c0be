"""The result of a loop-dominance run (`sdmodels.analysis.dominance.dominance`): loop scores
and relative scores over time, in tidy and summary form, and the phases they make.

>>> runs_as([0.0, 0.5, -0.2])
'R/B'
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Dominance:
    """Loop scores of one run: `scores` and `relative` are DataFrames (time x loop id)."""
    model: str
    scenario: str | None
    loops: tuple                        # the Loop objects scored, column order
    scores: pd.DataFrame
    relative: pd.DataFrame
    partitions: tuple[int, ...]         # cycle partition of each loop
    links: dict = field(default_factory=dict, repr=False)   # (cause, effect) -> scores
    variables: pd.DataFrame | None = field(default=None, repr=False)  # behaviour, same times
    notices: tuple[str, ...] = ()
    ir: object = field(default=None, repr=False, compare=False)

    def label(self, loop_id: str) -> str:
        """'R1 Retry storm' or 'R1'."""
        loop = next(l for l in self.loops if l.id == loop_id)
        return f"{loop.id} {loop.name}" if loop.name else loop.id

    def to_pandas(self) -> pd.DataFrame:
        """Tidy: one row per (time, loop): scenario, name, polarity (from the equations),
        runs_as (R or B: the sign of the score then; '' when 0), score, relative."""
        meta = pd.DataFrame({"loop": [l.id for l in self.loops],
                             "name": [l.name or "" for l in self.loops],
                             "polarity": [l.polarity for l in self.loops]})
        score = self.scores.rename_axis("time").reset_index().melt(
            id_vars="time", var_name="loop", value_name="score")
        rel = self.relative.rename_axis("time").reset_index().melt(
            id_vars="time", var_name="loop", value_name="relative")
        out = score.merge(rel, on=["time", "loop"]).merge(meta, on="loop")
        out.insert(0, "scenario", self.scenario or "baseline")
        # the sign the loop ran with at that time: what a U loop was, step by step
        out["runs_as"] = np.select([out["score"] > 0, out["score"] < 0], ["R", "B"], "")
        return out[["scenario", "time", "loop", "name", "polarity", "runs_as", "score",
                    "relative"]]

    def summary(self) -> pd.DataFrame:
        """One row per loop: the signs it ran with (runs_as: R, B, or R/B for a loop whose
        sign turned with the operating point; '' if it never scored), its polarity from
        the equations, mean and peak |relative score|, sorted by mean; the memories of
        discrete elements (`phases.state_memory`) are left out."""
        from sdmodels.analysis.phases import state_memory
        rel = self.relative
        ran = [runs_as(rel[c]) for c in rel.columns]
        frame = pd.DataFrame({"loop": rel.columns,
                              "name": [l.name or "" for l in self.loops],
                              "runs_as": ran,
                              "polarity": [l.polarity for l in self.loops],
                              "mean_abs_relative": rel.abs().mean().to_numpy(),
                              "peak_abs_relative": rel.abs().max().to_numpy()})
        frame = frame[np.array([not state_memory(l) for l in self.loops], dtype=bool)]
        return frame.sort_values(["mean_abs_relative", "loop"], ascending=[False, True],
                                 kind="stable").reset_index(drop=True)

    def phases(self, variable: str | None = None, *, threshold: float = 0.5,
               min_fraction: float = 0.02):
        """Time spans in which one loop or a set explains most of the behaviour.

        See `sdmodels.analysis.phases.phases` for the rule.
        """
        from sdmodels.analysis.phases import phases
        return phases(self, variable, threshold=threshold, min_fraction=min_fraction)


def runs_as(scores) -> str:
    """The signs a loop ran with, from its scores over time: 'R', 'B', 'R/B' (a loop whose
    sign turned with the operating point) or '' (it never scored).

    >>> runs_as(np.array([0.0, 0.5, -0.2])), runs_as(np.zeros(3))
    ('R/B', '')
    """
    values = np.asarray(scores)
    return "/".join(sign for sign, hit in (("R", (values > 0).any()), ("B", (values < 0).any()))
                    if hit)


def explained_variable(ir, variable: str) -> str:
    """The display name of `variable` for a story of which loop drove it: an
    UnknownNameError (did you mean) for a typo, a ModelError for a constant, which has no
    behaviour to explain; checked before the runs, not after.

    >>> from sdmodels import Model, build
    >>> m = Model("decay", stop=2, dt=0.5)
    >>> s = m.stock("Amount", initial=100)
    >>> _ = m.flow("Outflow", s / m.constant("Lifetime", 1), out_of=s)
    >>> explained_variable(build(m), "amount")
    'Amount'
    """
    from sdmodels.elements import Constant
    from sdmodels.errors import ModelError
    key = ir.id_of(variable, "variable")
    if isinstance(ir.variables[key], Constant):
        raise ModelError(f"'{ir.display(key)}' is a constant of model '{ir.name}': it has no "
                         "behaviour to explain; give a stock, flow or auxiliary")
    return ir.display(key)
