"""What one sleep and wake-up costs on this machine, in CPU, before any work is done.

At low call rates CPU per call is mostly wake-ups (docs/performance.md, "What a wake-up costs
here"). This script separates the machine's share from the event loop's: each case sleeps
--wakes times for 1 ms and reports the process's CPU per wake-up (user + system, from
os.wait4, the interpreter's start-up taken off by timing only the loop inside the child):

  c_epoll       a C loop around epoll_wait with a 1 ms timeout (what SIPp's main loop does
                when idle); built with the system's C compiler, skipped without one
  py_epoll      the same loop in Python (select.epoll.poll)
  py_timerfd    Python arming gossipper's timerfd (engine/_timerfd.c) for 1 ms on and
                waiting for it with epoll: a timer queue's tick without Trio
  trio_timerfd  the same wait through Trio's wait_readable, in a task: what the timer
                queue's task does each tick
  trio_sleep    trio.sleep_until, a cancel scope's deadline

and two cases where a datagram, not a timer, ends each sleep: a sender process sends one every
millisecond to a client-like timer queue (hold_ticks, a pacing timer every 4 ms run in the
queue's task); CPU per datagram read:

  dgram_trio    a task waits for the socket through Trio's wait_readable, as a sparse
                client's receive loop did before the queue watched its socket
  dgram_queue   the queue's own epoll watches the socket (TimerQueue.read_when_readable)
                and reads it in its task

  python bench/wake_cost.py [--wakes 3000] [--runs 3] [--source DIR | --live]

The difference trio_timerfd - py_timerfd is what a pass of Trio's loop adds to a wake-up.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import statistics
import subprocess
import tempfile

import benchlib
from benchlib import add_source_options, install_cleanup, machine_info, prepare_source

_C_LOOP = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
static double cpu_s(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec
        + r.ru_stime.tv_usec / 1e6;
}
int main(int argc, char **argv) {
    int wakes = atoi(argv[1]);
    int ep = epoll_create1(0);
    struct epoll_event events[8];
    double start = cpu_s();
    for (int i = 0; i < wakes; i++) epoll_wait(ep, events, 8, 1);
    printf("{\"cpu_s\": %.6f}\n", cpu_s() - start);
    return 0;
}
"""

# Each Python case is _PRELUDE, then a body that sleeps ``wakes`` times and prints
# {"cpu_s": ...} for its loop alone (resource.getrusage, through report()).
_PRELUDE = """
import json, resource, select, sys, time
def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
def report(start):
    print(json.dumps({"cpu_s": cpu_s() - start}))
wakes = int(sys.argv[1])
"""

_BODIES = {
    "py_epoll": """
ep = select.epoll()
start = cpu_s()
for _ in range(wakes):
    ep.poll(0.001)
report(start)
""",
    "py_timerfd": """
from gossipper.engine import _timerfd
fd = _timerfd.tick_timer()
ep = select.epoll()
ep.register(fd, select.EPOLLIN)
when_s = time.monotonic()
start = cpu_s()
for _ in range(wakes):
    when_s += 0.001
    _timerfd.tick_arm(fd, when_s)
    ep.poll(-1)
report(start)
""",
    "trio_timerfd": """
import trio
from gossipper.engine import _timerfd
async def main():
    fd = _timerfd.tick_timer()
    when_s = time.monotonic()
    start = cpu_s()
    for _ in range(wakes):
        when_s += 0.001
        _timerfd.tick_arm(fd, when_s)
        await trio.lowlevel.wait_readable(fd)
    report(start)
trio.run(main)
""",
    "trio_sleep": """
import trio
async def main():
    when_s = trio.current_time()
    start = cpu_s()
    for _ in range(wakes):
        when_s += 0.001
        await trio.sleep_until(when_s)
    report(start)
trio.run(main)
""",
}
# The datagram cases: a sender process, then the queue and the reading of ``wakes``
# datagrams; {watch} tells whether the queue watches the socket.
_DGRAM_BODY = """
import socket, subprocess, trio
from gossipper.engine import timers
from gossipper.engine.timers import Parker, TimerQueue, run_clock
assert timers._C_TIMERFD is not None, "needs the timerfd accelerator (a mypyc snapshot)"
receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.bind(("127.0.0.1", 0))
receiver.setblocking(False)
sender = subprocess.Popen([sys.executable, "-S", "-c", (
    "import socket, sys, time\\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\\n"
    "for _ in range(int(sys.argv[1]) + 10):\\n"
    "    time.sleep(0.001)\\n"
    "    s.sendto(b'x' * 400, ('127.0.0.1', int(sys.argv[2])))\\n"
), str(wakes), str(receiver.getsockname()[1])])
async def main():
    now = run_clock()
    queue = TimerQueue(resolution_s=0.001, now=now, descriptor=True)
    queue.hold_ticks = True
    pacing = Parker(queue)
    pacing.on_timer = lambda: now() + 0.004
    got = 0
    start = None
    def read():
        nonlocal got, start
        while True:
            try:
                receiver.recv(2048)
            except BlockingIOError:
                break
            got += 1
            if start is None:
                start = cpu_s()
                got = 0
        return timers.READ_NO_MORE if got >= wakes else timers.READ_WHEN_READABLE
    async with trio.open_nursery() as nursery:
        nursery.start_soon(queue.run)
        nursery.start_soon(pacing.park, now() + 0.004)
        await trio.testing.wait_all_tasks_blocked()
        if not ({watch} and await queue.read_when_readable(read, receiver.fileno())):
            while read() != timers.READ_NO_MORE:
                await trio.lowlevel.wait_readable(receiver)
        report(start)
        nursery.cancel_scope.cancel()
import trio.testing
trio.run(main)
sender.wait()
"""
_BODIES["dgram_trio"] = _DGRAM_BODY.replace("{watch}", "False")
_BODIES["dgram_queue"] = _DGRAM_BODY.replace("{watch}", "True")
_PY_CASES = {name: _PRELUDE + body for name, body in _BODIES.items()}

