#!/usr/bin/env bash
# The GPU check on a machine where the package is not installed (see docs/benchmarks.md):
#   bash benchmarks/gpu_check.sh OUT_DIR [ARCHIVE.tgz] [more gpu_check.py options]
# The repository root goes on PYTHONPATH (and .gpu-site/ before it, if there: pure-Python
# packages carried along); `timeout` ends it 20 s past gpu_check.py's own 480 s budget, so a
# hang in the runner itself cannot outlast the lease. The archive is rewritten after every step.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-gpu-check}
archive=${2:-}
shift $(($# < 2 ? $# : 2))
site=""
[ -d "$root/.gpu-site" ] && site="$root/.gpu-site:"
export PYTHONPATH="$site$root${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec timeout -k 10 "${GPU_CHECK_WALL_S:-500}" "${PYTHON:-python3}" "$root/benchmarks/gpu_check.py" \
  --out "$out" ${archive:+--archive "$archive"} "$@"
