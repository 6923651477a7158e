#!/usr/bin/env bash
# Everything synrace needs on a fresh Debian machine, as root; quick and quiet when it is all there already.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(nginx-light tini python3 gcc libc6-dev libxml2-utils chromium openssh-server openssh-client socat ethtool iproute2 iputils-ping iptables tcpdump curl apache2-utils mtools dosfstools fdisk xz-utils procps psmisc util-linux systemd
  # QEMU boards: the machines, the board image builder (mmdebstrap; arch-test and qemu-user-static for arm64),
  # openssl for the console password hash a VM board's flash sets
  qemu-system-x86 qemu-system-arm qemu-user-static mmdebstrap arch-test e2fsprogs openssl)

if [ "$(id -u)" -ne 0 ]; then
  echo "synrace setup: run as root (the lab creates network namespaces, links and per-board sshd)" >&2
  exit 1
fi

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "synrace setup: installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci builds the native modules that package.json's allowScripts approves (koffi, serialport, and epoll
# for onoff's GPIO relays);
# without the approval npm 11 would leave them silently unbuilt.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "synrace setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
node -e "require('epoll'); require('koffi'); require('@serialport/bindings-cpp')" 2>/dev/null || {
  echo "synrace setup: native modules are not built; rebuilding" >&2
  npm rebuild epoll koffi @serialport/bindings-cpp >&2
}

echo "synrace setup: building" >&2
# One tsc for all six packages (the root tsconfig.json references them): half the time of one per package.
npm run build --silent >&2
