#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the console's browser tests when either is missing (idempotent).
# The tests drive /usr/bin/chromium through /usr/bin/chromedriver; nothing downloads a browser or a driver of its
# own. Needs root (or sudo) on a Debian machine; does nothing when both are there.
set -euo pipefail
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "error: Chromium is missing and installing it needs root: apt-get install -y chromium chromium-driver" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: no apt-get: install Chromium and ChromeDriver as /usr/bin/chromium and /usr/bin/chromedriver" >&2
  exit 1
fi
echo "installing Debian's chromium and chromium-driver for the console's browser tests" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
test -x /usr/bin/chromium && test -x /usr/bin/chromedriver
