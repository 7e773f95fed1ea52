#!/usr/bin/env bash
# Installs the operating-system tools the bus needs when they are missing (Debian/Ubuntu).
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
# Throw-away PostgreSQL and MariaDB servers for the legacy departments in tests and the demo.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v mariadb-install-db >/dev/null 2>&1 || missing+=(mariadb-server)
# Headless browser of the ops dashboard's Playwright tests.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# A CJK font, so the dashboard's Chinese labels render in headless Chromium's screenshots.
fc-list 2>/dev/null | grep -qi 'wenquanyi\|noto sans cjk' || missing+=(fonts-wqy-microhei)

[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: ${missing[*]} — install them with your package manager" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${missing[*]} from Debian's packages…"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
if ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  # docker-compose only validates docker-compose.yml; everything else is required.
  required=("${missing[@]/docker-compose}")
  $sudo apt-get install -y -qq --no-install-recommends ${required[@]} >/dev/null
fi
