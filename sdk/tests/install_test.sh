#!/usr/bin/env bash
# The installed SDK works for a project outside the tree: `cmake --install`
# into a temporary prefix, build sdk/examples/scheduler against it with
# find_package(nucleo), and run it against a real nucleo-master until it has
# subscribed.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
master_pid=
cleanup() {
  [[ -n $master_pid ]] && kill "$master_pid" 2>/dev/null && wait "$master_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
cmake --install "$build" --prefix "$tmp/prefix" --component sdk >/dev/null
cmake -S "$src/sdk/examples/scheduler" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" >/dev/null
"$build/bin/nucleo-master" --port 0 >"$tmp/master.out" 2>"$tmp/master.err" &
master_pid=$!
for _ in $(seq 50); do grep -q listening "$tmp/master.out" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$tmp/master.out")
[[ -n $port ]] || { echo "nucleo-master did not start"; cat "$tmp/master.err"; exit 1; }
timeout 5 "$tmp/build/decline-all" "127.0.0.1:$port" 1 >"$tmp/example.out" 2>&1 || true
if ! grep -q "subscribed as" "$tmp/example.out"; then
  echo "the example built against the installed SDK did not subscribe:"
  cat "$tmp/example.out"
  exit 1
fi
echo "installed SDK: example built with find_package(nucleo) and subscribed"
