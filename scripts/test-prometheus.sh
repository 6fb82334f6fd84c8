#!/usr/bin/env bash
# `npm run test:prometheus`: a real Prometheus scrapes a local 3-node cluster (test/prometheus/run.ts).
# Installs Debian's prometheus package (prometheus and promtool) if missing, as root or through
# sudo, builds, and runs the check. Not part of `npm test`. Flags go to the check:
# `npm run test:prometheus -- --seconds 30 --clients 64`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PAXCHAIN_PROMETHEUS:-}" ] && { ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; }; then
  echo "test:prometheus: installing Debian's prometheus package" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; fi
  # The package starts a system Prometheus on :9090; this check runs its own, so stop that one.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then systemctl stop prometheus || true; fi
fi
npm run build
node dist/test/prometheus/run.js "$@"
