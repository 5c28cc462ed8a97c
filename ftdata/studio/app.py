"""The studio's web app: a small Starlette (ASGI) app served by uvicorn on 127.0.0.1.

The page is rendered on the server (Jinja2 with autoescape, the same fragments for the first
load and for updates); a little vanilla JavaScript posts the editor's content as JSON and
swaps the returned HTML fragments in. There is no build step and no front-end framework.

A local server is reachable by every web page the user has open, so each request passes
:class:`Guard` before anything else:

* the ``Host`` header must name this server (``127.0.0.1:PORT``, ``localhost:PORT``,
  ``[::1]:PORT``): a DNS-rebinding page arrives with its own host name and gets 403;
* a random session token (printed in the URL, as notebook servers do) must come with every
  request, compared in constant time; without it: 403;
* every state-changing request is a POST carrying the token in the ``X-Studio-Token``
  header with a JSON body (a custom header and JSON both force a CORS preflight, which this
  server never grants) and, when the browser sends ``Origin``, from this server's origin.

Responses forbid framing and caching and carry a Content-Security-Policy that allows only
this page's own inline script and style (by nonce) and requests to itself.
"""

from __future__ import annotations

import hmac
import json
import secrets
import socket
import threading
from pathlib import Path
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..errors import FtdataError
from .session import Studio
from .views import row_preview

ASSETS = Path(__file__).parent / "assets"
TOKEN_HEADER = "x-studio-token"


# -- guard ---------------------------------------------------------------------------------------

class Guard:
    """ASGI middleware: Host check, session token, POST-only changes (see the module docstring)."""

    def __init__(self, app, token: str, hosts: set[str]):
        self.app = app
        self.token = token.encode()
        self.hosts = {h.lower() for h in hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":  # the studio has none; refuse rather than route
            return await send({"type": "websocket.close", "code": 1008})
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        reason = self.refuse(scope)
        if reason:
            res = Response(f"403 Forbidden: {reason}\n", status_code=403, media_type="text/plain",
                           headers=_SECURITY_HEADERS)
            return await res(scope, receive, send)
        return await self.app(scope, receive, send)

    def refuse(self, scope) -> str | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").lower()
        if host not in self.hosts:
            return "unknown Host header (this server answers only to its own address)"
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        method = scope["method"]
        if method == "POST":
            given = headers.get(TOKEN_HEADER, "")
            origin = headers.get("origin")
            if origin is not None and origin.lower().removeprefix("http://") not in self.hosts:
                return "cross-origin request"
            if not headers.get("content-type", "").startswith("application/json"):
                return "changes must be posted as JSON"
        elif method in ("GET", "HEAD"):
            given = (query.get("token") or [""])[0]
        else:
            return f"method {method} is not used here"
        if not given or not hmac.compare_digest(given.encode(), self.token):
            return "missing or wrong session token (open the URL that `ftdata studio` printed)"
        return None


_SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


# -- views ---------------------------------------------------------------------------------------

def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(ASSETS)), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["preview"] = row_preview
    return env


class Views:
    """Renders the page and its fragments from ``assets/page.html``."""

    def __init__(self, studio: Studio, token: str):
        self.s = studio
        self.token = token
        self.env = _environment()
        self.macros = self.env.get_template("fragments.html").module

    def panels(self, key: str | None, index: int, *, lint: bool = False) -> dict:
        view = self.s.render(key, index)
        m = self.macros
        out = {
            "render": str(m.render_panel(view)),
            "tokens": str(m.tokens_panel(view, self.s.recipe.layout)),
            "row": str(m.row_panel(view)),
            "nav": str(m.nav_panel(view, len(self.s.rows))),
            "list": str(m.template_list(self.s.drafts, key, self.token)),
        }
        if lint:
            out["lint"] = str(m.lint_panel(self.s.lint(key)))
        return {"panels": out, "row": view.index,
                "errors": [e.__dict__ for e in view.errors]}

    def page(self, key: str | None, index: int, nonce: str) -> str:
        d = self.s.draft(key)
        key = d.key if d else None
        state = {"token": self.token, "key": key, "row": index, "form": d.template.form if d else self.s.form}
        first = self.panels(key, index, lint=True)
        r = self.s.recipe
        return self.env.get_template("page.html").render(
            s=self.s, d=d, t=d.template if d else None, nonce=nonce, token=self.token,
            state=Markup(json.dumps(state).replace("<", "\\u003c")), panels={k: Markup(v) for k, v in first["panels"].items()},
            errors=first["errors"], css=Markup((ASSETS / "studio.css").read_text(encoding="utf-8")),
            js=Markup((ASSETS / "studio.js").read_text(encoding="utf-8")),
            settings=f"{r.tokenizer} · {r.layout} · separator {r.separator!r} · max_length {r.max_length}",
        )


