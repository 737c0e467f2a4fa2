"""The ASGI application: routes, the guard around them, and the answers.

========================  ===========================================================================
``GET /``                 the listening page (``static/``), ``GET /static/NAME`` its script and style
``GET /health``           ``{"status": "ok", "model": NAME}``, never behind the token
``GET /metrics``          Prometheus text (:mod:`minikws.serve.metrics`)
``GET /model``            the model's name, labels, sample rate and the stream listener's settings
``POST /predict``         a WAV body -> ``{label, probability, top, duration, model}``
``WebSocket /stream``     the sample rate, then 16-bit PCM chunks -> posteriors and detections
========================  ===========================================================================

Every error is JSON, ``{"error": "one line", "status": CODE}``. The guard (:class:`Guard`, a plain
ASGI middleware around the Starlette app) checks the token, times each request, counts it in the
metrics and writes its one log line; the handlers below only answer.
"""
import asyncio
import hmac
import json
import logging
import os
import time
import urllib.parse
from pathlib import Path

import anyio
import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from minikws._validate import check_positive_int, check_real
from minikws.audio import AudioError, decode_wav
from minikws.errors import MinikwsError
from minikws.serve.listen import keyword_classes, listener_for
from minikws.serve.metrics import CONTENT_TYPE, Metrics

__all__ = ["create_app", "predict_clip", "WAV_TYPES", "DEFAULT_MAX_BODY"]

log = logging.getLogger("minikws.serve")

WAV_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave")
DEFAULT_MAX_BODY = 10_000_000
STATIC = Path(__file__).parent / "static"
# name -> media type of the files the page loads; nothing else under static/ is served.
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8",
                "capture-worklet.js": "text/javascript; charset=utf-8",
                "style.css": "text/css; charset=utf-8"}
ROUTES = ("/", "/health", "/metrics", "/model", "/predict", "/stream")
# The page loads only what the server serves, and talks only to the server.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                           "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
                "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff"}


def predict_clip(model, y, sr, *, top=1, name="model"):
    """The answer of ``POST /predict`` for one clip: what ``minikws predict --json`` prints for it.

    Parameters
    ----------
    model : minikws.models.KWSModel
    y : ndarray (S,)
        float32 samples, as :func:`minikws.audio.load_wav` returns them.
    sr : int
        Their rate; the model resamples.
    top : int
        Length of the ``top`` list (at most C).
    name : str
        The model's name, echoed as ``model``.

    Returns
    -------
    dict
        ``label`` and ``probability`` of the most probable class, ``top`` the ``top`` most probable
        ``{label, probability}`` in decreasing order (ties in class order), ``duration`` in seconds,
        ``model``.
    """
    probs = model.predict_proba([y], sr=sr)[0]
    order = np.argsort(-probs, kind="stable")[:top]
    best = int(order[0])
    return {"label": model.classes[best], "probability": float(probs[best]),
            "top": [{"label": model.classes[k], "probability": float(probs[k])} for k in order],
            "duration": y.size / sr, "model": name}


def _error(status, message, headers=None):
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def _route_of(path):
    """The route pattern a path belongs to, for metrics and logs (unknown paths are "other")."""
    if path in ROUTES:
        return path
    if path.startswith("/static/"):
        return "/static"
    return "other"


