"""The public API is flat and pinned: a change to it must change this list too."""
import sdmodels

EXPECTED = {
    "AlgebraicLoopError", "Aux", "Constant", "DelayLine", "Dim", "DimensionError",
    "DuplicateNameError", "EquationSyntaxError", "Flow", "ImportModelError", "Kernel", "Lookup",
    "Model", "ModelError", "ModelIR", "ModelWarning", "Program", "Results", "Rolling", "SDModelsError",
    "SampleHold", "SimulationError", "Stock", "UnknownNameError", "VensimSyntaxError", "build",
    "canonical", "compile",
    "delay1", "delay3", "delay_fixed", "delayn", "erlang_b", "exp", "if_then_else", "ln",
    "max_over",
    "maximum", "mean_over", "min_over", "minimum", "modulo", "parse_equation", "prepare", "prod_over",
    "pulse", "pulse_train", "ramp", "random_exponential", "random_normal", "random_uniform",
    "rolling_max", "rolling_min", "run", "sample_hold", "simulate", "smooth", "smooth3",
    "smoothn", "sqrt", "step", "sum_over", "trend", "xidz", "zidz",
    "causal_graph", "dominance", "find_loops", "link_polarities", "to_graphviz",
    "CacheWarning", "LimitError", "Limits", "OutputError", "use_limits",
    "check_units", "UnitIssue", "fit",
}


def test_all_is_pinned():
    assert set(sdmodels.__all__) == EXPECTED


def test_every_exported_name_exists():
    missing = [name for name in sdmodels.__all__ if not hasattr(sdmodels, name)]
    assert missing == []
