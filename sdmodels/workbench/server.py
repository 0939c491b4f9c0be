"""The workbench's web server: Starlette routes over `Workbench`, served by uvicorn.

Routes (JSON unless said otherwise; a bad request gets a 4xx JSON ``{"error": ...}``):

- ``GET /`` the page; ``/static/...`` its script, styles and uPlot (served from the
  package, nothing from a CDN);
- ``GET /api/models`` the models this server may open: the one it was started with and the
  library's models, by name (never a path sent by the page);
- ``GET /api/model/{key}`` parameters, scenarios, outputs; ``POST /api/model/{key}/run``
  ``{"values": {name: number or text}, "outputs": [...]}`` -> one run;
- ``GET /api/model/{key}/loops``, ``/diagram.svg``, ``/diagram.png`` (``?loop=R1``);
- ``POST /api/model/{key}/sweep``, ``POST /api/model/{key}/export.csv``;
- ``POST /api/model/{key}/dominance`` loop dominance of one run (when sdmodels.analysis has it);
- for a system description the server was started with: ``GET /api/model/{key}/description``
  its text, ``POST .../validate`` ``{"text"}`` -> its problems (line, column), ``POST
  .../description`` ``{"text", "outputs"}`` -> saved (only when it composes) and rebuilt,
  with the new model's description and first run.

Every JSON response says how long the server took (``Server-Timing: app;dur=ms``).
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sdmodels.errors import SDModelsError, did_you_mean
from sdmodels.workbench.reports import checklist_page, postmortem_page

STATIC = Path(__file__).parent / "static"


def _library_models() -> list[str]:
    """The library's model modules (its packages, parts and compose, are not models)."""
    import library

    from sdmodels.sources import library_names
    folder = Path(library.__path__[0])
    return [name for name in library_names() if not (folder / name).is_dir()]


class Catalog:
    """The models a server may open, by key: the one it started with, and the library's.

    Each is opened when first asked for and kept; a key is never read as a path. A system
    description it starts with (.yaml) is the only file the server reads or writes
    (`description`); saving it replaces its Workbench.
    """

    def __init__(self, start: str | None = None, *, opened=None):
        from sdmodels.sources import SYSTEM_FILE_SUFFIXES
        self._lock = threading.Lock()
        self._open: dict[str, object] = {}
        self._specs: dict[str, str] = {name: name for name in _library_models()}
        self.first = None
        self.description = None
        if opened is not None:                    # an already opened Workbench
            self.first = opened.ir.name
            self._open[self.first] = opened
            self._specs.setdefault(self.first, self.first)
        elif start is not None and str(start).endswith(SYSTEM_FILE_SUFFIXES):
            from sdmodels.sources import existing_file
            from sdmodels.workbench.system import DescriptionFile
            existing_file(start, "system description")     # a folder is no description
            self.description = DescriptionFile(start)
            self.first = self.description.key
            self._specs[self.first] = str(self.description.path)
        elif start is not None:
            self.first = Path(start).stem if Path(start).suffix else start
            self._specs[self.first] = start
        self.first = self.first or (sorted(self._specs)[0] if self._specs else None)

    @property
    def keys(self) -> list[str]:
        return [self.first] + sorted(k for k in self._specs if k != self.first)

    def get(self, key: str):
        """The Workbench of an allowed key, opening (compiling) it the first time."""
        from sdmodels.workbench.session import Workbench
        if key not in self._specs:
            raise HTTPException(404, f"no model '{key}' here; this workbench opens: "
                                     f"{', '.join(self.keys)}")
        with self._lock:
            if key not in self._open:
                self._open[key] = (self.description.build() if self.described(key)
                                   else Workbench.open(self._specs[key]))
            return self._open[key]

    def described(self, key: str) -> bool:
        """Whether `key` is the system description the server was started with."""
        return self.description is not None and key == self.description.key

    def the_description(self, key: str):
        """The DescriptionFile behind `key`; a 404 for any other key (only that file)."""
        if not self.described(key):
            raise HTTPException(404, f"'{key}' is not the system description this workbench "
                                     "was started with; it can only open and save that one")
        return self.description

    def replace(self, key: str, workbench) -> None:
        """Put a rebuilt Workbench in place of the old one (after a save)."""
        with self._lock:
            self._open[key] = workbench


