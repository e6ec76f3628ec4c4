#!/usr/bin/env bash
# What `make test-containers` needs on a fresh Debian machine (root): podman and its networking, arm64
# emulation (qemu-user-static + binfmt_misc), mmdebstrap for the stand-ins. Safe to run again: it only adds
# what is missing. Measured on the CI machine: docs/local-development.md ("podman on a VM like CI's").
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(podman qemu-user-static binfmt-support arch-test mmdebstrap uidmap fuse-overlayfs netavark aardvark-dns
          slirp4netns iptables runc ca-certificates)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-host: missing packages ${missing[*]}; run this script as root (or install them)" >&2
    exit 1
  fi
  echo "setup-host: installing ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# linux/arm64 emulation: binfmt_misc does not survive a reboot, so (re)register it every time.
if [ "$(uname -m)" != aarch64 ]; then
  if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  if ! grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null; then
    echo "setup-host: linux/arm64 emulation is not available (binfmt_misc qemu-aarch64)" >&2
    exit 1
  fi
fi
echo "setup-host: $(podman --version), qemu-aarch64 $(grep -o 'flags: .*' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null || echo native)"
