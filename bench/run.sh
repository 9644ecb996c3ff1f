#!/usr/bin/env bash
# Benchmark: Vigil's analysis (Go) vs pandas+scipy doing the same drift work
# (KS + normed Wasserstein on every feature of 2 windows × ROWS × 10 features).
# Prints the median wall and CPU time and the peak RSS of both, the speed
# ratios, and the streaming check: peak RSS at BIG rows vs at ROWS rows.
#
#   bench/run.sh            # ROWS=200000 BIG=2000000, 5 runs each
#   ROWS=50000 BIG=0 RUNS=1 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-200000}
BIG=${BIG:-2000000}
PY=${PY:-/usr/bin/python3}
RUNS=${RUNS:-5}
DATA=${DATA:-$(mktemp -d /tmp/vigil-bench.XXXXXX)}
BIN=$DATA/bin
mkdir -p "$BIN"
go build -o "$BIN/gen" ./bench/gen
go build -o "$BIN/analyze" ./bench/analyze

gen() { # rows shift seed file
	[ -s "$4" ] || "$BIN/gen" -rows "$1" -shift "$2" -seed "$3" -o "$4"
}
# measure LABEL CMD...: runs CMD $RUNS times; prints and records the median
# wall time (nanosecond clock), the median CPU time (user+sys) and the
# largest peak RSS.
measure() {
	local label=$1; shift
	local walls=() cpus=() rss=0 r t0 t1 u s m
	for ((r = 0; r < RUNS; r++)); do
		t0=$(date +%s%N)
		/usr/bin/time -f "%U %S %M" -o "$DATA/$label.time" "$@" >/dev/null 2>"$DATA/$label.err" || { cat "$DATA/$label.err"; exit 1; }
		t1=$(date +%s%N)
		read -r u s m < "$DATA/$label.time"
		walls+=("$(echo "($t1 - $t0) / 1000000000" | bc -l)")
		cpus+=("$(echo "$u + $s" | bc -l)")
		((m > rss)) && rss=$m
	done
	local wall cpu
	wall=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
	cpu=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
	printf '%-24s wall %7.3fs  cpu %7.2fs  peak RSS %8.1f MB   (median of %d runs; walls %s)\n' "$label" "$wall" "$cpu" \
		"$(echo "$rss/1024" | bc -l)" "$RUNS" "$(printf '%s\n' "${walls[@]}" | sort -g | awk '{printf "%s%.3f", (NR>1?" ":""), $1}')"
	eval "${label//-/_}_wall=$wall; ${label//-/_}_cpu=$cpu; ${label//-/_}_rss=$rss"
}

echo "data in $DATA; $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
gen "$ROWS" 0 1 "$DATA/ref_$ROWS.csv"
gen "$ROWS" 0.2 2 "$DATA/cur_$ROWS.csv"
ls -la "$DATA"/*_"$ROWS".csv | awk '{print $5, $9}'

measure vigil "$BIN/analyze" -reference "$DATA/ref_$ROWS.csv" -current "$DATA/cur_$ROWS.csv" -methods ks,wasserstein
measure scipy "$PY" bench/scipy_drift.py "$DATA/ref_$ROWS.csv" "$DATA/cur_$ROWS.csv"
echo "speed-up (wall): $(echo "$scipy_wall/$vigil_wall" | bc -l | cut -c1-6)x   (cpu): $(echo "$scipy_cpu/$vigil_cpu" | bc -l | cut -c1-6)x"
echo "peak RSS ratio scipy/vigil: $(echo "$scipy_rss/$vigil_rss" | bc -l | cut -c1-5)"

if [ "$BIG" -gt 0 ]; then
	gen "$BIG" 0 3 "$DATA/ref_$BIG.csv"
	gen "$BIG" 0.2 4 "$DATA/cur_$BIG.csv"
	# streaming: the same harness; above ExactLimit (250000) values per column
	# the profiles switch to quantile sketches.
	measure vigil-big "$BIN/analyze" -reference "$DATA/ref_$BIG.csv" -current "$DATA/cur_$BIG.csv" -methods ks,wasserstein
	echo "streaming: peak RSS at $BIG rows / at $ROWS rows = $(echo "$vigil_big_rss/$vigil_rss" | bc -l | cut -c1-5) (goal <= 1.5)"
fi
[ -n "${KEEP:-}" ] || rm -rf "$DATA"