def _json(data, status: int = 200, began: float | None = None) -> Response:
    """A JSON response; with `began`, a Server-Timing header with the time from the request's
    arrival to the rendered body."""
    body = json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
    headers = {}
    if began is not None:
        headers["Server-Timing"] = f"app;dur={(time.perf_counter() - began) * 1000:.3f}"
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request, fields: tuple[str, ...] | None = None) -> dict:
    """The request's JSON object; a field other than `fields` is refused by name (a
    misspelt "value" would otherwise run the defaults without a word)."""
    try:
        data = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HTTPException(400, "the request body is not JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the request body must be a JSON object")
    unknown = sorted(set(data) - set(fields)) if fields is not None else []
    if unknown:
        raise HTTPException(400, f"unknown field '{unknown[0]}'."
                                 f"{did_you_mean(unknown[0], fields)} This request takes: "
                                 f"{', '.join(fields)}")
    return data


def _values(body: dict) -> dict:
    values = body.get("values") or {}
    if not isinstance(values, dict):
        raise HTTPException(400, "give {\"values\": {name: value}}")
    return values


def _text_of(body: dict, *, allowed: set[str]) -> str:
    """The description text of a request; any other field (a path, a file name) is refused:
    the page can only write the file the server was started with."""
    extra = sorted(set(body) - allowed)
    if extra:
        raise HTTPException(400, f"unexpected field(s) {', '.join(extra)}: the workbench only "
                                 "writes the system description it was started with")
    text = body.get("text")
    if not isinstance(text, str):
        raise HTTPException(400, "give {\"text\": the description's YAML}")
    return text


