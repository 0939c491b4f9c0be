"""Thin launcher: `python cli.py ...` behaves exactly like `sdm ...`."""
from sdmodels.cli import main

if __name__ == "__main__":
    main()
