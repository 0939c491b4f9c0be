"""`sdm analyze SYSTEM.yaml|.toml -o DIR`: the feedback-loop checklist report of an architecture."""
from __future__ import annotations

import click


def analyze_system(path: str, out_dir: str, *, fixes: bool, progress: bool) -> str:
    """Analyse a description and write its report; return a short summary."""
    from pathlib import Path

    from sdmodels.files import can_make_dir
    from sdmodels.system.analyze import analyze
    from sdmodels.errors import ModelError
    from sdmodels.sources import SYSTEM_FILE_SUFFIXES
    if not path.lower().endswith(SYSTEM_FILE_SUFFIXES):
        raise ModelError(f"'{path}' is not a system description: give a .yaml, .yml or .toml "
                         "file (docs/SYSTEMS.md; examples/hands_on.yaml is one)")
    can_make_dir(out_dir)            # before minutes of runs, not after
    a = analyze(Path(path), fixes=fixes, progress=progress)   # a file, whatever its name
    written = a.write(out_dir)
    lines = [f"{a.spec.name}: {len(a.loops)} loops, {len(a.findings)} recognised "
             f"({sum(f.dangerous for f in a.findings)} dangerous), "
             f"{len(a.combinations)} dangerous combinations, {len(a.fixes)} fixes simulated"]
    lines += [f"  {f.polarity} {f.match.key}" for f in a.findings]
    lines.append(f"wrote {len(written)} files to {out_dir}")
    return "\n".join(lines)


def register(main: click.Group) -> None:
    @main.command("analyze")
    @click.argument("system", type=click.Path(dir_okay=False))
    @click.option("-o", "--output", "out_dir", required=True, metavar="DIR",
                  help="Directory for report.md, report.html, report.json, cld.svg, plots.")
    @click.option("--no-fixes", is_flag=True, help="Skip simulating the fixes.")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    def analyze_command(system, out_dir, no_fixes, quiet):
        """Find the feedback loops of an architecture description and answer the checklist."""
        click.echo(analyze_system(system, out_dir, fixes=not no_fixes, progress=not quiet))
