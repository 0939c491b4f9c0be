"""`sdm workbench`: the local web page for modelling sessions."""
from __future__ import annotations

import ipaddress

import click


def is_loopback(host: str) -> bool:
    """Whether an address only this machine can reach ("localhost", 127.0.0.0/8, ::1).

    >>> is_loopback("127.0.0.2"), is_loopback("0.0.0.0"), is_loopback("localhost")
    (True, False, True)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(main: click.Group) -> None:
    @main.command("workbench")
    @click.argument("model", required=False)
    @click.option("--host", default="127.0.0.1", show_default=True,
                  help="Address to listen on; anything but loopback exposes the page.")
    @click.option("--port", type=click.IntRange(0, 65535), default=0,
                  help="Port to listen on (default: a free port).")
    def workbench_command(model, host, port):
        """Serve the workbench for MODEL (a library name, a .py file with build(), a
        .mdl/.xmile file, or a system description .yaml, which the page edits, validates as
        you type and rebuilds on save): sliders, live curves, the loop diagram, sweeps,
        exports."""
        from sdmodels.workbench.server import serve
        if not is_loopback(host):
            click.echo(f"Warning: listening on {host}, not loopback: anyone who can reach "
                       "this machine can use the workbench (there is no login).", err=True)
        if model:
            click.echo(f"opening {model}...", err=True)

        def ready(url: str) -> None:
            click.echo(f"sdmodels workbench: {url}  (Ctrl+C stops it)")

        try:
            serve(model, host=host, port=port, ready=ready,
                  notice=lambda message: click.echo(message, err=True))
        except OSError as exc:      # exit 2 like every bad input, with what to change
            import errno

            from sdmodels.errors import SDModelsError
            fix = ("choose another --port, or leave --port out for a free one"
                   if exc.errno == errno.EADDRINUSE else
                   "give --host an address of this machine (default 127.0.0.1)"
                   if exc.errno == errno.EADDRNOTAVAIL else
                   "choose a --port above 1023, or leave --port out for a free one"
                   if exc.errno == errno.EACCES else "check --host and --port")
            raise SDModelsError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                                f"{fix}") from None
