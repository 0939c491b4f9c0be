"""The workbench's report exports: the postmortem page of the values on the sliders, and the
checklist report of a system description, each one self-contained HTML page.

Both are written by the same code as `sdm postmortem` and `sdm analyze`, into a temporary
folder that is removed afterwards: the page keeps its pictures inline, so nothing else is
needed to read it.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Mapping


def postmortem_page(workbench, values: Mapping[str, object] | None = None) -> bytes:
    """`sdm postmortem`'s page for the model of `workbench` with these slider values (names
    and values checked as a run's are): which loop drove its key variable, and when."""
    from sdmodels.postmortem import write_postmortem
    params = workbench.values(values)
    with tempfile.TemporaryDirectory(prefix="sdmodels-postmortem-") as folder:
        page = write_postmortem(workbench.ir, folder, params=params or None,
                                model_name=workbench.ir.name)
        return page.read_bytes()


def checklist_page(description_path) -> bytes:
    """`sdm analyze`'s checklist report of the system description at this path (its loops,
    dangerous combinations, stress runs and fixes, simulated)."""
    from sdmodels.system.analyze import analyze
    analysis = analyze(Path(description_path), fixes=True, progress=False)
    with tempfile.TemporaryDirectory(prefix="sdmodels-checklist-") as folder:
        analysis.write(folder)
        return (Path(folder) / "report.html").read_bytes()
