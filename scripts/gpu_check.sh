#!/usr/bin/env bash
# Every GPU check in one run: the `gpu`-marked tests, then the three GPU benchmarks. Logs go to $OUT (default
# outputs/gpu_check); the script goes on after a failure and exits non-zero if anything failed.
#
#   bash scripts/gpu_check.sh                                   # in a synced checkout (uses `uv run --frozen python`)
#   PY=python3 PYTHONPATH=packages/ltx-core/src:packages/ltx-pipelines/src bash scripts/gpu_check.sh
#                                                               # on a machine with torch installed but no uv
#
# STEPS picks what runs (default: all four; their limits add up to ~21 minutes, and the pipeline benchmark writes a
# ~44 GB random checkpoint first). Where one command may run only 10 minutes, split it; in order of value:
#   STEPS=gpu_tests ...   then   STEPS=bench_transformer ...   then   STEPS=bench_vae ...   then   STEPS=bench_pipeline
# A step's limit can be changed with LIMIT_<step>=SECONDS (e.g. LIMIT_bench_transformer=500). At its limit a step
# gets SIGINT (Python unwinds: pytest prints its summary, temporary checkpoints are deleted), then SIGKILL 15 s later;
# output is unbuffered, so whatever a killed step printed is in its log.
# Copy the numbers into docs/performance.md with the date and device.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-outputs/gpu_check}"
PY="${PY:-uv run --frozen python}"
STEPS="${STEPS:-gpu_tests bench_transformer bench_vae bench_pipeline}"
export PYTHONUNBUFFERED=1  # a step killed at its limit must not lose what it printed (block-buffered into a file)
mkdir -p "$OUT"
failed=0

step() {  # step NAME SECONDS CMD...: run with a time limit, log to $OUT/NAME.log, remember failures
    local name="$1" limit="$2"
    shift 2
    case " $STEPS " in *" $name "*) ;; *) return 0 ;; esac
    local override="LIMIT_$name"
    limit="${!override:-$limit}"
    echo "== $name (limit ${limit}s)"
    local start=$SECONDS
    timeout -s INT -k 15 "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    echo "   rc=$rc in $((SECONDS - start)) s; last lines:"
    tail -n 15 "$OUT/$name.log" | sed 's/^/   | /'
    [ "$rc" -eq 0 ] || failed=1
}

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
    $PY -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'transformers', transformers.__version__)"
    free -g
    df -h .
} >"$OUT/env.log" 2>&1
cat "$OUT/env.log"

# Only the files holding gpu tests: a machine without PyAV cannot import the media-writing test modules.
mapfile -t gpu_files < <(grep -rl --include='test_*.py' 'mark.gpu' packages tests 2>/dev/null | sort)
step gpu_tests 240 $PY -m pytest -q -m gpu -p no:cacheprovider -rfE "${gpu_files[@]}"
step bench_transformer 300 $PY scripts/bench_transformer.py --layers 8 --compile
step bench_vae 200 $PY scripts/bench_vae.py
step bench_pipeline 540 $PY scripts/bench_pipeline.py
echo "logs in $OUT; failed=$failed"
exit "$failed"
