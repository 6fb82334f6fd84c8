#!/usr/bin/env bash
# `npm run test:dashboard`: the dashboard in a real headless browser. Installs Debian's chromium
# if it is missing (as root, or through sudo), builds, and runs test/browser with its own vitest
# config. Not part of `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PAXCHAIN_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "test:dashboard: installing Debian's chromium package" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi
fi
npm run build
npx vitest run --config test/vitest.browser.config.ts
