#!/bin/sh
# Remakes the capture fixtures of tests/capture: loopback runs of SIPp (/usr/bin/sipp) and
# gossipper, captured with dumpcap (Wireshark's capture tool; needs root or the wireshark group).
# Run from the repository root: sh tests/data/captures/make_fixtures.sh
# (ONLY=cancel_udp.pcap sh ... remakes one of them).
# Each capture holds only the SIP port 5070 (the server side) traffic, so it stays a few kB.
set -eu
here=tests/data/captures
sc=$here/scenarios
gossipper="python -m gossipper"
SIPP=${SIPP:-/usr/bin/sipp}

capture() { # FILE FORMAT(pcap|pcapng) SERVER_COMMAND CLIENT_COMMAND
    # ONLY=FILE remakes that one capture.
    if [ -n "${ONLY:-}" ] && [ "$ONLY" != "$1" ]; then return; fi
    file=$1; format=$2; server_cmd=$3; client_cmd=$4
    rm -f "$here/$file"
    if [ "$format" = pcap ]; then fmt=-P; else fmt=-n; fi
    dumpcap -q -i lo $fmt -f "port 5070" -w "/tmp/$file" &
    dumper=$!
    sleep 2
    timeout 30 sh -c "$server_cmd" >"$work/server.log" 2>&1 &
    server_pid=$!
    sleep 4  # a Python start-up on a busy machine
    timeout 30 sh -c "$client_cmd" >"$work/client.log" 2>&1 || { tail -3 "$work/server.log" "$work/client.log"; }
    sleep 1
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    sleep 1
    kill -INT "$dumper"
    wait "$dumper" || true
    mv "/tmp/$file" "$here/$file"
}

cd "$(dirname "$0")/../../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
client="-i 127.0.0.1 -p 5071 -nostdin -timeout 10 -r 5"

# SIPp's built-in uac/uas over UDP, two identical calls: a pcap (Ethernet link type of lo).
capture sipp_uac_uas_udp.pcap pcap \
    "cd $work && $SIPP -sn uas -p 5070 -i 127.0.0.1 -nostdin -m 2" \
    "cd $work && $SIPP 127.0.0.1:5070 -sn uac $client -m 2 -d 100"

# A re-INVITE over TCP: SIPp's client against gossipper's server, pcapng.
capture reinvite_tcp.pcapng pcapng \
    "$gossipper -sf $sc/uas_reinvite.xml -t t1 -p 5070 -i 127.0.0.1 -nostdin -m 1" \
    "cd $work && $SIPP 127.0.0.1:5070 -sf $PWD/$sc/uac_reinvite.xml -t t1 $client -m 1"

# Three 486 Busy Here calls from three users (-inf): gossipper against itself, UDP, pcap.
capture busy_users_udp.pcap pcap \
    "$gossipper -sf $sc/uas_busy.xml -p 5070 -i 127.0.0.1 -nostdin -m 3" \
    "$gossipper 127.0.0.1:5070 -sf $sc/uac_busy.xml -inf $sc/users.csv $client -m 3"

# A digest challenge (401, then the INVITE with credentials checked by <verifyauth>):
# gossipper's client against SIPp's server, UDP, pcapng.
capture auth_udp.pcapng pcapng \
    "cd $work && $SIPP -sf $PWD/$sc/uas_auth.xml -p 5070 -i 127.0.0.1 -nostdin -m 1" \
    "$gossipper 127.0.0.1:5070 -sf $sc/uac_auth.xml $client -m 1"

# A CANCEL while ringing (200 to the CANCEL, 487 to the INVITE): SIPp's client against
# gossipper's server, UDP, pcap.
capture cancel_udp.pcap pcap \
    "$gossipper -sf $sc/uas_cancel.xml -p 5070 -i 127.0.0.1 -nostdin -m 1" \
    "cd $work && $SIPP 127.0.0.1:5070 -sf $PWD/$sc/uac_cancel.xml $client -m 1"

# The callee hangs up (a BYE from the UAS side): gossipper against itself, UDP, pcapng.
capture callee_bye_udp.pcapng pcapng \
    "$gossipper -sf $sc/uas_callee_bye.xml -p 5070 -i 127.0.0.1 -nostdin -m 1" \
    "$gossipper 127.0.0.1:5070 -sf $sc/uac_callee_bye.xml $client -m 1"
ls -l $here/*.pcap $here/*.pcapng
