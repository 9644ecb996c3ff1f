#!/usr/bin/env bash
# Benchmark of sharded windows (issue 16, goal 4): ROWS rows × FEATURES float64
# columns in OBJECTS objects on S3 (moto), evaluated by MonitorWorkflow with
# analysis.shard_objects = PER_SHARD, first by 1 worker process, then by 2,
# each worker pinned to its own core (taskset -c 0, -c 1) with
# analysis.shard_slots 1 (one shard at a time per process). The Temporal dev
# server (temporal CLI) and moto run unpinned beside them.
#
# Prints, per worker count: the evaluation's wall time (trigger → result),
# rows/s, CPU seconds of each worker during the evaluation, rows per
# worker-CPU-second, peak RSS of each worker, moto's CPU; then a Markdown
# table for the README and the 1→2 scaling.
#
#   bench/shard.sh                       # 1M rows × 50 in 100 Parquet objects, 20 shards
#   ROWS=10000000 bench/shard.sh         # the goal: 10M rows × 50 (4 GB of Parquet in moto)
#   FORMAT=csv ROWS=1000000 bench/shard.sh
#   SERVICE_CPUS=2-3 bench/shard.sh     # on a machine with more cores: pin moto and Temporal away from the workers
#
# On a 2-core machine moto and the Temporal server share the workers' cores: in the
# 2-worker run they take CPU from the pinned workers (moto: about 1.6 CPU-s per 1M
# Parquet rows), which the 1-worker run leaves to the idle second core.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
FEATURES=${FEATURES:-50}
OBJECTS=${OBJECTS:-100}
PER_SHARD=${PER_SHARD:-5}
REF_ROWS=${REF_ROWS:-200000}
FORMAT=${FORMAT:-parquet}
WORKER_COUNTS=${WORKER_COUNTS:-1 2}
SERVICE_CPUS=${SERVICE_CPUS:-}
PIN=() # prefix of moto's and Temporal's command lines (taskset execs, so $! stays the server's PID)
if [ -n "$SERVICE_CPUS" ]; then PIN=(taskset -c "$SERVICE_CPUS"); fi
PY=${PY:-$(command -v python3)}
TEMPORAL=${TEMPORAL:-$(command -v temporal || echo /root/go/bin/temporal)}
DATA=${DATA:-$(mktemp -d /tmp/vigil-shard.XXXXXX)}
BIN=$DATA/bin
mkdir -p "$BIN"
go build -o "$BIN/worker" ./worker
go build -o "$BIN/starter" ./starter
go build -o "$BIN/gen" ./bench/gen
go build -o "$BIN/shardgen" ./bench/shardgen

