"""The system description a workbench was started with: its text, its problems as the page
types (every problem with its line and column), and saving: the text is validated and
composed into a model first, and only then written, atomically, to that one file.

Nothing here takes a path from the page: the file is the one given on the command line.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "shop.yaml").write_text("system: shop\\n")
>>> d = DescriptionFile(folder / "shop.yaml")
>>> [(p["line"], p["column"], p["path"]) for p in d.problems("system: shop\\nparts: {}\\n")]
[(1, 1, 'components'), (1, 1, 'calls'), (2, 1, 'parts')]
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sdmodels.errors import ModelError
from sdmodels.system import Problem, SystemDescriptionError, load_system


def _as_text(text: str) -> str:
    """Text as `load_system` must read it: as text, never as a path (a one-line text ending in
    .yaml would be opened as a file)."""
    if not isinstance(text, str):
        raise ModelError("a system description is text")
    return text if text.endswith("\n") else text + "\n"


def _problem_dict(p: Problem) -> dict:
    return {"line": p.line, "column": p.column, "path": p.path, "message": p.message}


class DescriptionFile:
    """One system description file: read, checked, composed and saved by the workbench."""

    def __init__(self, path):
        self.path = Path(path).resolve()
        self.name = self.path.name
        self.key = self.path.stem

    def text(self) -> str:
        """The file's text as it is on disk now."""
        try:
            return self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"cannot read system description '{self.path}': {exc}") from None

    def check(self, text: str):
        """The validated `SystemSpec` of the text, or SystemDescriptionError with every
        problem; components of a kind that cannot be composed yet are problems too, at
        their line."""
        from library.compose import KINDS
        try:
            spec = load_system(_as_text(text), toml=self.path.suffix.lower() == ".toml")
        except SystemDescriptionError as exc:
            raise SystemDescriptionError(self.name, exc.problems) from None
        missing = [Problem(c.line, 1, f"components.{c.name}.kind",
                           f"a component of kind '{c.kind}' cannot be composed yet (composable: "
                           f"{', '.join(KINDS)}); the workbench needs a model to run")
                   for c in spec.components.values() if c.kind not in KINDS]
        if missing:
            raise SystemDescriptionError(self.name, missing)
        return spec

    def problems(self, text: str) -> list[dict]:
        """Every problem of the text (line, column, path, message); [] when it validates."""
        try:
            self.check(text)
        except SystemDescriptionError as exc:
            return [_problem_dict(p) for p in exc.problems]
        return []

    def build(self, text: str | None = None, *, warm: bool = True):
        """The Workbench of the text (default: the file's); `warm` runs it once. Its kernel
        is taken at once when a description of the same structure was compiled before."""
        from library.compose import compose

        from sdmodels.workbench.session import Workbench
        text = self.text() if text is None else text
        composition = compose(self.check(text))
        return Workbench.of_composition(composition, warm=warm, description=text,
                                        title=f"{composition.spec.name} ({self.name})")

    def save(self, text: str):
        """Compose the text; when it composes, write it to the file (atomically: a
        temporary file in the same folder, then a rename) and return its Workbench (not run
        yet: the caller's first run is the one it shows)."""
        workbench = self.build(text, warm=False)
        self.write(text)
        return workbench

    def write(self, text: str) -> None:
        """Write the text to the file atomically (call it only for text that composed)."""
        mode = self.path.stat().st_mode & 0o777 if self.path.exists() else 0o644
        fd, temporary = tempfile.mkstemp(prefix=f".{self.name}.", suffix=".tmp",
                                         dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def problems_of(error: Exception) -> list[dict]:
    """The problems an error carries for the editor: a description's own, or one at line 1
    for a model that does not compose."""
    if isinstance(error, SystemDescriptionError):
        return [_problem_dict(p) for p in error.problems]
    return [{"line": 1, "column": 1, "path": "(composition)", "message": str(error)}]
