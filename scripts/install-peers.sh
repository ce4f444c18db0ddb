#!/usr/bin/env bash
# Installs the real peers the tests talk to, and the tools CI runs (shellcheck; patch for
# native/build-kvm.sh's patch-and-retry; stress-ng for npm run test:stress), from
# Debian's packages, and only what is missing. Idempotent and quiet when everything is
# present; says clearly what it could not do. libvirtd (with its QEMU driver), virsh and
# virt-xml-validate serve the libvirt transport and adapter tests.
# PostgreSQL is Debian 12's (15): the FT service's HA tests start throwaway clusters with
# its server binaries; Chromium runs the console's end-to-end tests. tmux gives the cuju
# CLI's tests a real terminal; zsh (and bash) source its completion scripts. Keystone
# (served by uwsgi's python3 plugin) and RabbitMQ are the OpenStack adapter's real peers
# (nova is a fake); keystone alone is about 230 packages and several minutes to install.
set -euo pipefail

# "command it provides|Debian package". A command given as an absolute path is checked
# by path: sshd lives in /usr/sbin, which is not on every user's PATH.
PEERS=(
  "qemu-system-x86_64|qemu-system-x86"
  "qemu-img|qemu-utils"
  "socat|socat"
  "nc|netcat-openbsd"
  "/usr/sbin/sshd|openssh-server"
  "shellcheck|shellcheck"
  "patch|patch"
  "setpriv|util-linux"
  "/usr/lib/postgresql/15/bin/initdb|postgresql"
  "/usr/bin/chromium|chromium"
  "stress-ng|stress-ng"
  "/usr/bin/keystone-manage|keystone"
  "/usr/lib/uwsgi/plugins/python3_plugin.so|uwsgi-plugin-python3"
  "/usr/lib/rabbitmq/bin/rabbitmq-server|rabbitmq-server"
  "/usr/sbin/libvirtd|libvirt-daemon"
  "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so|libvirt-daemon-driver-qemu"
  "virsh|libvirt-clients"
  "virt-xml-validate|libvirt-clients"
  "xmllint|libxml2-utils"
  "tmux|tmux"
  "zsh|zsh"
)

have() {
  case $1 in
    /*.so) [ -f "$1" ] ;; # a driver module: a library, not a program
    /*) [ -x "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for peer in "${PEERS[@]}"; do
  cmd=${peer%%|*}
  pkg=${peer##*|}
  have "$cmd" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

fail() {
  echo "install-peers: $*" >&2
  echo "install-peers: missing packages: ${missing[*]}" >&2
  exit 1
}
command -v apt-get >/dev/null 2>&1 || fail "apt-get not found: install the packages with your system's package manager"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    fail "not root and no password-less sudo: run 'sudo apt-get install ${missing[*]}'"
  fi
else
  SUDO=()
fi

echo "install-peers: installing ${missing[*]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get failed (output above)"
fi
for peer in "${PEERS[@]}"; do
  cmd=${peer%%|*}
  have "$cmd" || fail "'$cmd' is still missing after installing ${peer##*|}"
done
