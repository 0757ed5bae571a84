#!/usr/bin/env bash
# Installs what the stack needs and is missing: Debian packages (via apt-get) and the npm
# dependencies from the lockfile. Run by npm start / npm test / npm run bench before anything else.
#   install-deps.sh runtime   what npm start needs
#   install-deps.sh test      what the test suite and benchmarks need as well
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-runtime}"

# binary → Debian package
declare -A runtime=(
  [haproxy]=haproxy
  [gunicorn]=gunicorn
  [prometheus]=prometheus
  [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [openssl]=openssl
  [git]=git
  # The name server of topologies whose backends discover their servers through DNS.
  [dnsmasq]=dnsmasq-base
  # The Redis and PostgreSQL servers a topology's TCP backends run on the local stack (infra/topologies/data.ts).
  [redis-server]=redis-server
  [redis-cli]=redis-tools
)
declare -A testing=(
  [wrk]=wrk
  [chromium]=chromium
  [prometheus-haproxy-exporter]=prometheus-haproxy-exporter
  [curl]=curl
  [socat]=socat
  # redis-benchmark, for the TCP benchmarks (redis-tools, like redis-cli).
  [redis-benchmark]=redis-tools
  # Let's Encrypt's test ACME server: the certificate issuer's tests get certificates from it.
  [pebble]=pebble
  # The CDKTF stack deployed for real (npm run containers): podman with runc, a Debian bootstrapper.
  [podman]=podman
  [runc]=runc
  [mmdebstrap]=mmdebstrap
  [iptables]=iptables
)

missing=()
need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || missing+=("$2"); }
for bin in "${!runtime[@]}"; do need "$bin" "${runtime[$bin]}"; done
# Flask is imported by Debian's python3 (the one gunicorn runs), not by whatever python3 is first on PATH.
/usr/bin/python3 -c 'import flask' >/dev/null 2>&1 || missing+=(python3-flask)
# PostgreSQL's server lives off PATH, under its major version.
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
if [ "$profile" = test ]; then
  for bin in "${!testing[@]}"; do need "$bin" "${testing[$bin]}"; done
  # podman's network helpers live off PATH.
  [ -x /usr/lib/podman/netavark ] || missing+=(netavark)
  [ -x /usr/lib/podman/aardvark-dns ] || missing+=(aardvark-dns)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "install-deps: installing Debian packages: ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "install-deps: need root to install ${missing[*]}: run 'apt-get install ${missing[*]}' as root" >&2
      exit 1
    fi
  fi
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    echo "install-deps: apt-get could not install: ${missing[*]}; install them by hand and run again" >&2
    exit 1
  fi
  # Debian starts packaged daemons on install where an init system runs; the stack starts its own.
  for service in haproxy prometheus prometheus-alertmanager prometheus-haproxy-exporter redis-server postgresql; do
    $sudo service "$service" stop >/dev/null 2>&1 || true
  done
fi

# npm dependencies, exactly as locked, when node_modules is missing or older than the lockfile.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: installing npm dependencies from package-lock.json" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
