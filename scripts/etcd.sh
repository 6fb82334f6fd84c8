#!/bin/sh
# Makes sure an etcd server binary is installed, for `paxchain dev bench-api` (which starts its
# own 3-member etcd cluster on 127.0.0.1 and runs the same workloads against it as against
# paxchain). If `etcd` is on PATH this only prints its version; otherwise it installs Debian's
# etcd-server package (etcd 3.4 on bookworm) with apt-get, which needs root.
#
#   scripts/etcd.sh          install if missing, then print `etcd --version`
set -eu

if ! command -v etcd >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "etcd.sh: etcd is not installed and installing it needs root: sudo $0" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "etcd.sh: etcd is not installed and there is no apt-get here: install etcd 3.4 by hand" >&2
    exit 1
  fi
  echo "etcd.sh: installing etcd-server with apt-get" >&2
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server
fi

if ! command -v etcd >/dev/null 2>&1; then
  echo "etcd.sh: etcd-server installed but no etcd on PATH" >&2
  exit 1
fi
etcd --version