def create_app(catalog: Catalog) -> Starlette:
    """The Starlette application serving one catalog of models."""

    def workbench(request: Request):
        return catalog.get(request.path_params["key"])

    async def index(request: Request):
        return FileResponse(STATIC / "index.html")

    async def favicon(request: Request):
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    async def models(request: Request):
        return _json({"models": catalog.keys, "first": catalog.first,
                      "description": catalog.description.key if catalog.description else None})

    def describe(request: Request):
        key = request.path_params["key"]
        return _json({**workbench(request).describe(), "description": catalog.described(key)})

    async def run(request: Request):
        # runs inline on the event loop: the shortest path from a slider to its curves
        began = time.perf_counter()
        body = await _body(request, ("values", "outputs"))
        wb = workbench(request)
        values, outputs = body.get("values") or {}, body.get("outputs")
        if not isinstance(values, dict) or not (outputs is None or isinstance(outputs, list)):
            raise HTTPException(400, "give {\"values\": {name: value}, \"outputs\": [names]}")
        return _json(wb.run(values, outputs=outputs), began=began)

    def loops(request: Request):
        return _json({"loops": workbench(request).loops()})

    def diagram(request: Request):
        fmt = request.path_params["fmt"]
        if fmt not in ("svg", "png", "dot"):
            raise HTTPException(404, f"no diagram format '{fmt}': use svg, png or dot")
        loop = request.query_params.get("loop") or None
        wb = workbench(request)
        try:
            data = wb.diagram(fmt, loop=loop)
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        media = {"svg": "image/svg+xml", "png": "image/png", "dot": "text/vnd.graphviz"}[fmt]
        name = f"{wb.ir.name}{'-' + loop if loop else ''}.{fmt}"
        return Response(data, media_type=media,
                        headers={"Content-Disposition": f'inline; filename="{name}"'})

    async def sweep(request: Request):
        began = time.perf_counter()
        body = await _body(request, ("output", "x", "xs", "y", "ys", "values"))
        wb = workbench(request)
        try:
            options = dict(output=str(body["output"]), x=str(body["x"]), xs=list(body["xs"]),
                           y=body.get("y") or None, ys=list(body.get("ys") or []),
                           values=body.get("values") or {})
        except (KeyError, TypeError, ValueError) as exc:
            raise HTTPException(400, f"a sweep needs output, x, xs (and y, ys): {exc}") from None
        try:       # in a worker thread: slider runs go on while a sweep computes
            result = await run_in_threadpool(lambda: wb.sweep(**options))
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, f"sweep values must be numbers: {exc}") from None
        return _json(result, began=began)

    async def export_csv(request: Request):
        body = await _body(request, ("runs",))
        runs = body.get("runs")
        if not isinstance(runs, dict) or not all(isinstance(v, dict) for v in runs.values()):
            raise HTTPException(400, "give {\"runs\": {label: {name: value}}}")
        wb = workbench(request)
        text = await run_in_threadpool(wb.to_csv, runs)
        return Response(text, media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{wb.ir.name}-runs.csv"'})

    async def dominance(request: Request):
        values = _values(await _body(request, ("values",)))
        wb = workbench(request)
        found = await run_in_threadpool(wb.dominance, values)
        if found is None:
            raise HTTPException(404, "loop dominance is not available in this sdmodels "
                                     "(sdmodels.analysis has no dominance function)")
        return _json(found)

    async def postmortem(request: Request):
        # minutes on a big model: in a worker thread, slider runs go on meanwhile
        values = _values(await _body(request, ("values",)))
        wb = workbench(request)
        page = await run_in_threadpool(postmortem_page, wb, values)
        return Response(page, media_type="text/html; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{wb.ir.name}-postmortem.html"'})

    async def checklist(request: Request):
        file = catalog.the_description(request.path_params["key"])
        page = await run_in_threadpool(checklist_page, file.path)
        return Response(page, media_type="text/html; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{file.key}-checklist.html"'})

    def description(request: Request):
        file = catalog.the_description(request.path_params["key"])
        return _json({"name": file.name, "text": file.text()})

    async def validate(request: Request):
        file = catalog.the_description(request.path_params["key"])
        text = _text_of(await _body(request), allowed={"text"})
        return _json({"problems": file.problems(text)})

    async def save(request: Request):
        # the structural edit: compose, run once, then write; timed from arrival to answer
        began = time.perf_counter()
        key = request.path_params["key"]
        file = catalog.the_description(key)
        body = await _body(request)
        text = _text_of(body, allowed={"text", "outputs"})
        outputs = body.get("outputs")

        def rebuild():        # compose and run first: only a description that does is written
            cpu = time.thread_time()
            wb = file.build(text, warm=False)
            first = wb.run(outputs=[o for o in outputs or () if o in wb.outputs] or None)
            file.write(text)
            first["rebuild_cpu_ms"] = round((time.thread_time() - cpu) * 1000, 3)
            return wb, first
        try:
            wb, first = await run_in_threadpool(rebuild)
        except SDModelsError as exc:   # problems, a model that does not compose or run
            from sdmodels.workbench.system import problems_of
            return _json({"error": str(exc), "problems": problems_of(exc)}, status=422)
        catalog.replace(key, wb)
        return _json({"saved": file.name, "model": {**wb.describe(), "description": True},
                      "run": first}, began=began)

    async def http_error(request: Request, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail))

    async def model_error(request: Request, exc: SDModelsError):
        return _error(422, str(exc))     # unknown name, bad value, failed run: the page says

    key = "/api/model/{key}"
    routes = [
        Route("/", index),
        Route("/favicon.ico", favicon),
        Route("/api/models", models),
        Route(key, describe),
        Route(key + "/run", run, methods=["POST"]),
        Route(key + "/loops", loops),
        Route(key + "/diagram.{fmt}", diagram),
        Route(key + "/sweep", sweep, methods=["POST"]),
        Route(key + "/export.csv", export_csv, methods=["POST"]),
        Route(key + "/dominance", dominance, methods=["POST"]),
        Route(key + "/postmortem.html", postmortem, methods=["POST"]),
        Route(key + "/checklist.html", checklist),
        Route(key + "/description", description),
        Route(key + "/description", save, methods=["POST"]),
        Route(key + "/validate", validate, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={
        HTTPException: http_error, SDModelsError: model_error})


def make_server(catalog: Catalog, *, host: str = "127.0.0.1", port: int = 0):
    """(uvicorn Server, listening socket, URL): run it with ``server.run(sockets=[sock])``,
    stop it with ``server.should_exit = True``."""
    import socket

    import uvicorn
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)                      # connections wait in the backlog until uvicorn runs
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    config = uvicorn.Config(create_app(catalog), log_level="warning", access_log=False)
    return uvicorn.Server(config), sock, url


def serve(model: str | None = None, *, host: str = "127.0.0.1", port: int = 0,
          opened=None, ready=None, notice=None) -> None:
    """Open the model, then serve the page until interrupted.

    `port=0` takes a free port; `ready(url)` is called once the server listens (the CLI
    prints the URL there). Binding to anything but loopback is the caller's choice. A system
    description that does not compose is served anyway, so that the page can mend it;
    `notice(message)` hears why.
    """
    catalog = Catalog(model, opened=opened)
    if catalog.first is not None:
        try:
            catalog.get(catalog.first)    # open before the first page load
        except SDModelsError as exc:
            if catalog.description is None:
                raise
            if notice is not None:
                notice(f"{exc}\nthe page shows the description to mend it")
    server, sock, url = make_server(catalog, host=host, port=port)
    if ready is not None:
        ready(url)
    server.run(sockets=[sock])
