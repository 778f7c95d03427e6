#!/usr/bin/env bash
# Every GPU check, as steps that each fit one ~8-minute runner call (random-checkpoint writing included). Logs go to
# $OUT (default outputs/gpu_check); the script goes on after a failure and exits non-zero if anything failed.
#
#   bash scripts/gpu_check.sh                       # a synced checkout: `uv run --frozen --offline python`
#   STEPS=headline bash scripts/gpu_check.sh        # on a GPU runner: one step per call
#
# Which Python: $PY when set; else uv's environment when uv is installed and can build it without the network (a
# synced .venv or a filled cache); else `python3` (a runner with its own PyTorch, no uv, no network). A Python that
# is not `uv run` gets the packages' sources on PYTHONPATH (packages/*/src: nothing to install).
# Wheels: what such a runner lacks travels as wheels in $WHEELS (default .whl/, git-ignored; fill it here with
# `python3 scripts/runner_env.py fetch`, which says why each is needed, and bring it with the device tool's
# `carry: [".whl"]`). The wheels whose distribution the Python lacks are installed into $SITE (pip --no-index
# --target, or unzipped where there is no pip) and put on PYTHONPATH; the runner's own packages are left alone.
# A step that needs a compiled package the runner lacks (PyAV for the demo) is skipped, said so, and not a failure.
#
# Steps, in order of value (STEPS picks some; one per ~8-minute call, or two per 10-minute call):
#   headline        the distilled pipeline at 768x512x121, 48 real-size random blocks (writes a ~44 GB checkpoint):
#                   total time, per-step time and TFLOP/s, whole-run TFLOP/s, peak memory, host syncs per step
#                   (the `headline:` lines of scripts/bench_pipeline.py; a cold run, then a warm one)
#   bench_stream    the transformer (8 real-size blocks) streamed from RAM and from disk, bf16 and fp8-cast
#   bench_resident  the same blocks resident: bf16, fp8-cast, fp8-scaled-mm; host syncs per step
#   gpu_tests       the `gpu`-marked tests (needs pytest: carried as a wheel)
#   bench_compile   resident bf16 eager vs torch.compile, at 768x512x121 only (compilation dominates)
#   bench_vae       the VAE decoders
#   bench_dvae      the LTX-2.5 diffusion decoder (default architecture, 25 frames at 512x768): untiled vs tiled, the
#                   official attention cut vs the blocked one (time, peak memory, ratios)
#   demo            the README's demo on CUDA: tiny checkpoints through the distilled CLI to an MP4 (needs PyAV)
# env.log (always written) records the chosen Python and why, the wheels installed, the driver, CUDA, torch, each
# declared dependency against its floor, gcc, the Python headers and a one-kernel Triton launch (at most ~2 minutes).
# A step's limit can be changed with LIMIT_<step>=SECONDS. At its limit a step gets SIGINT (Python unwinds: pytest
# prints its summary, temporary checkpoints are deleted), then SIGKILL 15 s later; output is unbuffered, so whatever
# a killed step printed is in its log. DRY_RUN=1 prints the Python, the wheels it would install and each selected
# step's limit and command, without installing or running anything. Copy the numbers into docs/performance.md with
# the date and device.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-outputs/gpu_check}"
STEPS="${STEPS:-headline bench_stream bench_resident gpu_tests bench_compile bench_vae bench_dvae demo}"
DRY_RUN="${DRY_RUN:-}"
UV="${UV:-uv}"
WHEELS="${WHEELS:-.whl}"
SITE="${SITE:-${TMPDIR:-/tmp}/ltx_gpu_check_site}"
export PYTHONUNBUFFERED=1  # a step killed at its limit must not lose what it printed (block-buffered into a file)
mkdir -p "$OUT"
failed=0

# --- which Python -------------------------------------------------------------------------------------------------
if [ -n "${PY:-}" ]; then
    why="PY was given"
elif ! command -v "$UV" >/dev/null 2>&1; then
    PY=python3
    why="uv not found"
elif timeout 120 $UV run --frozen --offline python -c "import torch" >/dev/null 2>&1; then
    PY="$UV run --frozen --offline python"
    why="uv's environment builds offline"
else
    PY=python3
    why="uv cannot build its environment offline (no network and nothing cached)"
