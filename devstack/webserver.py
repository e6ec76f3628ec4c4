"""The local web front (port 8100): the SPA's build, a runtime /config.json, and /api proxied to the API.

It plays the role nginx plays in the compose stack, so the browser sees one origin in both. Run as
`python -m devstack.webserver` with its settings in DEVSTACK_WEB_HOST, DEVSTACK_WEB_PORT, DEVSTACK_WEB_DIST,
DEVSTACK_API_UPSTREAM and DEVSTACK_WEB_CONFIG (devstack sets them; tests/e2e starts it the same way, so keep
these names stable).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

# Connection-level headers are for one hop only (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "proxy-connection"}
)  # fmt: skip
NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>City Tasks</title></head>
<body><h1>The frontend is not built</h1><p>Run <code>npm ci &amp;&amp; npm run build</code> in
<code>frontend/</code>, or restart <code>make dev</code> without <code>--skip-build</code>.
The API is proxied at <a href="/api/tasks">/api</a>.</p></body></html>"""
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def create_app(*, api_upstream: str, config: dict[str, str], dist: Path | None) -> Starlette:
    dist_root = dist.resolve() if dist and (dist / "index.html").is_file() else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(
            base_url=api_upstream, timeout=httpx.Timeout(60.0, connect=5.0), trust_env=False
        ) as client:
            app.state.client = client
            yield

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def config_json(_: Request) -> Response:
        return JSONResponse(config, headers={"Cache-Control": "no-store"})

    async def proxy(request: Request) -> Response:
        client: httpx.AsyncClient = request.app.state.client
        headers = [(k, v) for k, v in request.headers.raw if k.decode("latin-1").lower() not in HOP_BY_HOP]
        peer = request.client.host if request.client else "127.0.0.1"
        forwarded_for = ", ".join(filter(None, [request.headers.get("x-forwarded-for"), peer]))
        headers += [
            (b"x-forwarded-for", forwarded_for.encode("latin-1")),
            (b"x-forwarded-proto", request.url.scheme.encode("latin-1")),
            (b"x-forwarded-host", request.headers.get("host", "").encode("latin-1")),
        ]
        upstream_request = client.build_request(
            request.method,
            httpx.URL(path=request.url.path, query=request.url.query.encode("latin-1")),
            headers=headers,  # Host is kept, so the API's Location headers point at this origin
            content=request.stream(),
        )
        try:
            upstream = await client.send(upstream_request, stream=True)
        except httpx.TimeoutException:
            return _problem(504, "Gateway Timeout", "The Tasks API did not answer in time.")
        except httpx.TransportError:
            return _problem(502, "Bad Gateway", f"The Tasks API at {api_upstream} cannot be reached.")
        response = StreamingResponse(
            upstream.aiter_raw(), status_code=upstream.status_code, background=BackgroundTask(upstream.aclose)
        )
        # Raw pairs keep repeated headers (Set-Cookie, Link) and the upstream's content encoding and length.
        response.raw_headers = [
            (k, v) for k, v in upstream.headers.raw if k.decode("latin-1").lower() not in HOP_BY_HOP
        ]
        return response

    async def static(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed", status_code=405)
        if dist_root is None:
            return HTMLResponse(NOT_BUILT)
        relative = request.path_params.get("path", "")
        candidate = (dist_root / relative).resolve()
        if not candidate.is_relative_to(dist_root):
            return PlainTextResponse("Not Found", status_code=404)
        if candidate.is_dir():
            candidate = candidate / "index.html"
        if candidate.is_file():
            cache = "public, max-age=31536000, immutable" if relative.startswith("assets/") else "no-cache"
            return FileResponse(candidate, headers={"Cache-Control": cache})
        if "." in Path(relative).name:  # a missing file, not a client-side route
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(dist_root / "index.html", headers={"Cache-Control": "no-cache"})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            Route("/config.json", config_json, methods=["GET", "HEAD"]),
            Route("/api", proxy, methods=ALL_METHODS),
            Route("/api/{rest:path}", proxy, methods=ALL_METHODS),
            Route("/{path:path}", static, methods=ALL_METHODS),
        ],
        lifespan=lifespan,
    )


def app_from_env() -> Starlette:
    dist = os.environ.get("DEVSTACK_WEB_DIST") or None
    return create_app(
        api_upstream=os.environ["DEVSTACK_API_UPSTREAM"],
        config=json.loads(os.environ["DEVSTACK_WEB_CONFIG"]),
        dist=Path(dist) if dist else None,
    )


def main() -> None:
    import uvicorn

    uvicorn.run(
        app_from_env(),
        host=os.environ.get("DEVSTACK_WEB_HOST", "127.0.0.1"),
        port=int(os.environ.get("DEVSTACK_WEB_PORT", "8100")),
        log_level="info",
        timeout_graceful_shutdown=3,
    )


if __name__ == "__main__":
    main()