class Guard:
    """ASGI middleware: the bearer token, timing, metrics and one log line per request.

    Parameters
    ----------
    app : ASGI application
    metrics : Metrics
    token : str or None
        When set, every route but ``/health`` needs ``Authorization: Bearer TOKEN`` or, where a browser
        cannot send headers (opening the page, a WebSocket), the query parameter ``access_token=TOKEN``
        (RFC 6750, section 2.3). Anything else is answered 401.
    """

    def __init__(self, app, *, metrics, token=None):
        self.app, self.metrics = app, metrics
        self.token = None if token is None else token.encode()

    def authorized(self, scope):
        if self.token is None or scope["path"] == "/health":
            return True
        presented = []
        for key, value in scope.get("headers", ()):
            if key == b"authorization" and value[:7].lower() == b"bearer ":
                presented.append(value[7:].strip())
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
        presented += [t.encode("latin-1", "replace") for t in query.get("access_token", ())]
        # compare_digest: the time taken does not tell how many leading characters were right.
        return any(hmac.compare_digest(t, self.token) for t in presented)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        route = _route_of(scope["path"])
        peer = "%s:%s" % tuple(scope["client"]) if scope.get("client") else "-"
        seen = {"status": None, "bytes": 0, "close": None}

        async def watch(message):
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start"):
                seen["status"] = message["status"]
            elif kind in ("http.response.body", "websocket.http.response.body"):
                seen["bytes"] += len(message.get("body", b""))
            elif kind == "websocket.accept":
                seen["status"] = 101
            elif kind == "websocket.close":
                seen["close"] = message.get("code", 1000)
                seen["status"] = seen["status"] or 403  # closed before accepting: the handshake fails
            await send(message)

        try:
            if not self.authorized(scope):
                await self.deny(scope, receive, watch)
            else:
                await self.app(scope, receive, watch)
        finally:
            seconds = time.perf_counter() - started
            status = seen["status"] or 500
            if scope["type"] == "http":
                self.metrics.observe(route=route, method=scope["method"], status=status, seconds=seconds)
                log.info('%s "%s %s" %d %.1f ms %d B', peer, scope["method"], scope["path"], status,
                         1000 * seconds, seen["bytes"])
            else:
                self.metrics.observe(route=route, method="WEBSOCKET", status=status, seconds=None)
                log.info('%s "WEBSOCKET %s" %d closed %s after %.1f s', peer, scope["path"], status,
                         seen["close"] if seen["close"] is not None else "by the client", seconds)

    async def deny(self, scope, receive, send):
        response = _error(401, "missing or wrong token: send the header 'Authorization: Bearer TOKEN'",
                          headers={"WWW-Authenticate": 'Bearer realm="minikws"'})
        if scope["type"] == "http":
            await response(scope, receive, send)
        elif "websocket.http.response" in scope.get("extensions", {}):
            await receive()  # websocket.connect
            await response({**scope, "type": "websocket.http"}, receive, _as_denial(send))
        else:
            await receive()
            await send({"type": "websocket.close", "code": 1008})


def _as_denial(send):
    """Turn an HTTP response's messages into the WebSocket denial extension's."""
    async def denial_send(message):
        await send({**message, "type": "websocket." + message["type"]})
    return denial_send


