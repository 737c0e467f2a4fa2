"""minikws serve: the model as a web service, with a page that listens to the microphone."""

INSTALL_HINT = 'minikws serve needs the serve extra: pip install "minikws[serve]"'


def add_parser(p):
    p.add_argument("--model", metavar="MODEL.npz", required=True, help="a model written by minikws train")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 opens it "
                        "to the network: set --token then)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    p.add_argument("--token", help="require 'Authorization: Bearer TOKEN' on every route but /health "
                                   "(the page: open /?access_token=TOKEN)")
    p.add_argument("--max-body", type=int, default=10_000_000, metavar="BYTES",
                   help="largest /predict upload (default: 10000000); larger ones get 413")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes sharing the port (default: 1); each keeps its own /metrics")
    p.add_argument("--name", help="the model's name in answers and metrics (default: the file's name)")
    p.add_argument("--threshold", type=float, default=0.6,
                   help="smoothed posterior a keyword must reach on /stream to be detected (default: 0.6)")


def run(args):
    """Check the arguments, load the model and serve until interrupted."""
    import importlib.util

    from minikws._validate import check_positive_int, check_real
    from minikws.errors import MinikwsError

    if any(importlib.util.find_spec(m) is None for m in ("starlette", "uvicorn", "websockets")):
        raise MinikwsError(INSTALL_HINT)
    check_positive_int("--port", args.port, minimum=0)
    if args.port > 65535:
        raise MinikwsError(f"--port: expected 0..65535, got {args.port}")
    check_positive_int("--max-body", args.max_body)
    check_positive_int("--workers", args.workers)
    check_real("--threshold", args.threshold, low=0.0, high=1.0)
    if args.token is not None and (not args.token.strip() or not args.token.isprintable()):
        raise MinikwsError("--token: expected a non-empty printable string")

    from minikws.serve import run as serve

    try:
        serve(args.model, host=args.host, port=args.port, name=args.name, token=args.token,
              max_body=args.max_body, workers=args.workers, listener={"threshold": args.threshold})
    except KeyboardInterrupt:  # Ctrl-C is how a server is stopped: not an error
        pass
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:  # the address, not a file
            raise MinikwsError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
        raise
    return 0
