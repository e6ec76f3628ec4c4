"""A small web server for the e2e tests: the built app (with SPA fallback), a runtime /config.json, and /api
proxied to the Tasks API, like the nginx in front of the original app. 127.0.0.1 only; runs in a thread."""

from __future__ import annotations

import json
import mimetypes
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-encoding",
    "accept-encoding",
}


class WebServer:
    """Serve ``dist`` at http://127.0.0.1:{port}; ``/api/...`` goes to ``api_url``."""

    def __init__(self, dist: Path, config: dict[str, Any], api_url: str | None, port: int = 0) -> None:
        self.dist = dist.resolve()
        self.config = config
        self.api_url = api_url.rstrip("/") if api_url else None
        self._client = httpx.Client(timeout=30.0)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="e2e-web", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def __enter__(self) -> WebServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._client.close()
        self._thread.join(timeout=10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet test output
                return

            def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _proxy(self) -> None:
                if server.api_url is None:
                    self._send(502, b'{"title":"no API configured"}', "application/problem+json")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                try:
                    upstream = server._client.request(
                        self.command, server.api_url + self.path, content=body, headers=headers
                    )
                except httpx.HTTPError:
                    body = b'{"title":"the API cannot be reached","status":502}'
                    self._send(502, body, "application/problem+json")
                    return
                self.send_response(upstream.status_code)
                for key, value in upstream.headers.multi_items():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(upstream.content)

            def _static(self) -> None:
                path = urlsplit(self.path).path
                if path == "/config.json":
                    self._send(200, json.dumps(server.config).encode(), "application/json")
                    return
                candidate = (server.dist / path.lstrip("/")).resolve()
                if not candidate.is_relative_to(server.dist):
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
                    return
                if candidate.is_file():
                    kind = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
                    self._send(200, candidate.read_bytes(), kind)
                elif path.startswith("/assets/"):
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
                else:  # a client-side route: the app decides what to show
                    self._send(200, (server.dist / "index.html").read_bytes(), "text/html; charset=utf-8")

            def _dispatch(self) -> None:
                if self.path == "/api" or self.path.startswith("/api/"):
                    self._proxy()
                elif self.command in {"GET", "HEAD"}:
                    self._static()
                else:
                    self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed", "text/plain")

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

        return Handler
