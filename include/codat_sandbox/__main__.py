"""Command line: ``python -m codat_sandbox serve [options]`` runs the sandbox until SIGINT/SIGTERM.

On start it prints (flushed) two lines that scripts parse::

    Base URL: http://127.0.0.1:PORT
    API key: KEY
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import secrets
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import orjson

from codat_sandbox import seed
from codat_sandbox.app import Sandbox
from codat_sandbox.faults import FaultConfig, FaultInjector
from codat_sandbox.ratelimit import RateLimiter
from codat_sandbox.schemas import PushSchemas
from codat_sandbox.store import Store


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m codat_sandbox",
                                     description="Local Codat-compatible API.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the sandbox API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--state", help="SQLite file that keeps state across restarts (default: memory only)")
    serve.add_argument("--api-key", help="default: $CODAT_SANDBOX_API_KEY, else a random key")
    serve.add_argument("--admin", action="store_true", help="enable /admin/* for loopback clients")
    serve.add_argument("--seed-demo", type=int, default=0, metavar="N", help="create N demo companies")
    serve.add_argument("--push-delay-ms", type=float, default=50.0, help="time a push stays Pending")
    serve.add_argument("--latency-ms", type=float, default=None, help="added to every request")
    serve.add_argument("--faults", help="JSON file of fault settings (see codat_sandbox.faults.FaultConfig)")
    serve.add_argument("--daily-quota", type=int, default=None,
                       help="requests per UTC day (default unlimited)")
    serve.add_argument("--max-concurrency", type=int, default=10, help="concurrent requests per company")
    serve.add_argument("--read-lag-seconds", type=float,
                       default=_env_float("CODAT_SANDBOX_READ_LAG_SECONDS", 0.0),
                       help="pushed records show in reads only this long after they land, or after "
                            "POST /companies/{id}/data/queue/{dataType} (default: "
                            "$CODAT_SANDBOX_READ_LAG_SECONDS, else 0 = at once)")
    serve.add_argument("--oas-dir", default=os.environ.get("CODAT_SANDBOX_OAS_DIR") or None,
                       help="folder holding Codat-Accounting.yaml: push bodies are checked against its "
                            "request schemas (default: $CODAT_SANDBOX_OAS_DIR, else the sandbox's own copy "
                            "of them)")
    serve.add_argument("--workers", type=int, default=1, help="only 1 is supported (state is in memory)")
    serve.add_argument("--log-level", default="warning")
    return parser


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number of seconds") from None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: the event loop sets TCP_NODELAY on accepted connections only for
    # sockets whose protocol says TCP; without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.workers != 1:
        print("--workers: only 1 worker is supported (state lives in one process)", file=sys.stderr)
        return 2
    config = FaultConfig()
    if args.faults:
        config = FaultConfig.from_dict(orjson.loads(Path(args.faults).read_bytes()))
    if args.latency_ms is not None:
        config.latency_ms = args.latency_ms
    api_key = args.api_key or os.environ.get("CODAT_SANDBOX_API_KEY") or secrets.token_urlsafe(24)
    try:
        schemas = PushSchemas.from_oas_dir(args.oas_dir) if args.oas_dir else PushSchemas.builtin()
    except FileNotFoundError as exc:
        print(f"--oas-dir: {exc}", file=sys.stderr)
        return 2
    store = Store(args.state, push_delay=args.push_delay_ms / 1000, schemas=schemas)
    for index in range(1, args.seed_demo + 1):
        demo = seed.demo_company(index)
        store.create_company(demo["name"], demo["baseCurrency"], demo["platform"], company_id=demo["id"])
    if args.read_lag_seconds < 0:
        print("--read-lag-seconds must be 0 or more", file=sys.stderr)
        return 2
    sandbox = Sandbox(store, api_key, admin=args.admin, faults=FaultInjector(config),
                      limiter=RateLimiter(args.max_concurrency, args.daily_quota),
                      read_lag_seconds=args.read_lag_seconds)
    _settle_garbage_collector()
    sock = _bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    print(f"Base URL: http://{shown_host}:{port}", flush=True)
    print(f"API key: {api_key}", flush=True)
    server = uvicorn.Server(uvicorn.Config(
        sandbox.asgi(), log_level=args.log_level, access_log=False, lifespan="off",
        timeout_keep_alive=30, server_header=False, date_header=False, http=_http_protocol(),
    ))
    # uvicorn re-raises the stop signal after a graceful shutdown; these handlers absorb it so the
    # process exits with status 0 after SIGINT/SIGTERM.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: None)
    try:
        _run(server.serve(sockets=[sock]))
    finally:
        store.close()
    return 0


def _settle_garbage_collector() -> None:
    """What exists before the first request (modules, compiled schemas, the state loaded from the file)
    is kept for the process's life: frozen out of the collector's passes, which then walk only what the
    requests made; and a young-generation pass every 10,000 net allocations instead of 700, so the
    short-lived objects of a request (its parsed body, its views) are mostly freed before one walks them.
    Only when cycles are collected changes, never what is answered."""
    gc.collect()
    gc.freeze()
    _threshold, second, third = gc.get_threshold()
    gc.set_threshold(10_000, second, third)


def _http_protocol() -> Any:
    """httptools with each answer's head and body in one write (:mod:`codat_sandbox.serving`), where
    httptools is installed; else uvicorn's own choice."""
    try:
        from codat_sandbox.serving import CoalescingHttpToolsProtocol
    except ImportError:
        return "auto"
    return CoalescingHttpToolsProtocol


def _run(main_coroutine) -> None:
    """Run the server on uvloop where it is installed (about a third less CPU per request), else asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main_coroutine)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main_coroutine)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
