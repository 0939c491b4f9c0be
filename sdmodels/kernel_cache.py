"""The on-disk kernel cache: private, verified, and home to numba's own cache files.

Generated kernels are written as `k_<digest>.py`, where the digest is the SHA-256 of the
source. On load the file is read back and its digest recomputed; a file that does not match
(edited, truncated, replaced) is discarded and rewritten with a `CacheWarning`. The module
is always executed from the verified source held in memory, so nothing appended to a cache
file between the check and the import can run.

The cache lives in `$SDMODELS_CACHE_DIR` (else `$XDG_CACHE_HOME/sdmodels`, else
`~/.cache/sdmodels`), created with mode 0700. A directory that someone else owns or that
group or others may write is not used (a `CacheWarning` says how to fix it): kernels are
then compiled in memory only. Numba's cache files (pickles: whoever can write them can run
code) go to `<cache>/numba` through `njit(cache=True)` of this module, never into the
package's `__pycache__`.

Numba keys a function's cached machine code by its own file only. Here the key also holds
the function's module name and the sources of every sdmodels module its file imports
(transitively: `dependency_digest`), so an edit to a helper a kernel calls (`_runtime.py`,
`_interpreter.py`...) compiles the kernel afresh instead of loading code built against the
old helper, or against a module name that no longer exists. A cache entry that still fails
to load is compiled again with a one-line `CacheWarning`, never an error.

>>> kernel_file_ok(b"x = 1\\n", digest_of("x = 1\\n"))
True
>>> kernel_file_ok(b"x = 1\\nimport os\\n", digest_of("x = 1\\n"))
False
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import stat
import sys
import tempfile
import types
import warnings
from pathlib import Path

from sdmodels.errors import CacheWarning

DIGEST_CHARS = 24
PACKAGE = Path(__file__).resolve().parent
# `from sdmodels.x import ...`, `from sdmodels import x, y`, `import sdmodels.x`
_IMPORTS = re.compile(r"^[ \t]*(?:from[ \t]+sdmodels((?:\.\w+)*)[ \t]+import[ \t]+"
                      r"(\([^)]*\)|[^\n]*)|import[ \t]+sdmodels((?:\.\w+)+))", re.M)


class InsecureCacheError(OSError):
    """The cache directory may be written by someone else (internal: turned into a warning)."""


def digest_of(source: str) -> str:
    """The cache key of a generated source: the first 24 hex digits of its SHA-256."""
    return hashlib.sha256(source.encode()).hexdigest()[:DIGEST_CHARS]


def kernel_file_ok(data: bytes, digest: str) -> bool:
    """True if a cache file's bytes hash to the digest its name promises."""
    return hashlib.sha256(data).hexdigest()[:DIGEST_CHARS] == digest


def dependency_digest(source: str, *, package: Path = PACKAGE) -> str:
    """A digest of the sources of the sdmodels modules `source` imports, and of the modules
    they import in turn (found in the text: nothing is imported or run).

    >>> a = dependency_digest("from sdmodels._runtime import lookup")
    >>> a == dependency_digest("x = 1") or a == dependency_digest("from sdmodels import _opcodes")
    False
    """
    files: dict[Path, bytes] = {}
    todo = [source]
    while todo:
        for path in _imported_files(todo.pop(), package):
            if path not in files:
                files[path] = path.read_bytes()
                todo.append(files[path].decode("utf-8", errors="replace"))
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + files[path])
    return digest.hexdigest()[:DIGEST_CHARS]


def _imported_files(source: str, package: Path) -> list[Path]:
    """The files of the package's modules that `source` imports (what exists of them)."""
    found = []
    for m in _IMPORTS.finditer(source):
        if m.group(3):                      # import sdmodels.x.y
            modules = [m.group(3).strip(".").split(".")]
        else:                               # from sdmodels[.x] import a, b: a, b may be modules
            base = m.group(1).strip(".").split(".") if m.group(1) else []
            modules = [base] + [base + [n.split()[0]] for n in m.group(2).strip("()").split(",")
                                if n.split()]
        for parts in modules:
            if not parts:
                continue
            for candidate in (package.joinpath(*parts).with_suffix(".py"),
                              package.joinpath(*parts, "__init__.py")):
                if candidate.is_file():
                    found.append(candidate)
                    break
    return found


@functools.lru_cache(maxsize=None)
def _file_dependencies(path: str, stamp: tuple) -> str:
    """dependency_digest of a file (memoised by path and (mtime, size): edits are seen)."""
    return dependency_digest(Path(path).read_text(encoding="utf-8", errors="replace"))


def cache_root() -> Path:
    """Where the cache lives ($SDMODELS_CACHE_DIR to move it); not created here."""
    root = os.environ.get("SDMODELS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sdmodels")
    return Path(root)


