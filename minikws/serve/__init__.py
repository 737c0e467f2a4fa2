"""minikws serve: a trained model as a web service, and a page that listens to the microphone.

``pip install "minikws[serve]"`` adds what this package needs. :func:`create_app` builds the ASGI
application for one model (routes in :mod:`minikws.serve.app`), :func:`run` serves it with uvicorn
(:mod:`minikws.serve.server`), :mod:`minikws.serve.listen` runs a model on a live stream and
:mod:`minikws.serve.metrics` counts what was served.

Why Starlette with uvicorn (and not aiohttp, Flask or FastAPI): the service needs plain HTTP routes, a
WebSocket, streamed request bodies (to refuse an oversized upload before it is read whole) and worker
threads for the model, and Starlette has each of them in a small, typed, well-kept library of a few
thousand lines that a student can read; uvicorn is the reference ASGI server, and both are pure Python
wheels with no C build. FastAPI is Starlette plus request validation and OpenAPI that six routes do not
need; aiohttp would do as well but brings its own HTTP parser in C and its own framework idioms; a WSGI
framework (Flask) has no WebSocket and would block a thread per stalled client.
"""
from minikws.serve.app import create_app, predict_clip
from minikws.serve.listen import WindowListener, listener_for
from minikws.serve.server import run, serving

__all__ = ["create_app", "predict_clip", "run", "serving", "WindowListener", "listener_for"]
