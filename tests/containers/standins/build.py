"""Build or reuse the stand-ins of the upstream base images (README.md): `python -m tests.containers.standins`

Each stand-in is made from Debian packages (mmdebstrap), a PyPI wheel or npm packages, imported into podman
and tagged with the upstream name, so that the unmodified Dockerfile.arm64 and docker-compose.yml resolve it
with `--pull=never`. A stand-in carries a label with the hash of its recipe; one that exists with the same
hash is reused. When the upstream registry answers, the real image is pulled instead and no stand-in is made.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.containers.engine import podman, podman_env
from tests.stack.dockerfile import REPO, parse

HERE = Path(__file__).resolve().parent
HASH_LABEL = "org.city-tasks.standin.hash"
SUITE = "bookworm"
NODE_VERSION = "20.20.2"  # node:20 line, as the upstream tag
NPM_VERSION = "10.8.2"  # the npm that node 20 ships with
# Slim like the upstream images: no documentation, manual pages or translations.
DPKG_SLIM = tuple(f"path-exclude=/usr/share/{folder}/*" for folder in ("doc", "man", "locale"))
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}  # Debian's architecture names -> uname -m
HOST_ARCH = {machine: arch for arch, machine in MACHINE.items()}[platform.machine()]


@dataclass(frozen=True)
class StandIn:
    """One upstream image and the recipe of the stand-in that replaces it."""

    upstream: str  # fully qualified, as podman stores it
    arch: str  # Debian architecture name
    # Part of a multi-arch stand-in: stored as localhost/city-standins/...-<arch>, then listed in a manifest
    # list under the upstream name (podman picks the instance of the platform a build stage asks for).
    in_manifest: bool = False
    # The architecture of the binaries inside, when it is not ``arch`` (see the node stand-in).
    binaries: str | None = None
    packages: tuple[str, ...] = ()  # Debian packages of the rootfs; none: an image FROM scratch
    hooks: tuple[str, ...] = ()  # mmdebstrap --customize-hook commands ($1: the rootfs, {here}: this folder)
    changes: tuple[str, ...] = ()  # `podman import --change` instructions
    files: tuple[str, ...] = ()  # files of this folder the recipe uses (part of the hash)
    extra: Callable[[Path, str], Path] | None = field(default=None, compare=False)  # a tree to sync in

    @property
    def image(self) -> str:
        """Where the stand-in is stored: the upstream name, or its per-architecture name (manifest list)."""
        if not self.in_manifest:
            return self.upstream
        repository, _, tag = self.upstream.rpartition(":")
        return f"localhost/city-standins/{repository.rsplit('/', 1)[1]}:{tag}-{self.arch}"

    @property
    def recipe_hash(self) -> str:
        digest = hashlib.sha256(
            json.dumps([self.upstream, self.arch, self.packages, self.hooks, self.changes, SUITE]).encode()
        )
        if self.binaries is not None:
            digest.update(f"binaries {self.binaries}".encode())
        if self.extra is not None:
            digest.update(f"{self.extra.__name__} {NODE_VERSION} {NPM_VERSION} {_uv_version()}".encode())
        for name in self.files:
            digest.update((HERE / name).read_bytes())
        return digest.hexdigest()[:16]


def _qualified(name: str) -> str:
    """`python:3.11` -> `docker.io/library/python:3.11`, as Docker and podman read a short name."""
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        return name
    return f"docker.io/{name}" if "/" in name else f"docker.io/library/{name}"


def _uv_version() -> str:
    return parse().global_args["UV_IMAGE"].rsplit(":", 1)[1]


def _compose_postgres_image() -> str:
    import yaml

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return str(compose["services"]["postgres"]["image"])


# ---- the extra trees: uv from its PyPI wheel, node and npm from npm ----------------------------------------
def _uv_tree(work: Path, arch: str) -> Path:
    """/uv and /uvx for linux/arm64, from the aarch64 wheel on PyPI (what the upstream image holds)."""
    wheels = work / "wheels"
    # Only PyPI: not this machine's pip configuration or local wheel folders.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CERT"}
    env["PIP_CONFIG_FILE"] = os.devnull
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--platform", f"manylinux_2_17_{MACHINE[arch]}", "--python-version", "3.11", f"uv=={_uv_version()}",
         "-d", str(wheels)],
        check=True, timeout=300, env=env,
    )  # fmt: skip
    (wheel,) = wheels.glob("uv-*.whl")
    tree = work / "uv-tree"
    tree.mkdir()
    with zipfile.ZipFile(wheel) as archive:
        for name in ("uv", "uvx"):
            (member,) = [m for m in archive.namelist() if m.endswith(f".data/scripts/{name}")]
            target = tree / name
            target.write_bytes(archive.read(member))
            target.chmod(0o755)
    return tree


def _npm_pack(spec: str, work: Path) -> Path:
    out = subprocess.run(
        ["npm", "pack", spec, "--silent", "--pack-destination", str(work)],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout.split()  # fmt: skip
    return work / out[-1]


def _node_tree(work: Path, arch: str) -> Path:
    """/usr/local like the upstream node image: bin/node (npm's node-linux-<arch>), lib/node_modules/npm."""
    tree = work / "usr-local"
    (tree / "bin").mkdir(parents=True)
    (tree / "lib" / "node_modules").mkdir(parents=True)
    node_arch = {"amd64": "x64", "arm64": "arm64"}[arch]
    with tarfile.open(_npm_pack(f"node-linux-{node_arch}@{NODE_VERSION}", work)) as archive:
        member = archive.extractfile("package/bin/node")
        assert member is not None
        (tree / "bin" / "node").write_bytes(member.read())
    (tree / "bin" / "node").chmod(0o755)
    with tarfile.open(_npm_pack(f"npm@{NPM_VERSION}", work)) as archive:
        archive.extractall(work / "npm", filter="data")
    (work / "npm" / "package").rename(tree / "lib" / "node_modules" / "npm")
    (tree / "bin" / "npm").symlink_to("../lib/node_modules/npm/bin/npm-cli.js")
    (tree / "bin" / "npx").symlink_to("../lib/node_modules/npm/bin/npx-cli.js")
    return tree


# ---- the recipes -----------------------------------------------------------------------------------------
def standins() -> list[StandIn]:
    args = parse().global_args
    path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return [
        StandIn(
            upstream=_qualified(args["BASE_IMAGE"]),
            arch="arm64",
            # Like upstream (Debian's slim base): libstdc++6 (apt needs it; so does greenlet's extension) and
            # tzdata (the API's time zones come from the system's zoneinfo).
            packages=("python3", "passwd", "ca-certificates", "libstdc++6", "tzdata"),
            # The upstream image has python under /usr/local/bin; Debian's is /usr/bin/python3 (3.11 too).
            hooks=(
                'ln -s /usr/bin/python3 "$1/usr/local/bin/python3"',
                'ln -s /usr/bin/python3 "$1/usr/local/bin/python"',
            ),
            # UV_SYSTEM_CERTS: uv trusts the system bundle (behind a TLS-intercepting proxy: the host's).
            changes=(f"ENV {path}", "ENV LANG=C.UTF-8", "ENV UV_SYSTEM_CERTS=1", 'CMD ["python3"]'),
        ),
        StandIn(
            upstream=_qualified(args["UV_IMAGE"]),
            arch="arm64",
            changes=('ENTRYPOINT ["/uv"]',),
            extra=_uv_tree,
        ),
        # The SPA's build stage runs on the build machine's platform ($BUILDPLATFORM): its output, static
        # files, is the same everywhere. podman 4.3 (Debian 12) asks for the target platform's image
        # instead, so the manifest list also answers for linux/arm64 with this machine's node (binfmt_misc
        # runs it natively; emulated, `npm ci` and the TypeScript build take minutes). See the README.
        *(
            StandIn(
                upstream=_qualified(args["NODE_IMAGE"]),
                arch=arch,
                binaries=None if arch == HOST_ARCH else HOST_ARCH,
                in_manifest=True,
                packages=("ca-certificates", "libstdc++6"),
                changes=(f"ENV {path}", f"ENV NODE_EXTRA_CA_CERTS={CA_BUNDLE}", 'CMD ["node"]'),
                extra=_node_tree,
            )
            for arch in sorted({HOST_ARCH, "arm64"})
        ),
        StandIn(
            upstream=_qualified(args["NGINX_IMAGE"]),
            arch="arm64",
            packages=("nginx-light", "gettext-base", "wget", "ca-certificates"),
            hooks=(
                # The unprivileged image's user: nginx, uid and gid 101.
                '! grep -q ":101:" "$1/etc/passwd" "$1/etc/group"',
                "echo 'nginx:x:101:101:nginx:/nonexistent:/usr/sbin/nologin' >> \"$1/etc/passwd\"",
                "echo 'nginx:x:101:' >> \"$1/etc/group\"",
                'rm -f "$1/etc/nginx/sites-enabled/default" "$1/etc/nginx/conf.d/"*',
                'mkdir -p "$1/etc/nginx/templates" "$1/usr/share/nginx/html"',
                'chown -R 101:101 "$1/etc/nginx/conf.d" "$1/var/log/nginx" "$1/usr/share/nginx/html"',
                "copy-in {here}/nginx/nginx.conf /etc/nginx",
                "copy-in {here}/nginx/docker-entrypoint.sh /",
            ),
            changes=(
                f"ENV {path}",
                'ENTRYPOINT ["/docker-entrypoint.sh"]',
                'CMD ["nginx", "-g", "daemon off;"]',
                "EXPOSE 8080",
                "STOPSIGNAL SIGQUIT",
                "USER 101",
            ),
            files=("nginx/nginx.conf", "nginx/docker-entrypoint.sh"),
        ),
        StandIn(
            # The compose database (no platform in the compose file: this machine's); testcontainers' too.
            upstream=_qualified(_compose_postgres_image()),
            arch=HOST_ARCH,
            packages=("postgresql-15",),
            hooks=(
                # postgresql-common made a "main" cluster while installing: the entrypoint makes its own.
                'rm -rf "$1/etc/postgresql/15" "$1/var/lib/postgresql/15"',
                "copy-in {here}/postgres/docker-entrypoint.sh /usr/local/bin",
            ),
            changes=(
                f"ENV PATH=/usr/lib/postgresql/15/bin:{path.removeprefix('PATH=')}",
                "ENV LANG=C.UTF-8",
                "ENV PGDATA=/var/lib/postgresql/data",
                'VOLUME ["/var/lib/postgresql/data"]',
                'ENTRYPOINT ["docker-entrypoint.sh"]',
                'CMD ["postgres"]',
                "EXPOSE 5432",
                "STOPSIGNAL SIGINT",
            ),
            files=("postgres/docker-entrypoint.sh",),
        ),
    ]


# ---- building --------------------------------------------------------------------------------------------
def registry_answers(image: str, timeout: float = 5.0) -> bool:
    """True when the image's registry speaks the registry API here (then the real image is used)."""
    host = image.split("/", 1)[0]
    host = "registry-1.docker.io" if host == "docker.io" else host
    try:
        response = httpx.get(f"https://{host}/v2/", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code in (200, 401) and "docker-distribution-api-version" in response.headers


def _label(image: str) -> str | None:
    template = f'{{{{ index .Config.Labels "{HASH_LABEL}" }}}}'
    result = podman("image", "inspect", "--format", template, image, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def _rootfs(standin: StandIn, arch: str, work: Path, tree: Path | None) -> Path:
    """A Debian rootfs tarball with the stand-in's packages, hooks and extra tree."""
    out = work / "rootfs.tar"
    command = [
        "mmdebstrap",
        "--quiet",
        "--variant=essential",
        f"--architectures={arch}",
        '--aptopt=APT::Install-Recommends "false"',
        f"--include={','.join(standin.packages)}",
    ]
    command += [f"--dpkgopt={option}" for option in DPKG_SLIM]
    for hook in standin.hooks:
        command.append(f"--customize-hook={hook.format(here=HERE)}")
    if tree is not None:
        command.append(f"--customize-hook=sync-in {tree} {'/usr/local' if standin.packages else '/'}")
    command += ['--customize-hook=rm -rf "$1/var/lib/apt/lists/"* "$1/var/cache/apt/"*', SUITE, str(out)]
    subprocess.run(command, check=True, timeout=1800)
    return out


def _scratch(tree: Path, work: Path) -> Path:
    """A tarball of just ``tree`` (an image FROM scratch)."""
    out = work / "scratch.tar"
    with tarfile.open(out, "w") as archive:
        for path in sorted(tree.iterdir()):
            archive.add(path, arcname=path.name)
    return out


def build(standin: StandIn) -> str:
    """Make ``standin`` exist in podman (``standin.image``); say what was done."""
    wanted = standin.recipe_hash
    if _label(standin.image) == wanted:
        return f"{standin.image}: stand-in {wanted} is already built"
    stored = podman(
        "images", "--quiet", "--no-trunc", "--filter", f"label={HASH_LABEL}={wanted}"
    ).stdout.split()
    if stored:  # built before, its name since given to something else
        podman("tag", stored[0], standin.image)
        return f"{standin.image}: stand-in {wanted} was built before, named again"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="city-standin-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        binaries = standin.binaries or standin.arch
        tree = standin.extra(work, binaries) if standin.extra else None  # noqa: S610 - not Django's
        if standin.packages:
            tarball = _rootfs(standin, binaries, work, tree)
        else:
            assert tree is not None
            tarball = _scratch(tree, work)
        changes = [*standin.changes, f"LABEL {HASH_LABEL}={wanted}"]
        command = ["import", "--arch", standin.arch, "--os", "linux"]
        for change in changes:
            command += ["--change", change]
        podman(*command, str(tarball), standin.image, timeout=600)
    return f"{standin.image}: built stand-in {wanted} in {time.monotonic() - started:.0f} s"


def _drop_name(name: str) -> None:
    """Free ``name``: remove the manifest list, or the name of the image, it stands for (never the image's
    other names: `podman untag IMAGE` alone would drop them all)."""
    if podman("manifest", "exists", name, check=False).returncode == 0:
        podman("manifest", "rm", name)
    elif podman("image", "exists", name, check=False).returncode == 0:
        podman("untag", name, name)


def list_in_manifest(upstream: str, images: list[str]) -> str:
    """(Re)make the manifest list ``upstream`` of the per-architecture stand-ins ``images``."""
    _drop_name(upstream)
    podman("manifest", "create", upstream)
    for image in images:
        podman("manifest", "add", upstream, f"containers-storage:{image}")
    return f"{upstream}: manifest list of {', '.join(images)}"


def prepare(report: Callable[[str], None] = print, workers: int = 2) -> bool:
    """Every upstream base image: the real one when its registry answers (the build pulls it), else the
    stand-in. True when every registry answered (no stand-in is used). Stand-ins are built ``workers`` at a
    time: most of the time goes to emulated package scripts, one core each."""
    manifests: dict[str, list[str]] = {}
    needed = []
    for standin in standins():
        if registry_answers(standin.upstream):
            # The real image wins: drop a stand-in of that name so that the build pulls the upstream one.
            _drop_name(standin.upstream)
            report(f"stand-ins: {standin.upstream}: the registry answers, the build uses the real image")
            continue
        needed.append(standin)
        if standin.in_manifest:
            manifests.setdefault(standin.upstream, []).append(standin.image)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in pool.map(build, needed):
            report(f"stand-ins: {done}")
    for upstream, images in manifests.items():
        report(f"stand-ins: {list_in_manifest(upstream, images)}")
    return not needed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.containers.standins", description=__doc__)
    parser.add_argument(
        "--list", action="store_true", help="print the names and recipe hashes; build nothing"
    )
    args = parser.parse_args(argv)
    podman_env()  # fails with a clear message when podman is missing
    if args.list:
        for standin in standins():
            print(f"{standin.upstream}  {standin.arch}  {standin.image}  {standin.recipe_hash}")
        return 0
    prepare(lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
