"""Vensim .mdl files for tests: one place that writes the text the importer reads."""
import textwrap


def control(stop=2, *, dt=1, start=0) -> str:
    """Vensim's control section: `start` to `stop`, TIME STEP `dt`, saved every step."""
    return (f"\nINITIAL TIME = {start} ~~|\nFINAL TIME = {stop} ~~|\n"
            f"TIME STEP = {dt} ~~|\nSAVEPER = TIME STEP ~~|\n")


def write_mdl(folder, equations: str, control_text: str = "", *, name: str = "m.mdl"):
    """folder/name: the UTF-8 marker, the `equations` (dedented) and `control_text`."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{UTF-8}\n" + textwrap.dedent(equations) + control_text)
    return path
