"""The abstract structures sdmodels' .mdl reader builds: pysd's, as light dataclasses.

Same class names and fields as pysd's `translators.structures.abstract_expressions` and
`abstract_model`, so sdmodels/interop/abstract.py (which dispatches on the class name) maps
either reader's output, and `reader.same_abstract` compares them. Kept here because importing
pysd's modules imports the whole pysd package (xarray, openpyxl, pandas: 0.4-2 s), which a
plain .mdl import never needs; pysd is loaded only with SDMODELS_MDL_PARSER=pysd or for
external data (GET XLS ...).

`SPECIAL` is pysd's table of Vensim functions read into dedicated structures (INTEG, DELAY1,
SMOOTH, GET XLS, ...; pysd's `vensim_structures.structures`), with the same arguments.

>>> SPECIAL["delay1"](ReferenceStructure("x"), 3)
DelayStructure(input=ReferenceStructure(reference='x', subscripts=None), delay_time=3, \
initial=ReferenceStructure(reference='x', subscripts=None), order=1)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class AbstractSyntax:
    """Base of the expression structures."""


def _structure(name: str, *fields: str, defaults: tuple = ()):
    """A dataclass `name` with `fields` (the last ones taking `defaults`), as pysd declares."""
    plain = fields[:len(fields) - len(defaults)]
    namespace = {"__annotations__": {f: object for f in fields}, "__module__": __name__,
                 **dict(zip(fields[len(plain):], defaults))}
    return dataclass(type(name, (AbstractSyntax,), namespace))


ArithmeticStructure = _structure("ArithmeticStructure", "operators", "arguments")
LogicStructure = _structure("LogicStructure", "operators", "arguments")
SubscriptsReferenceStructure = _structure("SubscriptsReferenceStructure", "subscripts")
ReferenceStructure = _structure("ReferenceStructure", "reference", "subscripts",
                                defaults=(None,))
CallStructure = _structure("CallStructure", "function", "arguments")
GameStructure = _structure("GameStructure", "expression")
AllocateAvailableStructure = _structure("AllocateAvailableStructure", "request", "pp", "avail")
AllocateByPriorityStructure = _structure("AllocateByPriorityStructure", "request", "priority",
                                         "size", "width", "supply")
InitialStructure = _structure("InitialStructure", "initial")
IntegStructure = _structure("IntegStructure", "flow", "initial", "non_negative",
                            defaults=(False,))
DelayStructure = _structure("DelayStructure", "input", "delay_time", "initial", "order")
DelayNStructure = _structure("DelayNStructure", "input", "delay_time", "initial", "order")
DelayFixedStructure = _structure("DelayFixedStructure", "input", "delay_time", "initial")
SmoothStructure = _structure("SmoothStructure", "input", "smooth_time", "initial", "order")
SmoothNStructure = _structure("SmoothNStructure", "input", "smooth_time", "initial", "order")
TrendStructure = _structure("TrendStructure", "input", "average_time", "initial_trend")
ForecastStructure = _structure("ForecastStructure", "input", "average_time", "horizon",
                               "initial_trend")
SampleIfTrueStructure = _structure("SampleIfTrueStructure", "condition", "input", "initial")
LookupsStructure = _structure("LookupsStructure", "x", "y", "x_limits", "y_limits", "type")
InlineLookupsStructure = _structure("InlineLookupsStructure", "argument", "lookups")
DataStructure = _structure("DataStructure")
GetLookupsStructure = _structure("GetLookupsStructure", "file", "tab", "x_row_or_col", "cell")
GetDataStructure = _structure("GetDataStructure", "file", "tab", "time_row_or_col", "cell")
GetConstantsStructure = _structure("GetConstantsStructure", "file", "tab", "cell")

def _of_order(cls, order: int, *, initial: bool):
    """DELAY1 / SMOOTH3 ...: (input, time) with the input as the initial value, or with an
    initial value given (DELAY1I)."""
    if initial:
        return lambda x, y, z: cls(x, y, z, order)
    return lambda x, y: cls(x, y, x, order)


SPECIAL = {
    "game": GameStructure,
    "allocate_available": AllocateAvailableStructure,
    "allocate_by_priority": AllocateByPriorityStructure,
    "get_xls_lookups": GetLookupsStructure,
    "get_direct_lookups": GetLookupsStructure,
    "get_xls_data": GetDataStructure,
    "get_direct_data": GetDataStructure,
    "get_xls_constants": GetConstantsStructure,
    "get_direct_constants": GetConstantsStructure,
    "initial": InitialStructure,
    "integ": IntegStructure,
    **{name + i: _of_order(cls, order, initial=bool(i))
       for name, cls, order in (("delay1", DelayStructure, 1), ("delay3", DelayStructure, 3),
                                ("smooth", SmoothStructure, 1), ("smooth3", SmoothStructure, 3))
       for i in ("", "i")},
    "delay_n": DelayNStructure,
    "delay_fixed": DelayFixedStructure,
    "smooth_n": SmoothNStructure,
    "trend": TrendStructure,
    "forecast": lambda x, y, z: ForecastStructure(x, y, z, 0),
    "sample_if_true": SampleIfTrueStructure,
    "pulse_train": lambda start, width, interval, end: CallStructure(
        ReferenceStructure("pulse_train"), (start, interval, width, end)),
}


# ------------------------------------------------------------------ the model's structure
@dataclass
class AbstractComponent:
    """One equation of an element (its subscripts and :EXCEPT: lists, and its expression)."""
    subscripts: tuple
    ast: object
    type: str = "Auxiliary"
    subtype: str = "Normal"


@dataclass
class AbstractUnchangeableConstant(AbstractComponent):
    """`x == value`."""
    type: str = "Constant"
    subtype: str = "Unchangeable"


@dataclass
class AbstractLookup(AbstractComponent):
    """A lookup definition `x(table)` or `x = GET XLS LOOKUPS(...)`."""
    arguments: str = "x"
    type: str = "Lookup"
    subtype: str = "Hardcoded"


@dataclass
class AbstractData(AbstractComponent):
    """A data variable (`x :INTERPOLATE: := ...`, or no equation)."""
    keyword: str | None = None
    type: str = "Data"
    subtype: str = "Normal"


@dataclass
class AbstractElement:
    """A variable: its name and its components (one per subscript block)."""
    name: str
    components: list
    units: str = ""
    limits: tuple = (None, None)
    documentation: str = ""


@dataclass
class AbstractControlElement(AbstractElement):
    """INITIAL TIME, FINAL TIME, TIME STEP or SAVEPER."""


@dataclass
class AbstractSubscriptRange:
    """A subscript range: its elements (a list, the range it copies, or a GET XLS dict)."""
    name: str
    subscripts: object
    mapping: list


@dataclass
class AbstractConstraint:
    """A reality check's `:THE CONDITION:` (kept as text)."""
    name: str
    subscripts: object
    expression: str


@dataclass
class AbstractTestInput:
    """A reality check's `:TEST INPUT:` (kept as text)."""
    name: str
    subscripts: object
    expression: str


@dataclass
class AbstractSection:
    """The main model or one macro."""
    name: str
    path: Path
    type: str
    params: list
    returns: list
    subscripts: list
    elements: list
    constraints: list
    test_inputs: list
    split: bool
    views_dict: dict | None


@dataclass
class AbstractModel:
    """A whole .mdl file: the main section and its macros."""
    original_path: Path
    sections: tuple
