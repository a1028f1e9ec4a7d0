#!/bin/sh
# One-command set-up on a fresh Debian 12+ or Ubuntu 22.04+ machine, as root:
# system packages, Node.js >= 20 if missing, npm dependencies, the native and
# TypeScript builds. Safe to run again.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (it installs system packages)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
PKGS="build-essential musl-tools conmon pkg-config libseccomp-dev busybox-static iproute2 ca-certificates curl
      docker-registry skopeo umoci runc crun containerd docker.io python3-docker jq python3 attr zstd apache2-utils openssl clang-format
      golang-github-containerd-containerd-dev golang-github-containerd-cgroups-dev golang-github-gogo-protobuf-dev golang-github-gogo-googleapis-dev libprotobuf-dev"
missing=""
# The container networks: iptables (its nf_tables backend) for Berth's chains,
# nsenter (util-linux), conntrack to forget the UDP flows of a removed container.
PKGS="$PKGS iptables util-linux conntrack"
# setcap (libcap2-bin): berthd's diff tests put a file capability in an image layer.
PKGS="$PKGS libcap2-bin"
# strace: a test counts the fsyncs of a fresh metadata database.
PKGS="$PKGS strace"
# The berth CLI's completion scripts are tested in the shells they are for.
PKGS="$PKGS zsh fish"
# docker-compose 1.29 (Python, on docker-py): the compose tests drive berthd with it.
PKGS="$PKGS docker-compose"
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  # Debian 12 and Ubuntu 22.04 ship Node.js 18; take 20 from NodeSource.
  curl -fsSL https://deb.nodesource.com/setup_20.x | bash -
  apt-get install -y -qq nodejs
fi

# dockerd and containerd are only test peers: never leave the distribution's
# services running against the host (the tests start their own instances).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now docker.service docker.socket containerd.service >/dev/null 2>&1 || true
fi

npm ci --no-audit --no-fund
npm run build
echo "setup: done. Try: sudo ./bin/berth-runc --help"
