"""The workbench: a local web page and a notebook widget for modelling sessions.

`sdm workbench MODEL` serves the page (`sdmodels.workbench.server`); `widget(model)` gives
the notebook version; both drive one `Workbench` (`sdmodels.workbench.session`). Web and
notebook packages are imported only when those are used.
"""
from __future__ import annotations

__all__ = ["Workbench", "widget", "serve", "create_app"]


def __getattr__(name: str):
    if name == "Workbench":
        from sdmodels.workbench.session import Workbench
        return Workbench
    if name == "widget":
        from sdmodels.workbench.notebook import widget
        return widget
    if name in ("serve", "create_app"):
        from sdmodels.workbench import server
        return getattr(server, name)
    raise AttributeError(f"module 'sdmodels.workbench' has no attribute {name!r}")