fi
case "$(basename "${PY%% *}")" in
    uv) ;;  # uv's environment holds the workspace packages
    *) export PYTHONPATH="packages/ltx-core/src:packages/ltx-pipelines/src${PYTHONPATH:+:$PYTHONPATH}" ;;
esac
setup="python: $PY ($why)"

# --- carried wheels -----------------------------------------------------------------------------------------------
wheels=()
[ -d "$WHEELS" ] && mapfile -t wheels < <(find "$WHEELS" -maxdepth 1 -type f -name '*.whl' | sort)
if [ "${#wheels[@]}" -gt 0 ]; then
    mapfile -t needed < <(timeout 120 $PY scripts/runner_env.py missing "${wheels[@]}")
    if [ "${#needed[@]}" -eq 0 ]; then
        setup+=$'\n'"wheels: none needed (the Python has all ${#wheels[@]} in $WHEELS)"
    elif [ -n "$DRY_RUN" ]; then
        setup+=$'\n'"wheels: would install into $SITE: ${needed[*]##*/}"
    else
        mkdir -p "$SITE"
        if timeout 60 $PY -m pip --version >/dev/null 2>&1; then
            how="pip --no-index"
            timeout 300 $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
                --target "$SITE" "${needed[@]}" || failed=1
        else
            how="unzipped (no pip)"
            for wheel in "${needed[@]}"; do timeout 120 $PY -m zipfile -e "$wheel" "$SITE" || failed=1; done
        fi
        export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
        setup+=$'\n'"wheels: installed into $SITE ($how): ${needed[*]##*/}"
    fi
fi
[ -n "${PYTHONPATH:-}" ] && setup+=$'\n'"PYTHONPATH=$PYTHONPATH"
if [ -n "$DRY_RUN" ]; then
    echo "$setup" | sed 's/^/# /'
fi

step() {  # [NEEDS="module ..."] step NAME SECONDS CMD...: run with a time limit, log to $OUT/NAME.log
    local name="$1" limit="$2"
    shift 2
    case " $STEPS " in *" $name "*) ;; *) return 0 ;; esac
    local override="LIMIT_$name"
    limit="${!override:-$limit}"
    if [ -n "$DRY_RUN" ]; then
        echo "$name $limit $*"
        return 0
    fi
    local module
    for module in ${NEEDS:-}; do
        if ! timeout 120 $PY -c "import $module" >/dev/null 2>&1; then
            echo "== $name skipped: needs the Python module '$module', which $PY lacks (not carried: compiled)"
            return 0
        fi
    done
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
        echo "$setup"
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "nvidia-smi: not available"
        timeout 60 $PY -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'cudnn', torch.backends.cudnn.version(), 'transformers', transformers.__version__)"
        timeout 30 $PY scripts/runner_env.py report
        if command -v gcc >/dev/null; then gcc --version | head -n 1; else echo "gcc: not found"; fi
        timeout 60 $PY -c "from ltx_core import toolchain; print('triton toolchain:', toolchain.triton_missing() or \
'complete', '| compile toolchain:', toolchain.compile_toolchain_missing('cuda') or 'complete')"
        timeout 120 $PY -c "$TRITON_PROBE" || echo "triton one-kernel launch: FAILED"
        free -g
        df -h .
    } >"$OUT/env.log" 2>&1
    cat "$OUT/env.log"
fi

BENCH_T="scripts/bench_transformer.py --layers 8"
step headline 420 $PY scripts/bench_pipeline.py
step bench_stream 360 $PY $BENCH_T --modes cpu,disk
step bench_resident 300 $PY $BENCH_T --modes none
# Only the files holding gpu tests: a machine without PyAV cannot import the media-writing test modules.
mapfile -t gpu_files < <(grep -rl --include='test_*.py' 'mark.gpu' packages tests 2>/dev/null | sort)
NEEDS=pytest step gpu_tests 300 $PY -m pytest -q -m gpu -p no:cacheprovider -rfE "${gpu_files[@]}"
step bench_compile 420 $PY $BENCH_T --modes none --no-fp8 --compile --clips 768x512x121
step bench_vae 240 $PY scripts/bench_vae.py
step bench_dvae 300 $PY scripts/bench_vae.py --diffusion --frames 25 --height 512 --width 768
NEEDS=av step demo 300 $PY scripts/demo.py --device cuda --out "${TMPDIR:-/tmp}/ltx_gpu_check_demo.mp4"
echo "logs in $OUT; failed=$failed"
exit "$failed"
