"""The local web front over real HTTP: config.json, the SPA build and its routes, and the /api proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.net import free_port
from devstack.webserver import create_app
from tests.stack.servers import serving

pytestmark = pytest.mark.timeout(60)
CONFIG = {"apiUrl": "", "authority": "http://localhost:9229/us-east-1_LocalPool", "clientId": "web",
          "hostedUiDomain": "http://localhost:9229"}  # fmt: skip


async def _echo(request: Request) -> Response:
    body = await request.body()
    response = JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "host": request.headers.get("host"),
            "authorization": request.headers.get("authorization"),
            "forwardedFor": request.headers.get("x-forwarded-for"),
            "body": body.decode(),
        },
        status_code=201 if request.method == "POST" else 200,
        headers={"Location": f"http://{request.headers['host']}/api/tasks/7"},
    )
    response.raw_headers += [(b"link", b'</api/tasks?cursor=a>; rel="next"'), (b"link", b"</x>; rel=other")]
    return response


UPSTREAM = Starlette(routes=[Route("/api/{rest:path}", _echo, methods=["GET", "POST", "PUT", "DELETE"])])


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "dist" / "assets").mkdir(parents=True)
    (tmp_path / "dist" / "index.html").write_text("<!doctype html><title>app shell</title>")
    (tmp_path / "dist" / "assets" / "app-1234.js").write_text("console.log('hi')")
    (tmp_path / "secret.txt").write_text("outside the build")
    return tmp_path / "dist"


@pytest.fixture
def web(dist: Path) -> Iterator[str]:
    with serving(UPSTREAM) as api, serving(create_app(api_upstream=api, config=CONFIG, dist=dist)) as url:
        yield url


def test_config_json_is_served_uncached(web: str) -> None:
    response = httpx.get(f"{web}/config.json")
    assert response.status_code == 200
    assert response.json() == CONFIG
    assert response.headers["cache-control"] == "no-store"


def test_api_requests_reach_the_api_unchanged(web: str) -> None:
    response = httpx.post(
        f"{web}/api/tasks?status=ACT&q=a%20b",
        content=b'{"name": "water"}',
        headers={"Authorization": "Bearer abc", "Content-Type": "application/json"},
    )
    assert response.status_code == 201
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/api/tasks"
    assert echoed["query"] == "status=ACT&q=a%20b"
    assert echoed["authorization"] == "Bearer abc"
    assert echoed["body"] == '{"name": "water"}'
    assert echoed["forwardedFor"] == "127.0.0.1"
    # The browser's Host is kept, so the API's absolute links point at the web origin.
    assert echoed["host"] == web.removeprefix("http://")
    assert response.headers["location"] == f"{web}/api/tasks/7"
    assert response.headers.get_list("link") == ['</api/tasks?cursor=a>; rel="next"', "</x>; rel=other"]


def test_client_side_routes_get_the_app_shell(web: str) -> None:
    for path in ("/", "/tasks/42", "/auth/callback?code=x&state=y"):
        response = httpx.get(f"{web}{path}")
        assert response.status_code == 200, path
        assert "app shell" in response.text


def test_assets_are_served_and_cached_and_missing_files_are_404(web: str) -> None:
    asset = httpx.get(f"{web}/assets/app-1234.js")
    assert asset.text == "console.log('hi')"
    assert "immutable" in asset.headers["cache-control"]
    assert httpx.get(f"{web}/assets/missing-9999.js").status_code == 404


def test_files_outside_the_build_are_never_served(web: str) -> None:
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"):
        response = httpx.get(f"{web}{path}")
        assert "outside the build" not in response.text, path


def test_api_down_gives_a_problem_not_a_crash(dist: Path) -> None:
    dead_api = f"http://127.0.0.1:{free_port()}"
    with serving(create_app(api_upstream=dead_api, config=CONFIG, dist=dist)) as web:
        response = httpx.get(f"{web}/api/tasks")
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Bad Gateway"


def test_without_a_build_the_page_says_how_to_build(tmp_path: Path) -> None:
    with serving(create_app(api_upstream="http://127.0.0.1:9", config=CONFIG, dist=tmp_path / "none")) as web:
        response = httpx.get(f"{web}/tasks")
        assert response.status_code == 200
        assert "npm run build" in response.text
        assert httpx.get(f"{web}/config.json").json() == CONFIG
