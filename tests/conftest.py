"""Shared test set-up: a private kernel cache so tests never touch the user's cache."""
import os
import pathlib

# many short runs of big models: no kernel compiled aside (tests that want it turn it on)
os.environ.setdefault("SDMODELS_BACKGROUND_COMPILE", "0")
os.environ.setdefault("SDMODELS_CACHE_DIR",
                      str(pathlib.Path(__file__).resolve().parent.parent / ".venv" / "sdmodels-cache"))
