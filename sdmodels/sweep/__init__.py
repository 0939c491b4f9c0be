"""Batch parameter sweeps: designs, metrics, behaviour labels, a resumable runner, plots, report.

>>> from sdmodels.sweep import SweepSpec, parse_vary, design_table
>>> len(design_table(SweepSpec(model="teacup", factors=parse_vary(["Room Temperature=60,70"]))))
2
"""
from sdmodels.sweep.design import (LabelOptions, Levels, Sampled, SweepError, SweepSpec,
                                   design_table, load_sweep, parse_vary)
from sdmodels.sweep.labels import LABELS, classify
from sdmodels.sweep.metrics import Metric, compute_metrics, parse_metric

__all__ = ["LABELS", "LabelOptions", "Levels", "Metric", "Sampled", "SweepError", "SweepSpec",
           "classify", "compute_metrics", "design_table", "load_sweep", "parse_metric",
           "parse_vary"]
