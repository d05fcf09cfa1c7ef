"""An ASGI app served by uvicorn in a thread of the test, on a free loopback port: for the tests
that need a real HTTP server (the browser, the Go interop check, the access log)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def bound_socket() -> socket.socket:
    """A listening-ready socket on a free loopback port, handed to uvicorn (no race for it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def served(app: Any, **config: Any) -> Iterator[str]:
    """`app` under uvicorn until the block ends; its URL. `config` goes to uvicorn.Config (by
    default warnings only, no lifespan)."""
    sock = bound_socket()
    options: dict[str, Any] = {"log_level": "warning", "lifespan": "off"} | config
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive(), "the server thread ended before it started"
            assert time.monotonic() < deadline, "the server did not start within 15 s"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert not thread.is_alive(), "the server did not stop within 10 s"
