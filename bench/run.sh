#!/usr/bin/env bash
# Benchmark: Vigil's analysis (Go) vs pandas+scipy doing the same drift work
# (KS + normed Wasserstein on every feature of 2 windows × ROWS × 10 features),
# for each data shape in PRECISIONS: "6" (six decimals) and "full" (float64
# written as pandas writes it: Python's repr, 16–17 significant digits).
# Prints the median wall and CPU time and the peak RSS of both (run in
# turn), the speed ratios, the streaming check (peak RSS at BIG rows vs at ROWS rows), and the
# large window: HUGE rows × HUGE_FEATURES against a ROWS-row reference.
#
#   bench/run.sh            # ROWS=200000 BIG=2000000 HUGE=5000000, 5 runs each
#   ROWS=50000 BIG=0 HUGE=0 RUNS=1 PRECISIONS=full bench/run.sh
#   VERIFY=1 bench/run.sh   # also: HUGE's verdicts in exact mode (-exact-limit -1, several GB)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-200000}
BIG=${BIG:-2000000}
HUGE=${HUGE:-5000000}
HUGE_FEATURES=${HUGE_FEATURES:-20}
PRECISIONS=${PRECISIONS:-6 full}
PY=${PY:-/usr/bin/python3}
RUNS=${RUNS:-5}
DATA=${DATA:-$(mktemp -d /tmp/vigil-bench.XXXXXX)}
BIN=$DATA/bin
mkdir -p "$BIN"
go build -o "$BIN/gen" ./bench/gen
go build -o "$BIN/analyze" ./bench/analyze