# -- the app -------------------------------------------------------------------------------------

def create_app(studio: Studio, token: str, hosts: set[str]):
    """The guarded ASGI app for one studio session."""
    views = Views(studio, token)
    lock = studio.lock

    def _json_error(exc: Exception, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=status, headers=_SECURITY_HEADERS)

    async def body(request: Request) -> dict:
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def page(request: Request):
        q = request.query_params
        try:
            index = int(q.get("row", "0"))
        except ValueError:
            index = 0
        nonce = secrets.token_urlsafe(16)
        with lock:
            html = views.page(q.get("t"), index, nonce)
        csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
               "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        return HTMLResponse(html, headers={**_SECURITY_HEADERS, "Content-Security-Policy": csp})

    async def render(request: Request):
        data = await body(request)
        return await _run(lambda: _render(data))

    def _render(data: dict) -> dict:
        key = data.get("key")
        if key and isinstance(data.get("fields"), dict):
            studio.update(key, data["fields"])
        index = int(data.get("row") or 0)
        nav = data.get("nav")
        if nav == "next":
            index += 1
        elif nav == "prev":
            index -= 1
        elif nav == "random":
            index = studio.random_index()
        elif nav == "jump":
            index = studio.index_of(str(data.get("jump", "")))
        return views.panels(key, index % len(studio.rows), lint=bool(data.get("lint")))

    async def lint(request: Request):
        data = await body(request)

        def run():
            key = data.get("key")
            with lock:
                if key and isinstance(data.get("fields"), dict):
                    studio.update(key, data["fields"])
                draft = studio.draft(key)
            # lint renders dozens of rows: it runs outside the lock so renders never wait for it
            # (drafts are replaced, never mutated, so it sees one consistent template)
            findings = studio.lint_draft(draft) if draft is not None else []
            return {"panels": {"lint": str(views.macros.lint_panel(findings))}}
        return await _run(run, locked=False)

    async def new(request: Request):
        def run():
            d = studio.new_draft()
            return {"key": d.key, "url": f"/?token={token}&t={d.key}"}
        return await _run(run)

    async def save(request: Request):
        data = await body(request)

        def run():
            key = data.get("key")
            if key and isinstance(data.get("fields"), dict):
                studio.update(key, data["fields"])
            message = studio.save()
            return {"message": message, "panels": {"list": str(views.macros.template_list(studio.drafts, key, token))}}
        return await _run(run)

    async def _run(fn, locked: bool = True) -> JSONResponse:
        from starlette.concurrency import run_in_threadpool

        def with_lock():
            with lock:
                return fn()
        try:
            result = await run_in_threadpool(with_lock if locked else fn)
        except FtdataError as exc:
            return _json_error(exc)
        return JSONResponse(result, headers=_SECURITY_HEADERS)

    app = Starlette(routes=[
        Route("/", page, methods=["GET"]),
        Route("/api/render", render, methods=["POST"]),
        Route("/api/lint", lint, methods=["POST"]),
        Route("/api/new", new, methods=["POST"]),
        Route("/api/save", save, methods=["POST"]),
    ])
    return Guard(app, token, hosts)


# -- serving -------------------------------------------------------------------------------------

def allowed_hosts(host: str, port: int) -> set[str]:
    """Host header values this server answers to."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    if host not in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::"):
        names.add(host)
    return {f"{n}:{port}" for n in names}


class StudioServer:
    """A studio app on a socket, run by uvicorn (in this thread or a background one).

    Args:
        studio: the session to serve.
        host: address to bind (default loopback only).
        port: port (0 picks a free one).
        token: session token (default: a fresh random one).
    """

    def __init__(self, studio: Studio, host: str = "127.0.0.1", port: int = 0, token: str | None = None):
        self.studio = studio
        self.token = token or secrets.token_urlsafe(24)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise FtdataError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from None
        self.host, self.port = host, self.sock.getsockname()[1]
        self.app = create_app(studio, self.token, allowed_hosts(host, self.port))
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::") else (f"[{self.host}]" if ":" in self.host else self.host)
        return f"http://{shown}:{self.port}/?token={self.token}"

    def _make(self):
        import uvicorn

        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        return self._server

    def serve_forever(self) -> None:
        """Serve until interrupted (Ctrl+C)."""
        self._make().run(sockets=[self.sock])

    def start(self) -> StudioServer:
        """Serve from a background thread (tests, benchmarks); returns once listening."""
        server = self._make()
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self._thread.start()
        while not server.started:
            if not self._thread.is_alive():
                raise FtdataError("the studio server stopped while starting")
            threading.Event().wait(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.sock.close()
