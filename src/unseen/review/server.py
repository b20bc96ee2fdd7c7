"""The review server: Starlette on uvicorn, bound to 127.0.0.1, for one person on one laptop.

Someone reviewing is likely to have a browser full of other sites open, and a laptop full of
sensitive files, so:

* it listens on the loopback address only, on a free port;
* every request must carry the random token: the URL printed on start has it, the first visit turns
  it into a cookie (HttpOnly, SameSite=Strict, named after the port) and drops it from the address;
  the browser is started on an address with a one-time code instead, which the first visit turns
  into the same cookie (any local user can read a program's command line; the code is spent by then);
* a request whose ``Host`` is not ``127.0.0.1:<port>`` is refused, so a site that re-points its own
  name at 127.0.0.1 (DNS rebinding) cannot talk to it; a state-changing request from a foreign
  ``Origin`` is refused as well;
* files are addressed by their index in the regions file, never by a path from the client, and
  only the files the command was given are read; the page's assets come from a fixed list inside
  the package; a strict Content-Security-Policy allows nothing but this origin;
* the only files it writes are the regions file and the outputs.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import json
import secrets
import signal
import socket
import threading
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any

import numpy as np
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import UnseenError, one_line
from .session import ReviewSession, StaleEdit

HOST = "127.0.0.1"
ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}
MAX_BODY = 8 << 20  # an edit is a few operations; a follow request a box
MAX_DEPTH = 16  # nesting of a request's JSON: an edit's deepest value (a box) is 7 levels down
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
        b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class Guard:
    """ASGI middleware: Host, Origin and token checks before any route; security headers after."""

    def __init__(self, app: ASGIApp, token: str, port: int) -> None:
        self.app, self.token, self.port = app, token, port
        self.host = f"{HOST}:{port}"
        self.origin = f"http://{self.host}"
        self.cookie = f"unseen_review_{port}"
        self.codes: set[str] = set()  # one-time codes not used yet

    def issue_code(self) -> str:
        """A new code that opens the page once, in place of the token (for a browser's command line)."""
        code = secrets.token_urlsafe(32)
        self.codes.add(code)
        return code

    def _spend(self, code: str | None) -> bool:
        try:
            self.codes.remove(code)  # atomic: of two visits with one code, one gets in
        except KeyError:
            return False
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no websockets; lifespan is not used
            return
        refusal = self._refusal(scope)
        if refusal is None and not self._has_token(scope):
            request = Request(scope)
            params = request.query_params
            if scope["method"] == "GET" and (
                self._valid(params.get("token")) or self._spend(params.get("code"))
            ):
                response: Response = RedirectResponse(request.url.path, status_code=303)
                response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
                await response(scope, receive, self._secured(send))
                return
            refusal = (
                "missing or wrong token, or a code already used: open the address printed by unseen review"
            )
        if refusal is not None:
            await PlainTextResponse(refusal, status_code=403)(scope, receive, self._secured(send))
            return
        await self.app(scope, receive, self._secured(send))

    def _refusal(self, scope: Scope) -> str | None:
        headers = Headers(scope=scope)
        if headers.get("host") != self.host:
            return "unknown host"
        if scope["method"] not in ("GET", "HEAD"):
            origin = headers.get("origin")
            if origin is not None and origin != self.origin:
                return "foreign origin"
            if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
                return "cross-site request"
        return None

    def _valid(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.token.encode())

    def _has_token(self, scope: Scope) -> bool:
        return self._valid(Request(scope).cookies.get(self.cookie))

    @staticmethod
    def _secured(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        return wrapped


def _asset(name: str) -> bytes:
    return (resources.files("unseen.review") / "static" / name).read_bytes()


def _jpeg(pixels: np.ndarray) -> Response:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return Response(buffer.getvalue(), media_type="image/jpeg")


class Refused(ValueError):
    """A request body that is not read or not parsed: answered 400 (413 if ``too_large``), one line."""

    def __init__(self, reason: str, too_large: bool = False) -> None:
        super().__init__(reason)
        self.too_large = too_large


async def _json_body(request: Request) -> Any:
    """The request's JSON, read in chunks up to MAX_BODY bytes (a larger body is refused when its
    size is declared or as soon as it passes the limit, never read whole); standard JSON only (no
    NaN or Infinity), nested at most MAX_DEPTH deep."""
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        raise Refused(f"too large: a request body is at most {MAX_BODY} bytes", too_large=True)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Refused(f"too large: a request body is at most {MAX_BODY} bytes", too_large=True)
    try:
        value = json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise Refused(f"JSON nested more than {MAX_DEPTH} deep") from None
    except ValueError as exc:  # not JSON, not UTF-8, an integer of thousands of digits
        raise Refused(f"not JSON: {exc}") from None
    _check_depth(value)
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number in standard JSON")


def _check_depth(value: Any) -> None:
    level = [value]
    for _ in range(MAX_DEPTH):
        level = [
            item
            for v in level
            if isinstance(v, list | dict)
            for item in (v.values() if isinstance(v, dict) else v)
        ]
        if not level:
            return
    raise Refused(f"JSON nested more than {MAX_DEPTH} deep")


def _refusal(exc: ValueError) -> Response:
    status = 413 if isinstance(exc, Refused) and exc.too_large else 400
    return PlainTextResponse(f"refused: {one_line(str(exc))}", status_code=status)


def _index(request: Request, key: str = "index") -> int:
    return int(request.path_params[key])


def create_app(session: ReviewSession, token: str, port: int) -> Guard:
    """The review application for ``session``, guarded for ``127.0.0.1:port`` and ``token``."""

    async def page(request: Request) -> Response:
        return Response(_asset("index.html"), media_type="text/html; charset=utf-8")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:  # a fixed list: the client's text never reaches the file system
            return PlainTextResponse("not found", status_code=404)
        return Response(_asset(name), media_type=ASSETS[name])

    async def files(request: Request) -> Response:
        return JSONResponse({"files": session.files(), "regions_file": session.path.name})

    async def entry(request: Request) -> Response:
        index = _index(request)
        if request.method == "GET":
            # Written line by line as the regions file is: an hour of video has ~300k regions.
            found, summary = await run_in_threadpool(session.view, index)
            summary = {**summary, "zones": found.zone_records(), "swept": found.swept}
            head = json.dumps(summary, ensure_ascii=False)
            regions = ", ".join(found.region_lines())
            return Response(f'{head[:-1]}, "regions": [{regions}]}}', media_type="application/json")
        try:
            summary = await run_in_threadpool(session.edit, index, await _json_body(request))
        except ValueError as exc:  # the body's refusals included
            return _refusal(exc)
        except StaleEdit as exc:
            return PlainTextResponse(f"refused: {exc}", status_code=409)
        return JSONResponse(summary)

    async def picture(request: Request) -> Response:
        index, params = _index(request), request.query_params
        try:
            frame = int(params.get("frame", "0"))
        except ValueError:
            return PlainTextResponse("bad frame", status_code=400)
        pixels = await run_in_threadpool(session.picture, index, frame, params.get("output") == "1")
        return _jpeg(pixels)

    async def crop(request: Request) -> Response:
        params = request.query_params
        try:
            frame = int(params.get("frame", "0"))
            x1, y1, x2, y2 = (int(v) for v in params.get("box", "").split(","))
        except ValueError:
            return PlainTextResponse("bad frame or box", status_code=400)
        return _jpeg(await run_in_threadpool(session.crop, _index(request), frame, (x1, y1, x2, y2)))

    async def gaps(request: Request) -> Response:
        try:
            frame = int(request.query_params.get("frame", "0"))
        except ValueError:
            return PlainTextResponse("bad frame", status_code=400)
        return JSONResponse(await run_in_threadpool(session.holes, _index(request), frame))

    async def follow(request: Request) -> Response:
        try:
            boxes = await run_in_threadpool(session.follow, _index(request), await _json_body(request))
        except ValueError as exc:  # the body's refusals included
            return _refusal(exc)
        return JSONResponse({"boxes": boxes})

    async def export(request: Request) -> Response:
        return JSONResponse({"results": await run_in_threadpool(session.export)})

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    async def missing(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("not found", status_code=404)

    async def failed(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(str(exc), status_code=422)

    routes = [
        Route("/", page),
        Route("/favicon.ico", no_icon),
        Route("/assets/{name}", asset),
        Route("/api/files", files),
        Route("/api/files/{index:int}", entry, methods=["GET", "PATCH"]),
        Route("/api/files/{index:int}/picture", picture),
        Route("/api/files/{index:int}/crop", crop),
        Route("/api/files/{index:int}/follow", follow, methods=["POST"]),
        Route("/api/files/{index:int}/holes", gaps),
        Route("/api/export", export, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={KeyError: missing, UnseenError: failed})
    return Guard(app, token, port)


class ReviewServer:
    """The server on a free loopback port; :meth:`serve` blocks (Ctrl-C stops it), :meth:`start`
    runs it in a thread (for tests and embedding) until :meth:`stop`."""

    def __init__(self, session: ReviewSession, token: str | None = None) -> None:
        self.session = session
        self.token = token or secrets.token_urlsafe(32)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind((HOST, 0))
        self.socket.listen()  # from now on a browser's visit waits for the server, whatever starts first
        self.port = self.socket.getsockname()[1]
        self.guard = create_app(session, self.token, self.port)
        config = uvicorn.Config(
            self.guard,
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,
            server_header=False,
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """The server's address, without the token."""
        return f"http://{HOST}:{self.port}/"

    @property
    def url(self) -> str:
        """The address to open, token included."""
        return f"{self.address}?token={self.token}"

    def browser_url(self) -> str:
        """An address that opens the page once, without the token: for a browser's command line."""
        return f"{self.address}?code={self.guard.issue_code()}"

    @contextlib.contextmanager
    def stopped_by_signals(self) -> Iterator[None]:
        """Ctrl-C (or SIGTERM) in this block asks the server to stop instead of raising.

        Wrap it around printing the address and :meth:`serve`: a person (or a script) may press
        Ctrl-C before uvicorn takes the signals over, and a KeyboardInterrupt raised then can land in
        a weakref callback or a finaliser, where Python prints it and drops it, and the review then
        never stops. Main thread only, as every signal handler."""
        wanted = [signal.SIGINT, signal.SIGTERM]
        previous = {sig: signal.signal(sig, self.server.handle_exit) for sig in wanted}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def serve(self) -> None:
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.session.close()
            self.socket.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve, daemon=True)
        self._thread.start()
        while not self.server.started and self._thread.is_alive():
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join()
