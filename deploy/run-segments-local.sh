#!/bin/sh
# The Kubernetes pattern of docs/kubernetes.md on one machine: a UAS, N segments of one test as
# local processes (what the Indexed Job's pods run), then the merge step.
#
#   deploy/run-segments-local.sh [RESULTS_DIR]
#
# Settings (environment): SEGMENTS (default 4), RATE (whole test, default 40), CALLS (whole
# test, default 200), PORT (the UAS's UDP port on 127.0.0.1, default 5070), GOSSIPPER (the
# command, default "python3 -m gossipper"), EXTRA (more options for every segment).
# The merged result is in RESULTS_DIR/merged; the exit status is the first failing step's.
set -eu

RESULTS=${1:-results}
SEGMENTS=${SEGMENTS:-4}
RATE=${RATE:-40}
CALLS=${CALLS:-200}
PORT=${PORT:-5070}
GOSSIPPER=${GOSSIPPER:-python3 -m gossipper}
EXTRA=${EXTRA:-}

mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)

# The UAS: the Deployment's container. It runs until this script stops it.
mkdir -p "$RESULTS/uas"
(cd "$RESULTS/uas" && exec $GOSSIPPER -sn uas -i 127.0.0.1 -p "$PORT" -nostdin \
    -summary_json summary.json >stdout.txt 2>stderr.txt) &
UAS_PID=$!
stop_uas() { kill "$UAS_PID" 2>/dev/null || true; wait "$UAS_PID" 2>/dev/null || true; }
trap stop_uas EXIT INT TERM
sleep 1
if ! kill -0 "$UAS_PID" 2>/dev/null; then
    echo "run-segments-local: the UAS did not start (see $RESULTS/uas/stderr.txt)" >&2
    exit 255
fi

# The Indexed Job: pod k runs -segment k/SEGMENTS in its own folder.
PIDS=""
index=0
while [ "$index" -lt "$SEGMENTS" ]; do
    folder="$RESULTS/segment-$index"
    mkdir -p "$folder"
    (cd "$folder" && exec $GOSSIPPER 127.0.0.1:"$PORT" -sn uac -i 127.0.0.1 \
        -segment "$index/$SEGMENTS" -r "$RATE" -m "$CALLS" -nostdin \
        -fd 1 -trace_stat -trace_counts -trace_rtt -trace_err -summary_json summary.json \
        $EXTRA >stdout.txt 2>stderr.txt) &
    PIDS="$PIDS $!"
    index=$((index + 1))
done

status=0
index=0
for pid in $PIDS; do
    if wait "$pid"; then
        :
    else
        code=$?
        echo "run-segments-local: segment $index/$SEGMENTS exited with status $code" >&2
        [ "$status" -ne 0 ] || status=$code
    fi
    index=$((index + 1))
done
stop_uas

# The merge Job.
$GOSSIPPER merge "$RESULTS"/segment-* -o "$RESULTS/merged"
exit "$status"
