"""The workbench in a notebook: sliders (ipywidgets) over the same `Workbench` the web page
uses, a scenario picker, a pinned "before" run and plots of the key outputs.

    from sdmodels.workbench import widget
    widget("retry_storm")          # or a Model, or a Workbench

Needs ipywidgets (``pip install 'sdmodels[notebook]'``); it is imported only here.
"""
from __future__ import annotations

from sdmodels.errors import SDModelsError


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError:
        raise SDModelsError("the notebook widget needs ipywidgets: pip install ipywidgets "
                            "(or pip install 'sdmodels[notebook]')") from None
    return ipywidgets


def _workbench(model):
    from sdmodels.workbench.session import Workbench
    if isinstance(model, Workbench):
        return model
    if isinstance(model, str):
        return Workbench.open(model)
    return Workbench(model)


class WorkbenchWidget:
    """The widget's state and controls; `box` is what the notebook shows."""

    def __init__(self, model, *, outputs=None):
        w = _ipywidgets()
        self.workbench = _workbench(model)
        self.outputs = list(outputs or self.workbench.key_outputs)
        self.sliders = {}
        for p in self.workbench.parameters:
            slider = w.FloatSlider(value=p.default, min=p.low, max=p.high, step=p.step,
                                   description=p.name, continuous_update=True,
                                   tooltip=f"{p.units} - {p.source}",
                                   style={"description_width": "170px"},
                                   layout=w.Layout(width="430px"))
            slider.observe(self._changed, names="value")
            self.sliders[p.name] = slider
        names = [s["name"] for s in self.workbench.describe()["scenarios"]]
        self.scenario = w.Dropdown(options=["(defaults)", *names], description="Scenario")
        self.scenario.observe(self._scenario, names="value")
        self.pin = w.Button(description="Pin as before")
        self.pin.on_click(lambda _: self.pin_before())
        self.message = w.HTML()
        self.plot = w.Output()
        self.before = None
        self.after = None
        self._quiet = False
        controls = w.VBox(list(self.sliders.values()),
                          layout=w.Layout(max_height="520px", overflow="auto"))
        self.box = w.VBox([w.HBox([self.scenario, self.pin]), self.message,
                           w.HBox([controls, self.plot])])
        self.update()
        self.pin_before()

    def values(self) -> dict[str, float]:
        return {name: s.value for name, s in self.sliders.items()}

    def update(self) -> None:
        """Run with the sliders' values and redraw (an error shows in the widget)."""
        try:
            self.after = self.workbench.run(self.values(), outputs=self.outputs)
        except SDModelsError as exc:
            self.message.value = f"<b style='color:#c0392b'>{exc}</b>"
            return
        self.message.value = ""
        self._draw()

    def pin_before(self) -> None:
        self.before = self.after
        self._draw()

    def _changed(self, _change) -> None:
        if not self._quiet:
            self.update()

    def _scenario(self, change) -> None:
        chosen = {s["name"]: s["values"] for s in self.workbench.describe()["scenarios"]}
        values = chosen.get(change["new"], {})
        self._quiet = True
        try:
            for p in self.workbench.parameters:
                self.sliders[p.name].value = values.get(p.name, p.default)
        finally:
            self._quiet = False
        self.update()

    def _draw(self) -> None:
        from IPython.display import display

        from sdmodels.plotting import figure
        if self.after is None:
            return
        cols = list(self.after["series"])
        fig = figure(6.5, 1.7 * len(cols) + 0.4)
        axes = fig.subplots(len(cols), 1, sharex=True, squeeze=False)[:, 0]
        for ax, col in zip(axes, cols):
            if self.before is not None and col in self.before["series"]:
                ax.plot(self.before["times"], self.before["series"][col], color="#95a5a6",
                        ls="--", lw=1.3, label="before")
            ax.plot(self.after["times"], self.after["series"][col], color="#d35400", lw=1.8,
                    label="after")
            ax.set_title(col, fontsize=9, loc="left")
            ax.tick_params(labelsize=7)
        axes[0].legend(fontsize=7, loc="best")
        axes[-1].set_xlabel(self.workbench.ir.time_units, fontsize=8)
        self.plot.clear_output(wait=True)
        with self.plot:
            display(fig)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.box)


def widget(model, *, outputs=None) -> WorkbenchWidget:
    """An interactive notebook widget for a model (library name, Model, or Workbench)."""
    return WorkbenchWidget(model, outputs=outputs)