port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
waitfor() { # what cmd...
	local what=$1; shift
	for _ in $(seq 1 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
	echo "$what did not come up" >&2; exit 1
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user+sys CPU, clock ticks
HZ=$(getconf CLK_TCK)
hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; } # peak RSS, kB

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
MOTO_PORT=$(port)
"${PIN[@]}" "$PY" -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$DATA/moto.log" 2>&1 &
MOTO_PID=$!
PIDS+=("$MOTO_PID")
waitfor moto curl -sf "http://127.0.0.1:$MOTO_PORT/moto-api/"
"$PY" - "$MOTO_PORT" <<'EOF'
import sys, boto3
boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1").create_bucket(Bucket="bench")
EOF
T_PORT=$(port)
"${PIN[@]}" "$TEMPORAL" server start-dev --headless --ip 127.0.0.1 --port "$T_PORT" --ui-port "$(port)" --log-level error \
	--search-attribute VigilModel=Keyword --search-attribute VigilModelVersion=Keyword --search-attribute VigilStatus=Keyword \
	>"$DATA/temporal.log" 2>&1 &
PIDS+=("$!")
waitfor temporal "$TEMPORAL" operator cluster health --address "127.0.0.1:$T_PORT"

echo "data in $DATA; $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "generating $ROWS rows x $FEATURES float64 columns in $OBJECTS $FORMAT objects, reference $REF_ROWS rows"
/usr/bin/time -f "  generated in %e s" "$BIN/shardgen" -uri s3://bench/pred -s3-endpoint "http://127.0.0.1:$MOTO_PORT" \
	-rows "$ROWS" -objects "$OBJECTS" -features "$FEATURES" -format "$FORMAT" -shift 0.05 -seed 2
"$BIN/gen" -rows "$REF_ROWS" -features "$FEATURES" -precision full -seed 1 -o "$DATA/ref.csv"
BYTES=$("$PY" - "$MOTO_PORT" <<'EOF'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1")
print(sum(o["Size"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix="pred/") for o in p.get("Contents", [])))
EOF
)
echo "  $(echo "$BYTES / 1000000" | bc -l | xargs printf %.1f) MB in S3"

config() { # index http_port
	cat >"$DATA/vigil-$1.yaml" <<EOF
temporal: {address: "127.0.0.1:$T_PORT", task_queue: bench}
worker: {http_addr: "127.0.0.1:$2"}
storage:
  reports: s3://bench/reports
  registry: file://$DATA/registry
  s3: {endpoint: "http://127.0.0.1:$MOTO_PORT", path_style: true, region: us-east-1}
analysis: {shard_objects: $PER_SHARD, shard_slots: 1}
models:
  - name: bench
    schedule: {every: 1h, window: 1h, paused: true}
    source: {uri: s3://bench/pred, format: $FORMAT}
    reference: {uri: "file://$DATA/ref.csv"}
    rules:
      - {name: drift, metric: dataset_drift.share, above: 0.5, severity: warning}
EOF
}

ROWS_TABLE=()
declare -A THROUGHPUT
for n in $WORKER_COUNTS; do
	WPIDS=()
	for ((i = 0; i < n; i++)); do
		hp=$(port)
		config "$i" "$hp"
		taskset -c "$i" "$BIN/worker" -config "$DATA/vigil-$i.yaml" -log-level warn >"$DATA/worker-$n-$i.log" 2>&1 &
		WPIDS+=("$!")
		PIDS+=("$!")
		waitfor "worker $i" curl -sf "http://127.0.0.1:$hp/readyz"
	done
	declare -A before
	for p in "${WPIDS[@]}"; do before[$p]=$(ticks "$p"); done
	moto0=$(ticks "$MOTO_PID")
	t0=$(date +%s%N)
	"$BIN/starter" trigger -config "$DATA/vigil-0.yaml" -model bench -at 2026-03-01T11:00:00Z >"$DATA/trigger-$n.out"
	t1=$(date +%s%N)
	wall=$(echo "($t1 - $t0) / 1000000000" | bc -l)
	got=$(awk '/^status/ {print $3}' "$DATA/trigger-$n.out")
	[ "$got" = "$ROWS" ] || { echo "the evaluation read $got rows, want $ROWS:"; cat "$DATA/trigger-$n.out"; exit 1; }
	cpus=() rss=() total=0
	for p in "${WPIDS[@]}"; do
		c=$(echo "($(ticks "$p") - ${before[$p]}) / $HZ" | bc -l)
		cpus+=("$(printf '%.1f' "$c")")
		rss+=("$(($(hwm "$p") / 1024))")
		total=$(echo "$total + $c" | bc -l)
	done
	moto=$(echo "($(ticks "$MOTO_PID") - $moto0) / $HZ" | bc -l)
	rps=$(echo "$ROWS / $wall" | bc -l)
	THROUGHPUT[$n]=$rps
	printf '%d worker(s): wall %.2f s, %.0f rows/s; worker CPU %s s (%.0f rows per CPU-s); peak RSS %s MB; moto CPU %.1f s; %s\n' \
		"$n" "$wall" "$rps" "$(IFS=/; echo "${cpus[*]}")" "$(echo "$ROWS / $total" | bc -l)" "$(IFS=/; echo "${rss[*]}")" "$moto" \
		"$(grep '^status' "$DATA/trigger-$n.out" | cut -d' ' -f1-4)"
	ROWS_TABLE+=("$(printf '| %d | %.2f | %.0f | %s | %.0f | %s | %.1f |' "$n" "$wall" "$rps" "$(IFS=/; echo "${cpus[*]}")" \
		"$(echo "$ROWS / $total" | bc -l)" "$(IFS=/; echo "${rss[*]}")" "$moto")")
	for p in "${WPIDS[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
done

echo
echo "$ROWS rows × $FEATURES float64 columns, $OBJECTS $FORMAT objects ($(echo "$BYTES / 1000000" | bc -l | xargs printf %.0f) MB) in moto S3, $PER_SHARD objects per shard, reference $REF_ROWS rows; $(date -u +%F), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| worker processes (1 core each) | wall s | rows/s | worker CPU s | rows per worker-CPU-s | peak RSS per worker MB | moto CPU s |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS_TABLE[@]}"
if [ -n "${THROUGHPUT[1]:-}" ] && [ -n "${THROUGHPUT[2]:-}" ]; then
	printf '\nscaling 1 → 2 workers: %.2fx\n' "$(echo "${THROUGHPUT[2]} / ${THROUGHPUT[1]}" | bc -l)"
fi
