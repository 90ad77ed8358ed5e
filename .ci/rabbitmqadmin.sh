#!/usr/bin/env bash
# RabbitMQ's own CLIs against a Warren started here: list, declare, delete, publish, get,
# export and import with rabbitmqadmin v1 (python, from Debian's rabbitmq-server package) and
# v2 (Rust, `cargo install rabbitmqadmin`, kept in /opt/rabbitmqadmin-v2).
#   bash .ci/rabbitmqadmin.sh [path/to/warren]
# A tool that cannot be had is a failure in CI (CI=true or CI=1): a test that did not run must
# not pass. WARREN_SKIP_RABBITMQADMIN=1 (both), =v1 or =v2 skips a missing tool explicitly;
# outside CI a missing tool is skipped with a message.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WARREN=${1:-$ROOT/target/debug/warren}
WORK=$(mktemp -d)
FAILED=0

# shellcheck source=lib.sh
source "$ROOT/.ci/lib.sh"

ADMIN=$(command -v rabbitmqadmin || true)
if [ -z "$ADMIN" ]; then
  # Only the script is needed: take it out of the package without installing RabbitMQ.
  (cd "$WORK" && apt-get download rabbitmq-server >/dev/null 2>&1 && dpkg-deb -x rabbitmq-server_*.deb pkg) || true
  ADMIN=$(ls "$WORK"/pkg/usr/bin/rabbitmqadmin 2>/dev/null || true)
fi
V2=/opt/rabbitmqadmin-v2/bin/rabbitmqadmin
if [ ! -x "$V2" ]; then
  cargo install rabbitmqadmin --version 2.35.0 --locked --root /opt/rabbitmqadmin-v2 >"$WORK/v2-install.log" 2>&1 \
    || { echo "rabbitmqadmin v2 could not be installed:"; tail -5 "$WORK/v2-install.log"; }
fi

"$WARREN" server --amqp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data-dir "$WORK/data" >"$WORK/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do grep -q "management HTTP listening on" "$WORK/log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*management HTTP listening on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$WORK/log" | head -1)
[ -n "$PORT" ] || { echo "warren did not start:"; cat "$WORK/log"; exit 1; }

A() { python3 "$ADMIN" -H 127.0.0.1 -P "$PORT" -u guest -p guest "$@"; }
expect() { # expect WHAT PATTERN -- command...
  local what=$1 pattern=$2; shift 3
  local out
  if out=$("$@" 2>&1) && grep -qE -- "$pattern" <<<"$out"; then
    echo "ok - $what"
  else
    echo "FAILED - $what: expected /$pattern/ in:"; echo "$out"; FAILED=1
  fi
}

if [ -z "$ADMIN" ]; then
  tolerate_missing "rabbitmqadmin v1: not available (no rabbitmq-server package reachable)" WARREN_SKIP_RABBITMQADMIN v1 || FAILED=1
else
echo "rabbitmqadmin $(A --version 2>&1 | awk '{print $2}') against Warren on port $PORT"
expect "show overview" "warren" -- A show overview
expect "declare queue" "queue declared" -- A declare queue name=orders durable=true
expect "declare exchange" "exchange declared" -- A declare exchange name=events type=topic
expect "declare binding" "binding declared" -- A declare binding source=events destination=orders routing_key='order.#'
expect "publish" "Message published" -- A publish exchange=events routing_key=order.new payload=hello-rabbitmqadmin
expect "list queues" "orders +\| 1 " -- A list queues name messages
expect "list exchanges" "events +\| topic" -- A list exchanges name type
expect "list bindings" "events +\| orders +\| order\.#" -- A list bindings source destination routing_key
expect "get" "hello-rabbitmqadmin" -- A get queue=orders ackmode=ack_requeue_false
expect "queue empty after get" "orders +\| 0 " -- A list queues name messages
expect "list users" "guest" -- A list users
expect "list vhosts" "\| / " -- A list vhosts name
expect "export" "Exported definitions" -- A export "$WORK/defs.json"
grep -q '"orders"' "$WORK/defs.json" && echo "ok - export has the queue" || { echo "FAILED - export lacks the queue"; FAILED=1; }
expect "delete binding" "binding deleted" -- A delete binding source=events destination=orders destination_type=queue properties_key='order.%23'
expect "delete queue" "queue deleted" -- A delete queue name=orders
expect "delete exchange" "exchange deleted" -- A delete exchange name=events
expect "queue gone" "No items" -- A list queues
expect "import" "Uploaded definitions" -- A import "$WORK/defs.json"
expect "imported queue back" "orders" -- A list queues name
expect "imported binding back" "events +\| orders +\| order\.#" -- A list bindings source destination routing_key
expect "declare user" "user declared" -- A declare user name=ops password=s3cret tags=monitoring
expect "declare permission" "permission declared" -- A declare permission vhost=/ user=ops configure=.* write=.* read=.*
expect "monitoring user lists nodes" "warren@" -- python3 "$ADMIN" -H 127.0.0.1 -P "$PORT" -u ops -p s3cret list nodes name
expect "delete user" "user deleted" -- A delete user name=ops
fi

if [ -x "$V2" ]; then
  B() { "$V2" --non-interactive --host 127.0.0.1 --port "$PORT" --username guest --password guest "$@"; }
  echo "$("$V2" --version) against Warren on port $PORT"
  expect "v2 show overview" "Warren" -- B show overview
  expect "v2 declare queue" "" -- B declare queue --name v2-orders --durable true
  expect "v2 declare exchange" "" -- B declare exchange --name v2-events --type topic
  expect "v2 declare binding" "" -- B declare binding --source v2-events --destination-type queue --destination v2-orders --routing-key 'order.#'
  expect "v2 publish" "routed" -- B publish message -e v2-events -k order.new -m hello-v2
  expect "v2 list queues" "v2-orders .* 1 " -- B list queues
  expect "v2 list exchanges" "v2-events .*topic" -- B list exchanges
  expect "v2 list bindings" "v2-events +v2-orders +queue +order\.#" -- B list bindings
  expect "v2 get" "hello-v2" -- B get messages -q v2-orders
  expect "v2 export" "" -- B definitions export --file "$WORK/v2defs.json"
  grep -q '"v2-orders"' "$WORK/v2defs.json" && echo "ok - v2 export has the queue" || { echo "FAILED - v2 export lacks the queue"; FAILED=1; }
  expect "v2 delete queue" "" -- B delete queue --name v2-orders
  expect "v2 delete exchange" "" -- B delete exchange --name v2-events
  if B list queues | grep -q v2-orders; then echo "FAILED - v2 queue still there"; FAILED=1; else echo "ok - v2 queue gone"; fi
  expect "v2 import" "" -- B definitions import --file "$WORK/v2defs.json"
  expect "v2 imported queue back" "v2-orders" -- B list queues
  expect "v2 health check" "passed" -- B health_check local_alarms
else
  tolerate_missing "rabbitmqadmin v2: not available (not installed, and cargo install failed)" WARREN_SKIP_RABBITMQADMIN v2 || FAILED=1
fi
exit $FAILED
