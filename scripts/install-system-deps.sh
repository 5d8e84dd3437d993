#!/usr/bin/env bash
# Install the system tools obstack's validators and tests run for real:
# promtool, amtool, docker-compose (config checks), Postgres/Redis binaries
# (private test servers), node-exporter (`obstack local`) and Node with npm (the reference
# bookmark API the PM2 end-to-end test runs); with the argument
# `bench`, also the reference exporters.
# Installs with apt-get when root; otherwise names what is missing.
set -euo pipefail

declare -A needed=(
  [promtool]=prometheus
  [amtool]=prometheus-alertmanager
  [prometheus-alertmanager]=prometheus-alertmanager
  [docker-compose]=docker-compose
  [redis-server]=redis-server
  [redis-cli]=redis-tools
  [prometheus-node-exporter]=prometheus-node-exporter
  [node]=nodejs
  [npm]=npm
)
# `install-system-deps.sh bench` adds the reference exporters the benchmarks compare against.
if [ "${1:-}" = "bench" ]; then
  needed[prometheus-postgres-exporter]=prometheus-postgres-exporter
  needed[prometheus-redis-exporter]=prometheus-redis-exporter
fi
# Postgres binaries live outside PATH on Debian.
have_postgres() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null; }

missing=()
for tool in "${!needed[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${needed[$tool]}")
done
have_postgres || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0

packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" -ne 0 ]; then
  echo "obstack needs these Debian packages: ${packages}" >&2
  echo "install them with: sudo apt-get install --no-install-recommends ${packages}" >&2
  exit 1
fi
echo "installing Debian packages: ${packages}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086  # word splitting of the package list is intended
apt-get install -y -qq --no-install-recommends ${packages} >/dev/null
