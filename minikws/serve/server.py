"""Running the application with uvicorn: loopback by default, timeouts, one or several processes.

uvicorn gives every connection its own coroutine, so a client that stalls costs the others nothing;
what it does not do is time out a client that never finishes its request *headers* (the application
only sees a request once its headers are complete; the body has its own limit in
:mod:`minikws.serve.app`). :class:`HeaderTimeoutH11Protocol` adds that: a connection that has not
delivered a complete request line and headers within ``header_timeout`` seconds of opening (or of its
previous answer) is closed.
"""
import contextlib
import inspect
import json
import logging
import os
import socket
import time

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["run", "serving", "bind", "uvicorn_config", "HeaderTimeoutH11Protocol", "app_from_environment"]

# Settings for the worker processes of --workers N travel in this environment variable.
ENV = "MINIKWS_SERVE_SETTINGS"
HEADER_TIMEOUT = 10.0


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers do not arrive in time."""

    def __init__(self, config, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        # A plain attribute of the config, so that it reaches worker processes with it (pickled).
        self.header_timeout = getattr(config, "minikws_header_timeout", HEADER_TIMEOUT)

    def connection_made(self, transport):
        super().connection_made(transport)
        self._arm_header_timer()

    def on_response_complete(self):
        super().on_response_complete()
        self._arm_header_timer()

    def connection_lost(self, exc):
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self):
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timeout_expired)

    def _cancel_header_timer(self):
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _header_timeout_expired(self):
        self._header_timer = None
        # h11 stays IDLE on the client's side until a whole request line and headers have arrived;
        # after an upgrade to a WebSocket the transport belongs to another protocol.
        if (not self.transport.is_closing() and self.transport.get_protocol() is self
                and self.conn.their_state is h11.IDLE):
            self.transport.close()


def bind(host, port):
    """A listening TCP socket on (host, port), inheritable by worker processes; OSError if it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class PerConnectionLines(logging.Filter):
    """Drop uvicorn's own lines about each WebSocket ("[accepted]", "connection open", ...).

    :class:`minikws.serve.app.Guard` writes one line per request already, and uvicorn's would print the
    query string, which may hold the page's ``access_token``.
    """

    MODULES = {"websockets_impl", "websockets_sansio_impl", "wsproto_impl"}

    def filter(self, record):
        return not (record.module in self.MODULES
                    or record.getMessage() in ("connection open", "connection closed"))


def _log_config():
    """uvicorn's start-up messages and minikws' one line per request, both on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr",
               "filters": ["connections"]}
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(message)s"}},
            "filters": {"connections": {"()": PerConnectionLines}},
            "handlers": {"stderr": handler},
            "loggers": {"uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
                        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
                        "minikws.serve": {"handlers": ["stderr"], "level": "INFO", "propagate": False}}}


def _build(settings):
    from minikws import io
    from minikws.serve.app import create_app

    model = io.load_model(settings["model_path"])
    return create_app(model, name=settings["name"], token=settings["token"], max_body=settings["max_body"],
                      body_timeout=settings["body_timeout"], idle_timeout=settings["idle_timeout"],
                      max_streams=settings["max_streams"], inference_threads=settings["inference_threads"],
                      listener_settings=settings["listener"])


@contextlib.contextmanager
def serving(app, *, host="127.0.0.1", port=0, header_timeout=HEADER_TIMEOUT, timeout=30.0):
    """Serve ``app`` from a background thread while the ``with`` block runs (tests, notebooks, benchmarks).

    Parameters
    ----------
    app : ASGI application
        As :func:`minikws.serve.create_app` returns it.
    host : str
    port : int
        0 picks a free port.
    header_timeout : float
        As :func:`run`.
    timeout : float
        Seconds to wait for the server to start, and to stop.

    Yields
    ------
    str
        The base URL, e.g. ``"http://127.0.0.1:41234"``.
    """
    import threading

    import uvicorn

    sock = bind(host, port)
    server = uvicorn.Server(uvicorn_config(app, host=host, port=sock.getsockname()[1],
                                           header_timeout=header_timeout))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="minikws-serve")
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        bracket = f"[{host}]" if ":" in host else host
        yield f"http://{bracket}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


def app_from_environment():
    """The application a worker process of ``--workers N`` builds from the settings in ``$MINIKWS_SERVE_SETTINGS``."""
    return _build(json.loads(os.environ[ENV]))


def uvicorn_config(app, *, host, port, header_timeout=HEADER_TIMEOUT, workers=1, ws_max_size=1 << 20, **extra):
    """The uvicorn.Config the service runs with (also used by the tests and the benchmark)."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, http=HeaderTimeoutH11Protocol, ws="auto",
                            ws_max_size=ws_max_size, access_log=False, log_config=_log_config(),
                            server_header=False, timeout_keep_alive=5, workers=workers,
                            timeout_graceful_shutdown=5, **extra)
    config.minikws_header_timeout = header_timeout
    return config


def run(model_path, *, host="127.0.0.1", port=8000, name=None, token=None, max_body=10_000_000,
        workers=1, body_timeout=10.0, header_timeout=HEADER_TIMEOUT, idle_timeout=60.0, max_streams=64,
        inference_threads=None, listener=None):
    """Serve a model file until interrupted (``minikws serve``).

    Parameters
    ----------
    model_path : str
        A model written by ``minikws train``.
    host, port
        Where to listen; loopback unless told otherwise.
    name : str, optional
        The model's name in answers and metrics (default: the file's name without ``.npz``).
    token, max_body, body_timeout, idle_timeout, max_streams, inference_threads
        As :func:`minikws.serve.app.create_app`.
    workers : int
        Server processes sharing the port (each loads the model and keeps its own metrics).
    header_timeout : float
        Seconds a connection may take to deliver its request headers.
    listener : dict, optional
        Settings of the stream listener.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    settings = {"model_path": os.fspath(model_path), "token": token, "max_body": max_body,
                "name": name or os.path.splitext(os.path.basename(os.fspath(model_path)))[0],
                "body_timeout": body_timeout, "idle_timeout": idle_timeout, "max_streams": max_streams,
                "inference_threads": inference_threads, "listener": listener or {}}
    app = _build(settings)  # load and check everything in this process first: errors are one line here
    if workers > 1:
        os.environ[ENV] = json.dumps(settings)
        config = uvicorn_config("minikws.serve.server:app_from_environment", host=host, port=port,
                                header_timeout=header_timeout, workers=workers, factory=True)
    else:
        config = uvicorn_config(app, host=host, port=port, header_timeout=header_timeout)
    logger = logging.getLogger("minikws.serve")
    logger.info("serving %s (%s) on http://%s:%d/", settings["name"], settings["model_path"], host, port)
    if host not in ("127.0.0.1", "::1", "localhost") and token is None:
        logger.warning("listening on %s without --token: anyone who can reach this machine can use it", host)
    sock = bind(host, port)  # here, so that a busy port is one line of error rather than uvicorn's exit
    if workers > 1:
        # As uvicorn.run does it: the worker processes share the one listening socket.
        # (Older uvicorn releases also want the function each worker runs.)
        extra = {"target": uvicorn.Server(config).run} if "target" in inspect.signature(Multiprocess).parameters else {}
        Multiprocess(config, sockets=[sock], **extra).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])
