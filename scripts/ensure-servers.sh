#!/usr/bin/env bash
# Makes sure NATS (with JetStream) answers on 127.0.0.1:4222 and Redis on 127.0.0.1:6379.
# Starts them if they are installed but not running; with --install, installs Debian's
# nats-server and redis-server first if they are missing. Prints what it waits for.
set -euo pipefail

install=false
[ "${1:-}" = "--install" ] && install=true

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

need_pkg() {
  local bin=$1 pkg=$2
  command -v "$bin" >/dev/null 2>&1 && return 0
  if $install; then
    echo "installing $pkg (apt-get)..."
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "$pkg" >/dev/null
  else
    echo "$bin is not installed: apt-get install $pkg (or run .ci/run, which installs it)" >&2
    exit 1
  fi
}

wait_port() {
  local port=$1 what=$2
  for _ in $(seq 1 100); do
    answers "$port" && return 0
    sleep 0.1
  done
  echo "$what did not start on 127.0.0.1:$port" >&2
  exit 1
}

if answers 4222; then
  echo "NATS answers on 127.0.0.1:4222"
else
  need_pkg nats-server nats-server
  dir="${TMPDIR:-/tmp}/celeriac-nats-js"
  mkdir -p "$dir"
  echo "starting nats-server -js on 127.0.0.1:4222 (store $dir)..."
  nohup nats-server -a 127.0.0.1 -p 4222 -js -sd "$dir" >"$dir/nats.log" 2>&1 &
  wait_port 4222 nats-server
fi

if answers 6379; then
  echo "Redis answers on 127.0.0.1:6379"
else
  need_pkg redis-server redis-server
  echo "starting redis-server on 127.0.0.1:6379..."
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_port 6379 redis-server
fi