gen() { # rows shift seed file [features [precision]]
	[ -s "$4" ] || "$BIN/gen" -rows "$1" -shift "$2" -seed "$3" -features "${5:-10}" -precision "${6:-6}" -o "$4"
}
# once LABEL CMD...: runs CMD once and records its wall time (nanosecond
# clock), CPU time (user+sys) and peak RSS under LABEL.
declare -A WALLS CPUS RSS
once() {
	local label=$1; shift
	local t0 t1 u s m
	t0=$(date +%s%N)
	/usr/bin/time -f "%U %S %M" -o "$DATA/$label.time" "$@" >/dev/null 2>"$DATA/$label.err" || { cat "$DATA/$label.err"; exit 1; }
	t1=$(date +%s%N)
	read -r u s m < "$DATA/$label.time"
	WALLS[$label]+=" $(echo "($t1 - $t0) / 1000000000" | bc -l)"
	CPUS[$label]+=" $(echo "$u + $s" | bc -l)"
	((m > ${RSS[$label]:-0})) && RSS[$label]=$m
	return 0
}
# report LABEL: prints and records the median wall and CPU time and the
# largest peak RSS of LABEL's runs.
report() {
	local label=$1 wall cpu sorted
	sorted=$(printf '%s\n' ${WALLS[$label]} | sort -g)
	wall=$(echo "$sorted" | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
	cpu=$(printf '%s\n' ${CPUS[$label]} | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
	printf '%-24s wall %7.3fs  cpu %7.2fs  peak RSS %8.1f MB   (median of %d runs; walls %s)\n' "$label" "$wall" "$cpu" \
		"$(echo "${RSS[$label]}/1024" | bc -l)" "$(echo "$sorted" | wc -l)" "$(echo "$sorted" | awk '{printf "%s%.3f", (NR>1?" ":""), $1}')"
	eval "${label//-/_}_wall=$wall; ${label//-/_}_cpu=$cpu; ${label//-/_}_rss=${RSS[$label]}"
}
# measure LABEL CMD...: runs CMD $RUNS times and reports it.
measure() {
	local label=$1; shift
	for ((r = 0; r < RUNS; r++)); do once "$label" "$@"; done
	report "$label"
}

echo "data in $DATA; $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for prec in $PRECISIONS; do
	echo "== 2 x $ROWS x 10, precision $prec"
	gen "$ROWS" 0 1 "$DATA/ref_${ROWS}_$prec.csv" 10 "$prec"
	gen "$ROWS" 0.2 2 "$DATA/cur_${ROWS}_$prec.csv" 10 "$prec"
	ls -la "$DATA"/*_"${ROWS}_$prec".csv | awk '{print $5, $9}'
	# Vigil and pandas+scipy in turn, so that both see the same load on a
	# shared host (a busy host slows either by up to 2x for minutes).
	WALLS=() CPUS=() RSS=()
	for ((r = 0; r < RUNS; r++)); do
		once vigil "$BIN/analyze" -reference "$DATA/ref_${ROWS}_$prec.csv" -current "$DATA/cur_${ROWS}_$prec.csv" -methods ks,wasserstein
		once scipy "$PY" bench/scipy_drift.py "$DATA/ref_${ROWS}_$prec.csv" "$DATA/cur_${ROWS}_$prec.csv"
	done
	report vigil
	report scipy
	"$BIN/analyze" -reference "$DATA/ref_${ROWS}_$prec.csv" -current "$DATA/cur_${ROWS}_$prec.csv" -methods ks,wasserstein 2>&1 | sed -n 's/.*\(ks\|wasserstein\): mode=/vigil: \1 mode=/p'
	"$PY" bench/scipy_drift.py "$DATA/ref_${ROWS}_$prec.csv" "$DATA/cur_${ROWS}_$prec.csv"
	echo "speed-up (wall): $(echo "$scipy_wall/$vigil_wall" | bc -l | cut -c1-6)x   (cpu): $(echo "$scipy_cpu/$vigil_cpu" | bc -l | cut -c1-6)x"
	echo "peak RSS ratio scipy/vigil: $(echo "$scipy_rss/$vigil_rss" | bc -l | cut -c1-5)"
done

if [ "$BIG" -gt 0 ]; then
	echo "== streaming: 2 x $BIG x 10, six decimals"
	gen "$BIG" 0 3 "$DATA/ref_$BIG.csv"
	gen "$BIG" 0.2 4 "$DATA/cur_$BIG.csv"
	# streaming: the same harness; above ExactLimit (250000) values per column
	# the profiles switch to quantile sketches.
	measure vigil-big "$BIN/analyze" -reference "$DATA/ref_$BIG.csv" -current "$DATA/cur_$BIG.csv" -methods ks,wasserstein
	echo "streaming: peak RSS at $BIG rows / at $ROWS rows = $(echo "$vigil_big_rss/$vigil_rss" | bc -l | cut -c1-5) (goal <= 1.5)"
fi

if [ "$HUGE" -gt 0 ]; then
	echo "== large window: $HUGE x $HUGE_FEATURES against $ROWS x $HUGE_FEATURES, six decimals"
	gen "$ROWS" 0 5 "$DATA/huge_ref.csv" "$HUGE_FEATURES"
	gen "$HUGE" 0.2 6 "$DATA/huge_cur.csv" "$HUGE_FEATURES"
	ls -la "$DATA"/huge_*.csv | awk '{print $5, $9}'
	measure vigil-huge "$BIN/analyze" -reference "$DATA/huge_ref.csv" -current "$DATA/huge_cur.csv" -methods auto,ks,wasserstein
	"$BIN/analyze" -reference "$DATA/huge_ref.csv" -current "$DATA/huge_cur.csv" -methods auto,ks,wasserstein 2>&1 | grep mode=
	if [ -n "${VERIFY:-}" ]; then
		echo "exact mode (every value held, one core for the current window):"
		"$BIN/analyze" -exact-limit -1 -reference "$DATA/huge_ref.csv" -current "$DATA/huge_cur.csv" -methods auto,ks,wasserstein 2>&1 | grep mode=
	fi
fi
[ -n "${KEEP:-}" ] || rm -rf "$DATA"
