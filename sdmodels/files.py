"""Output files: atomic (never half-written), with the user's umask, and safe as CSV.

>>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise("-1"), neutralise(-1.0)
('\\'=HYPERLINK("http://x")', "'-1", -1.0)
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from sdmodels.errors import OutputError

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)          # elsewhere: read it by setting it, and put it back
    os.umask(mask)
    return mask


def cannot_write(target: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or type(exc).__name__
    return OutputError(f"cannot write '{target}': {reason}; choose a place you can write to "
                       "(for example a folder under your home or the current directory)")


def writable_dir(path: str | os.PathLike) -> Path:
    """Create folder `path` if needed and check a file can be written in it (else OutputError)."""
    path = can_make_dir(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        raise cannot_write(path, exc) from None
    return path


def can_make_dir(path: str | os.PathLike) -> Path:
    """Check, without creating anything, that folder `path` exists or can be made and
    written (else OutputError): for work that runs long before it writes.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "notes.txt").write_text("x")
    >>> can_make_dir(d / "new" / "report").name, sorted(p.name for p in d.iterdir())
    ('report', ['notes.txt'])
    >>> can_make_dir(d / "notes.txt")
    Traceback (most recent call last):
    ...
    sdmodels.errors.OutputError: cannot write into '...notes.txt': it is a file, not a folder; choose a folder you can write to (it is created if missing)
    """
    path = Path(path)
    for parent in (path, *path.parents):
        if not parent.exists():
            continue
        if not parent.is_dir():
            raise OutputError(f"cannot write into '{path}': "
                              f"{'it' if parent == path else repr(str(parent))} is a file, not a "
                              "folder; choose a folder you can write to (it is created if "
                              "missing)")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise cannot_write(path, PermissionError(13, "Permission denied"))
        return path
    return path


def _stream(target: Path) -> bool:
    """Whether `target` is written into rather than replaced: the caller's own descriptor
    (/dev/stdout, /dev/fd/N), a FIFO, a socket, a terminal or /dev/null. Any other device is
    an OutputError: replacing it (as root) would destroy the device node, and writing into
    one a planted link points to (a disk, /dev/mem) is worse."""
    if _descriptor(target) is not None:
        return True
    try:
        info = os.stat(target)
    except OSError:
        return False
    if stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):
        return False
    if stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode):
        return True
    device = (os.major(info.st_rdev), os.minor(info.st_rdev))
    if stat.S_ISCHR(info.st_mode) and (device == (1, 3) or device[0] in _TERMINALS):
        return True
    raise OutputError(f"cannot write '{target}': it is a device, not a file; give a file name "
                      "(or /dev/stdout to print it)")


def _descriptor(target: Path) -> int | None:
    """N when `target` is, or links to, /proc/self/fd/N or /dev/fd/N (/dev/stdout is 1)."""
    path = str(target)
    for _ in range(8):
        for prefix in ("/proc/self/fd/", "/dev/fd/"):
            if path.startswith(prefix) and path[len(prefix):].isdigit():
                return int(path[len(prefix):])
        if not os.path.islink(path):
            return None
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    return None


def is_stdout(target) -> bool:
    """Whether writing `target` writes this process's standard output (-o /dev/stdout):
    then the command's own messages go to stderr, not into the data."""
    try:
        return os.path.samestat(os.stat(target), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False


#: Linux character-device majors of terminals: tty, /dev/tty + console + ptmx, pts
_TERMINALS = {4, 5, *range(136, 144)}


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; move it into place only on success.

    The file gets the mode a plain open() would give it (0666 minus the umask). A folder
    that cannot be written raises OutputError before anything is written.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "out.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> sorted(p.name for p in d.iterdir())
    ['out.txt']
    """
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"cannot write '{target}': it is a folder; give a file name")
    if _stream(target):             # -o /dev/stdout, a FIFO, a terminal: written into
        with tempfile.TemporaryDirectory() as folder:
            tmp_path = Path(folder) / target.name       # the suffix picks the format
            yield tmp_path
            fd = _descriptor(target)
            try:                    # our own stdout at its offset, after what was printed
                sys.stdout.flush()
                with open(tmp_path, "rb") as done, (open(target, "wb") if fd is None else
                                                    os.fdopen(os.dup(fd), "wb")) as out:
                    shutil.copyfileobj(done, out)
            except OSError as exc:
                raise cannot_write(target, exc) from None
        return
    can_make_dir(target.parent)     # a file where a folder should be: say so, not 'File exists'
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise cannot_write(target, exc) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        try:
            os.chmod(tmp_path, 0o666 & ~_umask())
            os.replace(tmp_path, target)
        except OSError as exc:
            raise cannot_write(target, exc) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def neutralise(value):
    """A text cell that a spreadsheet would run as a formula, prefixed with a quote (OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_safe(frame):
    """A copy of a DataFrame whose text headers, index and cells cannot start a formula.

    Numbers are left as they are; only text is changed.

    >>> import pandas as pd
    >>> safe = csv_safe(pd.DataFrame({"=cmd|' /C calc'!A0": [-1.0], "note": ["@SUM(A1)"]}))
    >>> list(safe.columns), float(safe.iloc[0, 0]), safe.iloc[0, 1]
    (["'=cmd|' /C calc'!A0", 'note'], -1.0, "'@SUM(A1)")
    """
    import pandas as pd
    out = frame.copy()
    out.columns = pd.Index([neutralise(c) for c in out.columns], name=neutralise(
        out.columns.name))
    if not pd.api.types.is_numeric_dtype(out.index.dtype):
        out.index = pd.Index([neutralise(v) for v in out.index], name=neutralise(out.index.name))
    else:
        out.index = out.index.rename(neutralise(out.index.name))
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if not pd.api.types.is_numeric_dtype(column.dtype) and \
                not pd.api.types.is_bool_dtype(column.dtype):
            out.isetitem(i, column.map(neutralise))
    return out


def write_csv(frame, target: str | os.PathLike, **options) -> None:
    """Write `frame` as CSV atomically, with formula-like text neutralised."""
    with atomic_path(target) as tmp:
        csv_safe(frame).to_csv(tmp, **options)