def private_dir(path: Path) -> Path:
    """Create `path` (mode 0700) if missing; InsecureCacheError unless only we may write it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise InsecureCacheError(f"{path} is not a directory")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise InsecureCacheError(f"{path} belongs to user id {st.st_uid}, not to you "
                                 f"({os.getuid()}); set SDMODELS_CACHE_DIR to a folder of yours")
    if st.st_mode & 0o022:
        raise InsecureCacheError(f"{path} may be written by group or others (mode "
                                 f"{stat.S_IMODE(st.st_mode):o}); run chmod 700 {path} or set "
                                 "SDMODELS_CACHE_DIR to a private folder")
    return path


def secure_subdir(name: str) -> Path:
    """`<cache>/<name>`, checked with `private_dir` (the cache root too)."""
    root = private_dir(cache_root())
    return private_dir(root / name)


def _warn_insecure(exc: OSError) -> None:
    warnings.warn(f"the sdmodels kernel cache is not used: {exc}; kernels are compiled in "
                  "memory for this process only", CacheWarning, stacklevel=1)


def _module_from_source(source: str, filename: str, name: str) -> types.ModuleType:
    """Execute our generated, verified `source` as module `name` (never text from a user)."""
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - generated kernel
    return module


def _write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _discard(path: Path, digest: str) -> None:
    """Remove a tampered kernel file and numba's cache entries made from it."""
    path.unlink(missing_ok=True)
    numba_dir = cache_root() / "numba"
    if numba_dir.is_dir():
        for entry in numba_dir.glob(f"*/k_{digest}.*"):
            entry.unlink(missing_ok=True)


def load_kernel(source: str, name: str) -> types.ModuleType:
    """The module of a generated kernel: its file verified (or rewritten), then executed.

    >>> m = load_kernel("VALUE = 42\\n", "sdmodels_doctest_kernel")
    >>> m.VALUE
    42
    """
    digest = digest_of(source)
    try:
        path = _verified_file(source, digest)
    except OSError as exc:       # insecure, read-only or full: compile from memory
        _warn_insecure(exc)
        return _module_from_source(source, f"<sdmodels kernel {digest}>", name)
    return _module_from_source(source, str(path), name)


def _verified_file(source: str, digest: str) -> Path:
    """The cache file of `source`, rewritten (with a warning) unless it matches its digest."""
    path = secure_subdir("kernels") / f"k_{digest}.py"
    data = source.encode()
    if path.is_symlink() or path.exists():
        try:
            found = None if path.is_symlink() else path.read_bytes()
        except OSError:
            found = None
        if found is None or not kernel_file_ok(found, digest) or found != data:
            warnings.warn(f"kernel cache file {path} does not match its digest (it was changed "
                          "after sdmodels wrote it); discarded and rebuilt", CacheWarning,
                          stacklevel=3)
            _discard(path, digest)
    if not path.exists():
        _write(path, data)
    return path


def _locator_class():
    """A numba cache locator that puts a function's cache files under `<cache>/numba`."""
    from numba.core.caching import _CacheLocator, _SourceFileBackedLocatorMixin

    class SdmodelsCacheLocator(_SourceFileBackedLocatorMixin, _CacheLocator):
        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._module = py_func.__module__
            self._cache_path = str(secure_subdir("numba") /
                                   self.get_suitable_cache_subpath(py_file))

        def get_cache_path(self):
            return self._cache_path

        def get_source_stamp(self):
            """numba's stamp (the file's hash), the module's name and the sources of the
            sdmodels modules the file imports: a change in any makes the entry stale."""
            st = os.stat(self._py_file)
            return (super().get_source_stamp(), self._module,
                    _file_dependencies(self._py_file, (st.st_mtime, st.st_size)))

    return SdmodelsCacheLocator


def _function_cache(py_func):
    from numba.core.caching import CompileResultCacheImpl, FunctionCache

    class Impl(CompileResultCacheImpl):
        _locator_classes = [_locator_class()]

    class Cache(FunctionCache):
        _impl_class = Impl

        def load_overload(self, sig, target_context):
            """The cached machine code, or None (numba then compiles and saves it again)
            when the entry cannot be loaded: a one-line CacheWarning, never an error."""
            try:
                return super().load_overload(sig, target_context)
            except Exception as exc:      # noqa: BLE001 - any unreadable entry is rebuilt
                why = (str(exc).strip().splitlines() or [""])[0][:200]
                warnings.warn(f"numba's cache of {py_func.__qualname__} "
                              f"({py_func.__code__.co_filename}) "
                              f"could not be loaded ({type(exc).__name__}: {why}); compiled "
                              "again", CacheWarning, stacklevel=2)
                return None

    return Cache(py_func)


def njit(*args, cache: bool = False, **options):
    """numba.njit whose `cache=True` writes into the sdmodels cache, not `__pycache__`.

    >>> @njit(cache=False)
    ... def twice(x):
    ...     return 2 * x
    >>> twice(21)
    42
    """
    import numba

    def decorate(fn):
        dispatcher = numba.njit(**options)(fn)
        if cache:
            try:
                secure_subdir("numba")
                dispatcher._cache = _function_cache(dispatcher.py_func)
            except OSError as exc:
                _warn_insecure(exc)
            except RuntimeError:        # no source file (e.g. typed in a REPL): no cache
                pass
        return dispatcher

    if args and callable(args[0]):
        return decorate(args[0])
    return decorate


__all__ = ["cache_root", "dependency_digest", "digest_of", "kernel_file_ok", "load_kernel", "njit",
           "private_dir"]
