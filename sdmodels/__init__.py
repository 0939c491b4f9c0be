"""sdmodels: system-dynamics models of software-operations failures.

DSL (Model) -> build -> ModelIR -> prepare (tape, interpreted) or compile (Kernel) -> simulate
-> Results. Importing the package is quick: modules that pull in networkx, pandas, numba or
graphviz load when one of their names is first used (PEP 562 `__getattr__`).
"""
from sdmodels.compile import Kernel, compile
from sdmodels.elements import (Aux, Constant, DelayLine, Dim, Flow, Lookup, Rolling, SampleHold,
                               Stock, canonical)
from sdmodels.errors import (AlgebraicLoopError, CacheWarning, DimensionError,
                             DuplicateNameError, EquationSyntaxError, ImportModelError,
                             LimitError, ModelError, ModelWarning, OutputError, SDModelsError,
                             SimulationError, UnknownNameError, VensimSyntaxError)
from sdmodels.expr import (delay1, delay3, delay_fixed, delayn, erlang_b, exp, if_then_else, ln,
                           max_over, maximum, mean_over, min_over, minimum, modulo, prod_over,
                           pulse, pulse_train, ramp, random_exponential, random_normal,
                           random_uniform, rolling_max, rolling_min, sample_hold, smooth, smooth3,
                           smoothn, sqrt, step, sum_over, trend, xidz, zidz)
from sdmodels.model import Model
from sdmodels.parse import parse_equation
from sdmodels.simulate import run, simulate

__version__ = "0.1.0"

# name -> module, imported on first use (names equal to a submodule's, such as compile and
# simulate, must stay eager above: importing the submodule would shadow a lazy name)
_LAZY = {"ModelIR": "sdmodels.ir", "build": "sdmodels.ir", "Results": "sdmodels.results",
         "Program": "sdmodels.tape", "prepare": "sdmodels.tape",
         "Limits": "sdmodels.limits", "use_limits": "sdmodels.limits",
         "causal_graph": "sdmodels.analysis", "dominance": "sdmodels.analysis",
         "find_loops": "sdmodels.analysis", "fit": "sdmodels.analysis",
         "link_polarities": "sdmodels.analysis", "to_graphviz": "sdmodels.render",
         "check_units": "sdmodels.units", "UnitIssue": "sdmodels.units"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sdmodels' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AlgebraicLoopError", "Aux", "Constant", "DelayLine", "Dim", "DimensionError",
    "DuplicateNameError", "EquationSyntaxError", "Flow", "ImportModelError", "Kernel", "Lookup",
    "Model", "ModelError", "ModelIR", "ModelWarning", "Program", "Results", "Rolling",
    "SDModelsError", "SampleHold", "SimulationError", "Stock", "UnknownNameError",
    "VensimSyntaxError", "build",
    "canonical", "compile", "delay1", "delay3", "delay_fixed", "delayn", "erlang_b", "exp",
    "if_then_else",
    "ln", "max_over", "maximum", "mean_over", "min_over", "minimum", "modulo", "parse_equation",
    "prepare", "prod_over", "pulse", "pulse_train", "ramp", "random_exponential",
    "random_normal", "random_uniform", "rolling_max", "rolling_min", "run", "sample_hold",
    "simulate", "smooth", "smooth3", "smoothn", "sqrt", "step", "sum_over", "trend", "xidz",
    "zidz", "causal_graph", "dominance", "find_loops", "link_polarities", "to_graphviz",
    "CacheWarning", "LimitError", "Limits", "OutputError", "use_limits",
    "check_units", "UnitIssue", "fit",
]
