"""Results of a simulation: a (runs, times, variables) array with its labels.

One run reads naturally as a pandas DataFrame indexed by time; many runs as an xarray
Dataset with dims (run, time) plus the parameter table as coordinates along `run`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sdmodels.errors import UnknownNameError, did_you_mean


@dataclass(frozen=True)
class Results:
    """What `simulate` returns. ``data[run, time, column]``."""
    model: str
    times: np.ndarray
    data: np.ndarray
    columns: tuple[str, ...]
    param_values: dict              # name -> (runs,) values of the parameters that were set
    seeds: np.ndarray               # the random seed of each run
    time_units: str = "time"
    failures: dict = field(default_factory=dict)   # run -> why it stopped (on_failure="mark")
    column_index: pd.Index | None = field(default=None, repr=False, compare=False)  # of columns

    @property
    def params(self) -> pd.DataFrame:
        """One row per run: the parameters that were set, and the seed."""
        return pd.DataFrame({**self.param_values, "seed": self.seeds})

    @property
    def runs(self) -> int:
        return self.data.shape[0]

    def __getitem__(self, name: str) -> np.ndarray:
        """The (runs, times) series of one column, by display name."""
        return self.data[:, :, self._column(name)]

    def _column(self, name: str) -> int:
        try:
            return self.columns.index(name)
        except ValueError:
            lowered = [c.lower() for c in self.columns]
            if name.lower() in lowered:
                return lowered.index(name.lower())
            raise UnknownNameError(f"no output named '{name}' in these results of "
                                   f"'{self.model}'.{did_you_mean(name, self.columns)}") from None

    def to_pandas(self, run: int = 0, *, copy: bool = True) -> pd.DataFrame:
        """One run as a DataFrame: time index, one column per variable.

        copy=False shares the values with these Results (what `run` does, as it keeps no
        other reference): five times cheaper for a small model. Column labels are plain
        Python strings (an object index), which pandas builds far faster than arrow strings.
        """
        if not isinstance(run, (int, np.integer)) or not -self.runs <= run < self.runs:
            raise IndexError(f"run {run!r} is not in these results of '{self.model}': they "
                             f"hold runs 0 to {self.runs - 1}")
        columns = self.column_index.view() if self.column_index is not None else \
            pd.Index(self.columns, dtype=object)    # a view: its own name, shared labels
        frame = pd.DataFrame(self.data[run], index=pd.Index(self.times, name="time", copy=copy),
                             columns=columns, copy=copy)
        frame.attrs.update(model=self.model, time_units=self.time_units)
        return frame

    def to_xarray(self):
        """All runs as an xarray Dataset with dims (run, time); parameters as coordinates.

        A constant that was set per run appears once, as a coordinate along `run`.
        """
        import xarray as xr
        coords = {"run": np.arange(self.runs), "time": self.times}
        for name in self.params.columns:
            coords[name] = ("run", self.params[name].to_numpy())
        ds = xr.Dataset({c: (("run", "time"), self.data[:, :, i])
                         for i, c in enumerate(self.columns) if c not in coords}, coords=coords)
        ds.attrs.update(model=self.model, time_units=self.time_units)
        return ds

    def long(self) -> pd.DataFrame:
        """Long form: one row per (run, time, variable)."""
        runs, times, cols = self.data.shape
        return pd.DataFrame({
            "run": np.repeat(np.arange(runs), times * cols),
            "time": np.tile(np.repeat(self.times, cols), runs),
            "variable": np.tile(np.array(self.columns, dtype=object), runs * times),
            "value": self.data.reshape(-1),
        })

    def _repr_html_(self) -> str:
        from sdmodels.workbench.display import results_html
        return results_html(self)

    def final(self) -> pd.DataFrame:
        """The last saved value of every column, one row per run."""
        return pd.DataFrame(self.data[:, -1, :], columns=list(self.columns))
