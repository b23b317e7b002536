"""A local HTTP file server for download tests (127.0.0.1 only: no test touches the internet).

It serves ``files`` by URL path, honours ``Range: bytes=N-`` (for resumed downloads), logs every
request with its Range header, and can answer with an error status, stop a body halfway or leave
out the Content-Length header (the body then ends when the connection closes).
Tests take it as the ``server`` fixture (tests/conftest.py).
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sadtalker_core.official_files import ModelFile


@dataclass
class FileServer:
    """Serves ``files`` by URL path, honours ``Range: bytes=N-``, and logs every request's Range header."""

    base: str
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    cut_next: set[str] = field(default_factory=set)  # paths whose next answer stops halfway
    status: dict[str, int] = field(default_factory=dict)  # paths answered with this error status
    no_length: set[str] = field(default_factory=set)  # paths answered without a Content-Length header

    def spec(self, name: str, sha256: str | None = None, size: int | None = None) -> ModelFile:
        return ModelFile(name, f"{self.base}/{name}", size, sha256)


@contextmanager
def serving() -> Iterator[FileServer]:
    """A server on a free port of 127.0.0.1 while the block runs."""
    state = FileServer(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.lstrip("/")
            requested = self.headers.get("Range")
            state.requests.append((name, requested))
            if name in state.status:
                self.send_error(state.status[name])
                return
            if name not in state.files:
                self.send_error(404)
                return
            data = state.files[name]
            start = int(re.fullmatch(r"bytes=(\d+)-", requested).group(1)) if requested else 0
            if start >= len(data) and requested:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = data[start:]
            self.send_response(206 if requested else 200)
            if name not in state.no_length:
                self.send_header("Content-Length", str(len(body)))
            if requested:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if name in state.cut_next:
                state.cut_next.discard(name)
                body = body[: len(body) // 2]
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
