#!/usr/bin/env bash
# Benchmark: Vigil's analysis (Go) vs pandas+scipy doing the same drift work
# (KS + normed Wasserstein on every feature of 2 windows × ROWS × 10 features).
# Prints wall time, CPU time and peak RSS of both, the speed ratio, and the
# streaming check: peak RSS at BIG rows vs at ROWS rows.
#
#   bench/run.sh            # ROWS=200000 BIG=2000000
#   ROWS=50000 BIG=0 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-200000}
BIG=${BIG:-2000000}
PY=${PY:-/usr/bin/python3}
DATA=${DATA:-$(mktemp -d /tmp/vigil-bench.XXXXXX)}
BIN=$DATA/bin
mkdir -p "$BIN"
go build -o "$BIN/gen" ./bench/gen
go build -o "$BIN/analyze" ./bench/analyze

gen() { # rows shift seed file
	[ -s "$4" ] || "$BIN/gen" -rows "$1" -shift "$2" -seed "$3" -o "$4"
}
# measure LABEL CMD...: runs CMD under /usr/bin/time -v, prints and records wall, cpu, rss
measure() {
	local label=$1; shift
	/usr/bin/time -v "$@" 2> "$DATA/$label.time" >/dev/null || { cat "$DATA/$label.time"; exit 1; }
	grep -v '^\s' "$DATA/$label.time" | grep -v '^Command' || true
	local wall cpu rss
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$DATA/$label.time")
	cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{print u+s}' "$DATA/$label.time")
	rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$DATA/$label.time")
	printf '%-24s wall %7.2fs  cpu %7.2fs  peak RSS %8.1f MB\n' "$label" "$wall" "$cpu" "$(echo "$rss/1024" | bc -l)"
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
