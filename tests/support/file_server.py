"""A loopback HTTP file server in a thread, for download tests: Range support that can be turned off, a
connection cut after N bytes, a status to answer with, and a count of the body bytes it sent."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FileServer:
    data: bytes
    ranges: bool = True
    cut_after: int | None = None  # the next response stops after this many body bytes, then closes
    status: int = 200
    etag: str | None = None  # sent as ETag; an If-Range that does not match it gets the whole file
    linked_etag: str | None = None  # sent as X-Linked-Etag, as Hugging Face publishes an LFS file's sha256
    bytes_sent: int = 0
    ranges_asked: list[str | None] = field(default_factory=list)
    port: int = 0

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


@contextmanager
def serving(server: FileServer) -> Iterator[FileServer]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            asked = self.headers.get("Range")
            server.ranges_asked.append(asked)
            if server.status != 200:
                self.send_error(server.status)
                return
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", asked or "") if server.ranges else None
            if_range = self.headers.get("If-Range")
            if match and if_range is not None and if_range != server.etag:
                match = None  # the file changed since the part was fetched: send all of it
            if match:
                start = int(match.group(1))
                if start >= len(server.data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(server.data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(server.data) - 1}/{len(server.data)}")
            else:
                self.send_response(200)
            if server.ranges:
                self.send_header("Accept-Ranges", "bytes")
            if server.etag:
                self.send_header("ETag", server.etag)
            if server.linked_etag:
                self.send_header("X-Linked-Etag", f'"{server.linked_etag}"')
            body = memoryview(server.data)[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            with lock:
                limit, server.cut_after = server.cut_after, None
            if limit is not None:
                body = body[:limit]
                self.close_connection = True
            for i in range(0, len(body), 1 << 16):
                piece = body[i : i + (1 << 16)]
                try:
                    self.wfile.write(piece)
                except (BrokenPipeError, ConnectionResetError):
                    return
                with lock:
                    server.bytes_sent += len(piece)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, name="file-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