CASES = ["c_epoll", *_PY_CASES]


def build_c_loop(work: pathlib.Path) -> pathlib.Path | None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    source = work / "wake_loop.c"
    source.write_text(_C_LOOP)
    binary = work / "wake_loop"
    done = subprocess.run([compiler, "-O2", "-o", str(binary), str(source)], check=False)
    return binary if done.returncode == 0 else None


def one_case(case: str, wakes: int, c_loop: pathlib.Path | None) -> float | None:
    """CPU µs per wake-up of one run of ``case`` (None: not available here)."""
    if case == "c_epoll":
        if c_loop is None:
            return None
        command = [str(c_loop), str(wakes)]
    else:
        command = [*benchlib.plain_site_python(_PY_CASES[case]), str(wakes)]
    done = subprocess.run(
        command,
        env=benchlib._child_env(),
        capture_output=True,
        text=True,
        timeout=wakes * 0.01 + 60,
        check=False,
    )
    if done.returncode != 0:
        print(f"  {case}: failed ({done.stderr.strip()[-300:]})")
        return None
    cpu_s = float(json.loads(done.stdout.strip().splitlines()[-1])["cpu_s"])
    return cpu_s / wakes * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wakes", type=int, default=3000, help="sleeps of 1 ms per run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each case (rotated)")
    parser.add_argument("--json", type=pathlib.Path, help="write the medians here as JSON")
    add_source_options(parser)
    args = parser.parse_args()
    install_cleanup()
    work = pathlib.Path(tempfile.mkdtemp(prefix="gossipper-wake-"))
    try:
        version = prepare_source(args, work)
        print(f"gossipper {version}")
        c_loop = build_c_loop(work)
        samples: dict[str, list[float]] = {case: [] for case in CASES}
        for run in range(args.runs):
            order = CASES[run % len(CASES) :] + CASES[: run % len(CASES)]
            for case in order:
                us = one_case(case, args.wakes, c_loop)
                if us is not None:
                    samples[case].append(us)
                    print(f"run {run + 1} {case:13s} {us:6.1f} µs of CPU per wake-up")
        medians = {case: statistics.median(v) for case, v in samples.items() if v}
        print("\nmedians, µs of CPU per 1 ms sleep and wake-up:")
        for case, us in medians.items():
            print(f"  {case:13s} {us:6.1f}")
        if "trio_timerfd" in medians and "py_timerfd" in medians:
            added = medians["trio_timerfd"] - medians["py_timerfd"]
            print(f"  a pass of Trio's loop adds {added:.1f} µs to a timerfd wake-up")
        if "dgram_trio" in medians and "dgram_queue" in medians:
            saved = medians["dgram_trio"] - medians["dgram_queue"]
            print(f"  the queue's watch saves {saved:.1f} µs per sparse datagram")
        if args.json is not None:
            args.json.write_text(
                json.dumps({"machine": machine_info(), "version": version, "medians": medians})
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
