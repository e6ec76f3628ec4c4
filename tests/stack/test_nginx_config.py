"""The compose web server's nginx config, run by a real nginx: /config.json from the environment, the SPA's
routes and assets, and /api proxied to the API. Skipped without nginx (apt-get install nginx-light).

The template is rendered as the nginx image renders it (only defined variables are substituted); the test then
changes only the listen address and the web root, to a free 127.0.0.1 port and a temporary build.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from devstack.net import free_port
from tests.stack.dockerfile import REPO
from tests.stack.servers import serving
from tests.stack.test_devstack_webserver import UPSTREAM

TEMPLATE = REPO / "docker" / "nginx" / "default.conf.template"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not NGINX, reason="nginx is not installed (apt-get install nginx-light)"),
]


def render(template: str, env: dict[str, str]) -> str:
    """envsubst with an explicit variable list, as the nginx image's entrypoint runs it."""
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m[1], m[0]), template)


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    dist = tmp_path / "html"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>app shell</title>")
    (dist / "assets" / "index-abc.js").write_text("console.log(1)")
    (dist / "config.json").write_text('{"apiUrl": "from the build, must be shadowed"}')
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    env = {k: str(v) for k, v in compose["services"]["frontend"]["environment"].items()}
    port = free_port()
    with serving(UPSTREAM) as api:
        env["API_UPSTREAM"] = api  # the compose value is http://tasks-api:8080
        env["NGINX_LOCAL_RESOLVERS"] = "127.0.0.1"  # the image's entrypoint takes it from /etc/resolv.conf
        site = render(TEMPLATE.read_text(), env)
        site = site.replace("listen 8080;", f"listen 127.0.0.1:{port};").replace(
            "root /usr/share/nginx/html;", f"root {dist};"
        )
        (tmp_path / "site.conf").write_text(site)
        mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
        user = "user root;" if os.geteuid() == 0 else ""
        (tmp_path / "nginx.conf").write_text(
            f"{user}\ndaemon off;\nworker_processes 1;\npid {tmp_path}/nginx.pid;\nerror_log stderr warn;\n"
            f"events {{}}\nhttp {{\n{mime}\naccess_log off;\n"
            + "".join(
                f"{k}_temp_path {tmp_path}/{k};\n"
                for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            )
            + f"include {tmp_path}/site.conf;\n}}\n"
        )
        checked = subprocess.run(
            [NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert checked.returncode == 0, checked.stderr
        process = subprocess.Popen(
            [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    assert process.poll() is None, process.stdout.read() if process.stdout else ""
                    assert time.monotonic() < deadline, "nginx did not start"
                    time.sleep(0.1)
            yield base, env
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_template_uses_only_variables_compose_defines() -> None:
    env = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["frontend"]["environment"]
    entrypoint_sets = env.get("NGINX_ENTRYPOINT_LOCAL_RESOLVERS")
    from_entrypoint = {"NGINX_LOCAL_RESOLVERS": "10.89.0.1"} if entrypoint_sets else {}
    rendered = render(TEMPLATE.read_text(), {**{k: str(v) for k, v in env.items()}, **from_entrypoint})
    assert not re.search(r"\$\{[A-Z_]+\}", rendered)
    assert "$http_host" in rendered  # nginx's own variables are left alone


def test_config_json_comes_from_the_environment(nginx: tuple[str, dict[str, str]]) -> None:
    base, env = nginx
    response = httpx.get(f"{base}/config.json")
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "apiUrl": "",
        "authority": env["FRONTEND_AUTHORITY"],
        "clientId": env["FRONTEND_CLIENT_ID"],
        "hostedUiDomain": env["FRONTEND_HOSTED_UI_DOMAIN"],
    }


def test_spa_routes_assets_and_missing_files(nginx: tuple[str, dict[str, str]]) -> None:
    base, _ = nginx
    for path in ("/", "/tasks/42", "/auth/callback?code=x"):
        assert "app shell" in httpx.get(f"{base}{path}").text, path
    asset = httpx.get(f"{base}/assets/index-abc.js")
    assert asset.status_code == 200
    assert "immutable" in asset.headers["cache-control"]
    assert httpx.get(f"{base}/assets/missing.js").status_code == 404
    assert httpx.get(f"{base}/healthz").text == "ok\n"


def test_api_is_proxied_with_host_and_body(nginx: tuple[str, dict[str, str]]) -> None:
    base, _ = nginx
    response = httpx.post(
        f"{base}/api/tasks?status=ACT", content=b'{"name": "x"}', headers={"Authorization": "Bearer t"}
    )
    assert response.status_code == 201
    echoed = response.json()
    assert echoed["path"] == "/api/tasks"
    assert echoed["query"] == "status=ACT"
    assert echoed["authorization"] == "Bearer t"
    assert echoed["body"] == '{"name": "x"}'
    assert echoed["host"] == base.removeprefix("http://")
    assert response.headers.get_list("link") == ['</api/tasks?cursor=a>; rel="next"', "</x>; rel=other"]
