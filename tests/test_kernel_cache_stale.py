"""A cached kernel built against other code is compiled again, never loaded stale or failing.

numba keys its cache of a function by that function's file alone. sdmodels' kernel names its
module after a digest that covers the helpers it calls, so an edit to a helper
(`_interpreter.py`) renamed the module while the kernel file stayed the same: numba found its
old entry and failed to unpickle it ("No module named sdmodels_kernel_..."). The key now holds
the module name and the sources of the sdmodels modules the file imports, and an entry that
still fails to load is compiled again with a one-line CacheWarning.
"""
import os
import sys
import warnings

import pytest

from sdmodels.errors import CacheWarning
from sdmodels.kernel_cache import dependency_digest, load_kernel

KERNEL = ("from sdmodels.kernel_cache import njit\n\n"
          "@njit(cache=True)\n"
          "def kernel(x):\n"
          "    return 2.0 * x + 1.0\n")


@pytest.fixture
def cache(tmp_path):
    saved = os.environ.get("SDMODELS_CACHE_DIR")
    os.environ["SDMODELS_CACHE_DIR"] = str(tmp_path / "cache")
    yield tmp_path / "cache"
    if saved is None:
        os.environ.pop("SDMODELS_CACHE_DIR", None)
    else:
        os.environ["SDMODELS_CACHE_DIR"] = saved


def _load(name: str):
    sys.modules.pop(name, None)
    return load_kernel(KERNEL, name)


def test_a_kernel_renamed_after_a_helper_edit_compiles_again(cache):
    first = _load("sdmodels_kernel_stale_test_a")
    assert first.kernel(3.0) == 7.0                     # compiled and saved by numba
    assert list((cache / "numba").rglob("*.nbi"))
    sys.modules.pop("sdmodels_kernel_stale_test_a")     # as in a new process
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # a stale entry is no failure at all
        second = _load("sdmodels_kernel_stale_test_b")  # the same file, another module name
        assert second.kernel(3.0) == 7.0
    assert sum(second.kernel.stats.cache_hits.values()) == 0     # not the old machine code


def test_an_entry_that_cannot_be_loaded_is_compiled_again_with_a_warning(cache):
    name = "sdmodels_kernel_stale_test_c"
    assert _load(name).kernel(1.0) == 3.0
    data = list((cache / "numba").rglob("*.nbc"))
    assert data
    for path in data:                                   # a damaged entry, its key still fresh
        path.write_bytes(b"not a pickle")
    again = _load(name)
    with pytest.warns(CacheWarning, match=r"could not be loaded .*compiled again") as caught:
        assert again.kernel(1.0) == 3.0
    assert all("\n" not in str(w.message) for w in caught)
    third = _load(name)
    assert third.kernel(2.0) == 5.0
    assert sum(third.kernel.stats.cache_hits.values()) == 1      # the entry was written anew


def test_the_key_covers_every_module_the_kernel_imports(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "helper.py").write_text("from sdmodels.sub.deep import g\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "deep.py").write_text("def g(): return 1\n")
    source = "from sdmodels.helper import f\n"
    before = dependency_digest(source, package=package)
    assert dependency_digest("x = 1\n", package=package) != before
    (package / "sub" / "deep.py").write_text("def g(): return 2\n")    # two imports away
    edited = dependency_digest(source, package=package)
    assert edited != before
    (package / "helper.py").write_text("from sdmodels.sub.deep import g  # edited\n")
    assert dependency_digest(source, package=package) not in (before, edited)
    assert dependency_digest("from sdmodels import helper\n", package=package) == \
        dependency_digest(source, package=package)
