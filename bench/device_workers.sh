#!/bin/bash
# The -workers scaling curve (issue 19 item 4) on a machine with more cores than this one.
#
#   bench/device_workers.sh pack      here: fill .devbench/ (ignored by git) with what the
#                                     other machine lacks: wheels for its Python (3.12) and
#                                     SIPp 3.6.1 with its libraries
#   bench/device_workers.sh run       there, from the repository root: build the mypyc
#                                     snapshot, run bench/workers.py with 1, 2, 4 and 8 workers
#                                     against SIPp's uas, write workers.log/.json under $OUT
#
# The other machine (see DEVELOPERS.md) has no network, so everything travels in .devbench/.
# Rates are per worker (--scale-rates): N workers climb N x each rate, so every ladder starts
# near its own ceiling and the whole run fits in one short lease. The mypyc build (BUILD=mypyc,
# the default) took more than 200 s there on 2026-12-04 (90 s here); BUILD=pure skips it.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
pack=$here/.devbench
py_version=${DEVICE_PYTHON:-3.12}
rates=${RATES:-4000,6000,7000,8000,9000}
workers=${WORKERS:-1,2,4,8}
seconds=${SECONDS_PER_STEP:-4}
# One SIPp uas saturates a core at about 15,000 calls/s there: give each worker its own
# (bench/reuseport_shim.c); BUILD=mypyc measures the compiled build (needs gcc and the
# Python headers there), BUILD=pure the interpreter.
uas_count=${UAS_COUNT:-8}
build=${BUILD:-mypyc}

case ${1:-} in
pack)
    mkdir -p "$pack/whl" "$pack/bin" "$pack/lib"
    grep -qx "/.devbench/" "$here/.git/info/exclude" 2>/dev/null ||
        { mkdir -p "$here/.git/info" && echo "/.devbench/" >>"$here/.git/info/exclude"; }
    # The versions this checkout builds with (pyproject.toml), for the other Python; the
    # image there already has attrs, idna, sortedcontainers, lxml, typer, setuptools.
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$py_version" \
        --implementation cp --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$pack/whl" \
        trio==0.35.0 outcome==1.3.0.post0 sniffio==1.3.1 mypy==2.4.1 lxml-stubs==0.5.1 \
        librt==0.17.0 ast-serialize==0.13.1 pathspec==1.1.1 || exit 1
    # mypyc type-checks every module the hot ones import: scenario/milenage.py needs
    # cryptography's types (without it the build falls back to pure Python).
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$py_version" \
        --implementation cp --platform manylinux_2_34_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$pack/whl" \
        cryptography==48.0.0 cffi==2.1.1 pycparser==3.12 || exit 1
    cp /usr/bin/sipp "$pack/bin/sipp.real" || exit 1
    for lib in $(ldd /usr/bin/sipp | awk '/=>/ {print $3}'); do
        case $(basename "$lib") in
        libc.so.* | libm.so.* | libstdc++.so.* | libgcc_s.so.*) ;;  # the newer ones there
        *) cp -L "$lib" "$pack/lib/" ;;
        esac
    done
    gcc -O2 -Wall -shared -fPIC -o "$pack/lib/reuseport_shim.so" "$here/bench/reuseport_shim.c" \
        -ldl || exit 1
    cat >"$pack/bin/sipp" <<'EOF'
#!/bin/sh
# SIPp 3.6.1 (Debian's sip-tester) with the libraries it was linked with beside it.
here=$(dirname "$(readlink -f "$0")")
LD_LIBRARY_PATH="$here/../lib" exec "$here/sipp.real" "$@"
EOF
    chmod +x "$pack/bin/sipp"
    du -sh "$pack"
    ;;
run)
    out=${OUT:-/tmp/device-out}
    mkdir -p "$out"
    export PYTHONUNBUFFERED=1
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "$pack"/whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site PATH="$pack/bin:$PATH"
    # 4 MiB socket buffers as on the 2-core machine (bench_rates.BUFF_SIZE); root may raise
    # the cap, and a lower cap would shrink them silently.
    for cap in rmem_max wmem_max; do echo 16777216 >/proc/sys/net/core/$cap; done 2>/dev/null || true
    {
        date -u
        nproc
        grep -m1 "model name" /proc/cpuinfo
        python3 -V
        sipp -v | grep -m1 SIPp
        git -C "$here" log -1 --format="%h %s" 2>/dev/null
    } 2>&1 | tee "$out/machine.txt"
    {
        echo "gcc: $(command -v gcc || echo none)"
        include=$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("INCLUDEPY"))')
        ls "$include/Python.h" 2>&1
    } | tee -a "$out/machine.txt"
    start=$(date +%s)
    if [ "$build" = mypyc ] && python3 -c "import sys, pathlib; sys.path.insert(0, 'bench')
import benchlib; benchlib.snapshot_source(pathlib.Path('/tmp/snap'))" >"$out/build.log" 2>&1; then
        echo "mypyc snapshot built in $(($(date +%s) - start)) s" | tee -a "$out/machine.txt"
    else
        echo "measuring pure Python (BUILD=$build)" | tee -a "$out/machine.txt"
        rm -rf /tmp/snap
        python3 -c "import sys, pathlib; sys.path.insert(0, 'bench'); import benchlib
benchlib.snapshot_source(pathlib.Path('/tmp/snap'), compiled=False)" >>"$out/build.log" 2>&1 ||
            exit 1
    fi
    fanout=()
    if [ "$uas_count" -gt 1 ]; then
        fanout=(--uas-count "$uas_count" --uas-shim "$pack/lib/reuseport_shim.so")
    fi
    python3 bench/workers.py --source /tmp/snap --no-single --workers "$workers" \
        --scale-rates --rates "$rates" --seconds "$seconds" --quiet-wait 0 --slack 8 "${fanout[@]}" \
        --json "$out/workers.json" 2>&1 | tee "$out/workers.log"
    ;;
*)
    echo "usage: bench/device_workers.sh pack|run" >&2
    exit 2
    ;;
esac