class _Service:
    """The handlers, over one loaded model and the server's settings (see :func:`create_app`)."""

    def __init__(self, model, *, name, metrics, max_body, body_timeout, idle_timeout, max_streams,
                 inference_threads, listener_settings):
        self.model, self.name, self.metrics = model, name, metrics
        self.max_body, self.body_timeout, self.idle_timeout = max_body, body_timeout, idle_timeout
        self.max_streams = max_streams
        self.limiter = anyio.CapacityLimiter(inference_threads)
        self.listener_settings = dict(listener_settings)
        self.static = {name: (STATIC / name).read_bytes() for name in STATIC_FILES}
        self.page = (STATIC / "index.html").read_text(encoding="utf-8")
        # Build one listener now, so that bad settings fail at start-up and /model can report them.
        probe = listener_for(model, sr=model.sr, **self.listener_settings)
        self.listener_info = {"kind": type(probe).__name__, "window": probe.window, "hop": probe.hop,
                              "smooth": probe.smooth, "threshold": probe.threshold,
                              "refractory": probe.refractory}

    async def run(self, fn, *args):
        """Run model code in a worker thread, so that the event loop keeps serving others meanwhile."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    # ------------------------------------------------------------------------------ plain routes
    async def page_route(self, request):
        token = request.query_params.get("access_token")
        auth = "?access_token=" + urllib.parse.quote(token, safe="") if token else ""
        html = self.page.replace("{{auth}}", auth.replace("&", "&amp;"))
        return Response(html, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    async def static_route(self, request):
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            raise HTTPException(404, f"no static file {name!r}")
        return Response(self.static[name], media_type=STATIC_FILES[name], headers=PAGE_HEADERS)

    async def health(self, request):
        return JSONResponse({"status": "ok", "model": self.name})

    async def metrics_route(self, request):
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)

    async def model_route(self, request):
        m = self.model
        return JSONResponse({"model": self.name, "classes": list(m.classes), "sr": m.sr,
                             "keywords": [m.classes[k] for k in keyword_classes(m.classes)],
                             "listener": self.listener_info, "max_body": self.max_body})

    # ---------------------------------------------------------------------------------- /predict
    async def predict(self, request):
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in WAV_TYPES:
            raise HTTPException(415, f"expected Content-Type audio/wav or audio/x-wav, got {media or 'none'!r}")
        top = request.query_params.get("top", "1")
        if not top.isdigit() or not 1 <= int(top) <= len(self.model.classes):
            raise HTTPException(400, f"top: expected an integer in [1, {len(self.model.classes)}], got {top!r}")
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise HTTPException(400, f"Content-Length: expected a number of bytes, got {length!r}")
            if int(length) > self.max_body:
                raise HTTPException(413, f"body of {int(length)} bytes is over the limit of {self.max_body}")
        body = await self.read_body(request)
        try:
            y, sr = decode_wav(body, name="request body")
            return JSONResponse(await self.run(lambda: predict_clip(self.model, y, sr, top=int(top),
                                                                    name=self.name)))
        except MinikwsError as exc:  # AudioError, or a rate the model cannot resample from
            raise HTTPException(400, str(exc).splitlines()[0]) from None

    async def read_body(self, request):
        """The body, refused with 413 as soon as it passes the limit and 408 if it stalls."""
        chunks, size = [], 0

        async def read():
            nonlocal size
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body:
                    raise HTTPException(413, f"body is over the limit of {self.max_body} bytes")
                chunks.append(chunk)

        try:
            await asyncio.wait_for(read(), self.body_timeout)
        except asyncio.TimeoutError:
            raise HTTPException(408, f"the body did not arrive within {self.body_timeout:g} s") from None
        return b"".join(chunks)

    # ----------------------------------------------------------------------------------- /stream
    async def stream(self, ws):
        """The stream protocol (see :func:`create_app`); one listener per connection."""
        if self.metrics.streams_open >= self.max_streams:
            await ws.close(code=1013, reason="too many streams; try again later")
            return
        self.metrics.stream_opened()  # before the first await, so that concurrent handshakes count
        try:
            await ws.accept()
            await self._stream(ws)
        except _StreamError as exc:
            await self._close(ws, {"type": "error", "error": str(exc)}, exc.code, str(exc)[:120])
        except asyncio.TimeoutError:
            await self._close(ws, {"type": "error", "error": f"nothing received for {self.idle_timeout:g} s"},
                              1008, "idle")
        except WebSocketDisconnect:  # the client went away while we were answering
            pass
        finally:
            self.metrics.stream_closed()

    @staticmethod
    async def _close(ws, message, code, reason):
        try:
            await ws.send_json(message)
            await ws.close(code=code, reason=reason)
        except WebSocketDisconnect:
            pass

    async def _receive(self, ws):
        message = await asyncio.wait_for(ws.receive(), self.idle_timeout)
        return None if message["type"] == "websocket.disconnect" else message

    async def _stream(self, ws):
        first = await self._receive(ws)
        if first is None:
            return
        listener = await self.run(self._make_listener, first.get("text"))
        await ws.send_json({"type": "ready", "model": self.name, "classes": list(listener.classes),
                            "sr": listener.sr, "model_sr": self.model.sr, "listener": self.listener_info})
        while True:
            message = await self._receive(ws)
            if message is None:
                return
            if message.get("bytes") is not None:
                data = message["bytes"]
                if len(data) % 2:
                    raise _StreamError(f"a chunk of {len(data)} bytes is not 16-bit samples", 1003)
                samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / np.float32(2 ** 15)
                update = await self.run(listener.push, samples)
                self.metrics.heard(seconds=samples.size / listener.sr,
                                   labels=[d["label"] for d in update.detections])
                await self._send_update(ws, update)
            elif _is_flush(message.get("text")):
                await self._send_update(ws, await self.run(listener.flush))
                await ws.send_json({"type": "flushed"})
            else:
                raise _StreamError("after the sample rate, send binary 16-bit PCM chunks or "
                                   '{"type": "flush"}', 1003)

    def _make_listener(self, text):
        try:
            sr = json.loads(text) if text is not None else None
        except ValueError:
            sr = None
        if isinstance(sr, dict):
            sr = sr.get("sample_rate")
        if isinstance(sr, bool) or not isinstance(sr, int) or not 1000 <= sr <= 384000:
            raise _StreamError('first send the sample rate as text: {"sample_rate": 16000} '
                               f"(an integer in [1000, 384000]), got {str(text)[:40]!r}", 1003)
        try:
            return listener_for(self.model, sr=sr, **self.listener_settings)
        except MinikwsError as exc:
            raise _StreamError(f"sample_rate {sr}: {exc}", 1003) from None

    async def _send_update(self, ws, update):
        if len(update.times):
            await ws.send_json({"type": "posteriors", "times": [round(float(t), 4) for t in update.times],
                                "probs": np.round(update.posteriors.astype(np.float64), 4).tolist()})
        for d in update.detections:
            await ws.send_json({"type": "detection", **d})


def _is_flush(text):
    try:
        return json.loads(text) == {"type": "flush"}
    except (TypeError, ValueError):
        return False


class _StreamError(Exception):
    """A client's mistake on /stream: told to it as {"type": "error"}, then the socket is closed."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def create_app(model, *, name="model", token=None, max_body=DEFAULT_MAX_BODY, body_timeout=10.0,
               idle_timeout=60.0, max_streams=64, inference_threads=None, listener_settings=None):
    """The service for one model, as an ASGI application (run it with uvicorn: :func:`minikws.serve.run`).

    Parameters
    ----------
    model : minikws.models.KWSModel
    name : str
        How the model is called in answers, the page and ``/metrics``.
    token : str, optional
        Require it as a bearer token on every route but ``/health`` (see :class:`Guard`).
    max_body : int
        Largest ``/predict`` body in bytes; a longer one is refused with 413 before it is read whole.
    body_timeout : float
        Seconds a ``/predict`` body may take to arrive (408 after).
    idle_timeout : float
        Seconds a ``/stream`` may stay silent before the server closes it.
    max_streams : int
        Live ``/stream`` connections at most; more are closed with code 1013 (try again later).
    inference_threads : int, optional
        Model computations run at once in worker threads (default: the number of CPUs).
    listener_settings : dict, optional
        Settings of the stream listener (:class:`minikws.serve.listen.WindowListener`).

    Returns
    -------
    Guard
        The Starlette application wrapped in the guard.

    Notes
    -----
    The ``/stream`` protocol: the client's first message is text, its sample rate as JSON
    (``{"sample_rate": 16000}`` or just ``16000``); the server answers ``{"type": "ready", "classes",
    "sr", ...}``. Then the client sends binary messages of 16-bit little-endian mono PCM at that rate,
    of any length; after each the server sends ``{"type": "posteriors", "times": [N], "probs": [N][C]}``
    when hops completed and one ``{"type": "detection", label, time, start, end, score}`` per
    detection. The text ``{"type": "flush"}`` ends the stream's audio (answered by the last posteriors
    and ``{"type": "flushed"}``). A mistake is answered ``{"type": "error", "error"}`` and the socket is
    closed with code 1003.
    """
    if token is not None and (not isinstance(token, str) or not token.strip() or not token.isprintable()):
        raise MinikwsError("token: expected a non-empty printable string")
    metrics = Metrics(model=name, sr=model.sr, classes=model.classes)
    service = _Service(
        model, name=name, metrics=metrics, max_body=check_positive_int("max_body", max_body),
        body_timeout=check_real("body_timeout", body_timeout, low=0.01),
        idle_timeout=check_real("idle_timeout", idle_timeout, low=0.01),
        max_streams=check_positive_int("max_streams", max_streams),
        inference_threads=check_positive_int("inference_threads", inference_threads or os.cpu_count() or 1),
        listener_settings=listener_settings or {})

    async def http_error(request, exc):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}; use {exc.headers.get('Allow', '')}"
        elif exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.url.path}; the routes are {', '.join(ROUTES)}"
        return _error(exc.status_code, detail, headers=exc.headers)

    async def server_error(request, exc):
        log.exception("while answering %s %s", request.method, request.url.path)
        return _error(500, "internal error; the server's log has the details")

    app = Starlette(
        routes=[Route("/", service.page_route, methods=["GET"]),
                Route("/static/{name}", service.static_route, methods=["GET"]),
                Route("/health", service.health, methods=["GET"]),
                Route("/metrics", service.metrics_route, methods=["GET"]),
                Route("/model", service.model_route, methods=["GET"]),
                Route("/predict", service.predict, methods=["POST"]),
                WebSocketRoute("/stream", service.stream)],
        exception_handlers={HTTPException: http_error, Exception: server_error})
    return Guard(app, metrics=metrics, token=token)
