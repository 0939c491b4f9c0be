"""Shared test set-up: a private kernel cache so tests never touch the user's cache."""
import os
import pathlib

os.environ.setdefault("SDMODELS_CACHE_DIR",
                      str(pathlib.Path(__file__).resolve().parent.parent / ".venv" / "sdmodels-cache"))
