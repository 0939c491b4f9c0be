"""sdmodels: system-dynamics models of software-operations failures.

DSL (Model) -> build -> ModelIR -> compile -> Kernel -> simulate -> Results.
"""
from sdmodels.compile import Kernel, compile
from sdmodels.elements import (Aux, Constant, DelayLine, Dim, Flow, Lookup, Rolling, SampleHold,
                               Stock, canonical)
from sdmodels.errors import (AlgebraicLoopError, CacheWarning, DimensionError,
                             DuplicateNameError, EquationSyntaxError, ImportModelError,
                             LimitError, ModelError, ModelWarning, OutputError, SDModelsError,
                             SimulationError, UnknownNameError)
from sdmodels.expr import (delay1, delay3, delay_fixed, delayn, exp, if_then_else, ln, max_over,
                           maximum, mean_over, min_over, minimum, modulo, prod_over, pulse,
                           pulse_train, ramp, random_exponential, random_normal, random_uniform,
                           rolling_max, rolling_min, sample_hold, smooth, smooth3, smoothn, sqrt,
                           step, sum_over, trend, xidz, zidz)
from sdmodels.ir import ModelIR, build
from sdmodels.limits import Limits, use_limits
from sdmodels.model import Model
from sdmodels.parse import parse_equation
from sdmodels.results import Results
from sdmodels.simulate import run, simulate
from sdmodels.analysis import causal_graph, find_loops, link_polarities  # noqa: E402
from sdmodels.render import to_graphviz  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "AlgebraicLoopError", "Aux", "Constant", "DelayLine", "Dim", "DimensionError",
    "DuplicateNameError", "EquationSyntaxError", "Flow", "ImportModelError", "Kernel", "Lookup",
    "Model", "ModelError", "ModelIR", "ModelWarning", "Results", "Rolling", "SDModelsError",
    "SampleHold", "SimulationError", "Stock", "UnknownNameError", "build", "canonical", "compile",
    "delay1", "delay3", "delay_fixed", "delayn", "exp", "if_then_else", "ln", "max_over",
    "maximum", "mean_over", "min_over", "minimum", "modulo", "parse_equation", "prod_over",
    "pulse", "pulse_train", "ramp", "random_exponential", "random_normal", "random_uniform",
    "rolling_max", "rolling_min", "run", "sample_hold", "simulate", "smooth", "smooth3",
    "smoothn", "sqrt", "step", "sum_over", "trend", "xidz", "zidz",
    "causal_graph", "find_loops", "link_polarities", "to_graphviz",
    "CacheWarning", "LimitError", "Limits", "OutputError", "use_limits",
]
