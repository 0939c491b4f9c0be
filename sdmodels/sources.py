"""Find a model from what a user typed: a library name, a .py file, or a model file."""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import pkgutil
import traceback
from pathlib import Path

from sdmodels.errors import ModelError, SDModelsError, UnknownNameError, did_you_mean
from sdmodels.model import Model

MODEL_FILE_SUFFIXES = (".mdl", ".xmile", ".xml", ".stmx", ".itmx")
#: system descriptions (sdmodels.system), composed from the library's parts
SYSTEM_FILE_SUFFIXES = (".yaml", ".yml", ".toml")


def library_names() -> list[str]:
    """Names of the library's model modules, found without importing them."""
    import library
    return sorted(i.name for i in pkgutil.iter_modules(library.__path__)
                  if not i.name.startswith("_") and not i.ispkg)   # parts, compose: not models


def library_models() -> dict[str, str]:
    """Library model names with the first line of each module's docstring."""
    out = {}
    for name in library_names():
        module = importlib.import_module(f"library.{name}")
        if hasattr(module, "build"):
            out[name] = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
    return out


def load_model(spec: str, **overrides):
    """A Model (or ModelIR for imported files) from a library name or a path.

    A `.py` path must define `build(**overrides) -> Model`; it is the user's own code and is
    imported as such. Vensim/XMILE files go through `sdmodels.interop`; a system description
    (.yaml/.yml/.toml) is composed from the library's parts (`library.compose`).
    """
    path = Path(spec)
    if path.suffix.lower() in SYSTEM_FILE_SUFFIXES:
        existing_file(path, "system description")
        from library.compose import build as compose_build
        return _checked(compose_build(path, **overrides), spec)
    if path.suffix.lower() in MODEL_FILE_SUFFIXES:
        existing_file(path, "model file")
        from sdmodels.interop import import_model
        from sdmodels.limits import DATA_FILES_ENV     # sdm ... --data-file FILE
        files = [f for f in os.environ.get(DATA_FILES_ENV, "").split(os.pathsep) if f]
        return import_model(path, data_files=files) if files else import_model(path)
    if path.suffix == ".py":
        existing_file(path, "model file")
        module_spec = importlib.util.spec_from_file_location(f"sdm_user_{path.stem}", path)
        module = importlib.util.module_from_spec(module_spec)
        with _user_code(path):
            module_spec.loader.exec_module(module)
        if not hasattr(module, "build"):
            raise ModelError(f"'{spec}' defines no build() function; add "
                             "def build(**overrides) -> Model")
        with _user_code(path):
            return _checked(module.build(**overrides), spec)
    if spec not in library_names() and path.exists():
        kind = "a folder" if path.is_dir() else f"a '{path.suffix or 'suffix-less'}' file"
        raise ModelError(f"'{spec}' is {kind}, not a model: give a library model name (sdm "
                         f"list), a .py file with build(), a model file "
                         f"({', '.join(MODEL_FILE_SUFFIXES)}) or a system description "
                         f"({', '.join(SYSTEM_FILE_SUFFIXES)})")
    names = library_names()
    if spec not in names:
        raise UnknownNameError(f"'{spec}' is neither a library model nor a model file (.py, "
                               f"{', '.join(MODEL_FILE_SUFFIXES)}).{did_you_mean(spec, names)} "
                               f"Library models: {', '.join(names) or 'none yet'}")
    module = importlib.import_module(f"library.{spec}")
    return _checked(module.build(**overrides), spec)


def existing_file(spec, what: str) -> Path:
    """`spec` as the Path of a file that exists, else a ModelError saying what is wrong.

    >>> existing_file("/", "model file")
    Traceback (most recent call last):
    ...
    sdmodels.errors.ModelError: model file '/' is a folder, not a file; give the path of the file itself
    """
    path = Path(spec)
    if path.is_dir():
        raise ModelError(f"{what} '{spec}' is a folder, not a file; give the path of the file "
                         "itself")
    if not path.exists():
        raise ModelError(f"{what} '{spec}' does not exist; check the path")
    return path


@contextlib.contextmanager
def _user_code(path: Path):
    """A failure in the user's own .py file as one ModelError naming its file and line."""
    try:
        yield
    except SDModelsError:
        raise
    except SyntaxError as exc:
        raise ModelError(f"{path}, line {exc.lineno}: {exc.msg}; fix the Python syntax "
                         "there") from None
    except Exception as exc:  # the user's code: say where it failed, in their file
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if Path(f.filename).resolve() == path.resolve()]
        where = f", line {frames[-1].lineno}" if frames else ""
        raise ModelError(f"{path}{where}: build() raised {type(exc).__name__}: {exc}; run the "
                         "file in Python to see the full traceback") from None


def _checked(model, spec: str):
    from sdmodels.ir import ModelIR
    if not isinstance(model, (Model, ModelIR)):
        raise ModelError(f"build() of '{spec}' returned {type(model).__name__}, not a Model")
    return model
