#!/usr/bin/env bash
# Every GPU check, as steps that each fit well inside one 10-minute call (random-checkpoint writing included). Logs go
# to $OUT (default outputs/gpu_check); the script goes on after a failure and exits non-zero if anything failed.
#
#   bash scripts/gpu_check.sh                                   # in a synced checkout (uses `uv run --frozen python`)
#   PY=python3 PYTHONPATH=packages/ltx-core/src:packages/ltx-pipelines/src bash scripts/gpu_check.sh
#                                                               # on a machine with torch installed but no uv
#
# Steps, in order of value (STEPS picks some; one or two per 10-minute call, e.g. STEPS="bench_stream bench_resident"):
#   bench_stream    the transformer (8 real-size blocks) streamed from RAM and from disk, bf16 and fp8-cast
#   bench_resident  the same blocks resident: bf16, fp8-cast, fp8-scaled-mm; host syncs per step
#   gpu_tests       the `gpu`-marked tests
#   bench_compile   resident bf16 eager vs torch.compile, at 768x512x121 only (compilation dominates)
#   bench_vae       the VAE decoders
#   bench_pipeline  the distilled pipeline end to end at 768x512x121 (writes a ~44 GB random checkpoint first)
# env.log (always written) records the driver, CUDA, torch, gcc, the Python headers and a one-kernel Triton launch.
# A step's limit can be changed with LIMIT_<step>=SECONDS. At its limit a step gets SIGINT (Python unwinds: pytest
# prints its summary, temporary checkpoints are deleted), then SIGKILL 15 s later; output is unbuffered, so whatever
# a killed step printed is in its log. DRY_RUN=1 prints each selected step's limit and command without running it.
# Copy the numbers into docs/performance.md with the date and device.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-outputs/gpu_check}"
PY="${PY:-uv run --frozen python}"
STEPS="${STEPS:-bench_stream bench_resident gpu_tests bench_compile bench_vae bench_pipeline}"
DRY_RUN="${DRY_RUN:-}"
export PYTHONUNBUFFERED=1  # a step killed at its limit must not lose what it printed (block-buffered into a file)
mkdir -p "$OUT"
failed=0

step() {  # step NAME SECONDS CMD...: run with a time limit, log to $OUT/NAME.log, remember failures
    local name="$1" limit="$2"
    shift 2
    case " $STEPS " in *" $name "*) ;; *) return 0 ;; esac
    local override="LIMIT_$name"
    limit="${!override:-$limit}"
    if [ -n "$DRY_RUN" ]; then
        echo "$name $limit $*"
        return 0
    fi
    echo "== $name (limit ${limit}s)"
    local start=$SECONDS
    timeout -s INT -k 15 "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    echo "   rc=$rc in $((SECONDS - start)) s; last lines:"
    tail -n 15 "$OUT/$name.log" | sed 's/^/   | /'
    [ "$rc" -eq 0 ] || failed=1
}

# One tiny Triton kernel, compiled and launched: proves the C compiler and Python headers Triton's launcher needs.
TRITON_PROBE='
import torch, triton, triton.language as tl
@triton.jit
def add_one(p, n, B: tl.constexpr):
    o = tl.program_id(0) * B + tl.arange(0, B)
    tl.store(p + o, tl.load(p + o, mask=o < n) + 1, mask=o < n)
x = torch.zeros(100, device="cuda")
add_one[(1,)](x, 100, B=128)
torch.cuda.synchronize()
print("triton", triton.__version__, "one-kernel launch:", "ok" if bool((x == 1).all()) else "WRONG VALUES")
'
if [ -z "$DRY_RUN" ]; then
    {
        date -u
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "nvidia-smi: not available"
        timeout 120 $PY -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'cudnn', torch.backends.cudnn.version(), 'transformers', transformers.__version__)"
        if command -v gcc >/dev/null; then gcc --version | head -n 1; else echo "gcc: not found"; fi
        timeout 120 $PY -c "from ltx_core import toolchain; print('triton toolchain:', toolchain.triton_missing() or \
'complete', '| compile toolchain:', toolchain.compile_toolchain_missing('cuda') or 'complete')"
        timeout 300 $PY -c "$TRITON_PROBE" || echo "triton one-kernel launch: FAILED"
        free -g
        df -h .
    } >"$OUT/env.log" 2>&1
    cat "$OUT/env.log"
fi

BENCH_T="scripts/bench_transformer.py --layers 8"
step bench_stream 360 $PY $BENCH_T --modes cpu,disk
step bench_resident 300 $PY $BENCH_T --modes none
# Only the files holding gpu tests: a machine without PyAV cannot import the media-writing test modules.
mapfile -t gpu_files < <(grep -rl --include='test_*.py' 'mark.gpu' packages tests 2>/dev/null | sort)
step gpu_tests 300 $PY -m pytest -q -m gpu -p no:cacheprovider -rfE "${gpu_files[@]}"
step bench_compile 420 $PY $BENCH_T --modes none --no-fp8 --compile --clips 768x512x121
step bench_vae 240 $PY scripts/bench_vae.py
step bench_pipeline 480 $PY scripts/bench_pipeline.py
echo "logs in $OUT; failed=$failed"
exit "$failed"
