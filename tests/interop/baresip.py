"""A baresip user agent of a test's own: Debian's baresip-core, answering calls with real audio.

The configuration lives in a temporary directory (``baresip -f DIR``): SIP on a loopback port,
one account in auto-answer mode, G.711 only, a WAV file as the audio source (module ``aufile``),
no sound card (the player is an ``aubridge`` device nobody reads: Debian's baresip-core 1.0 has
no null player), and ``sndfile``, which writes what baresip decoded from the network to a WAV
file, so a test can check that real audio arrived, not only packets.
"""

from __future__ import annotations

import contextlib
import pathlib
import re
import signal
import subprocess
import tempfile
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass

from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_udp_port,
    gossipper_command,
    start,
    udp_port_bound,
)
from tests.interop.media import free_udp_port_block, program, write_wav_tone

MODULE_DIR = pathlib.Path("/usr/lib/baresip/modules")
# Every module the configuration loads; a Debian build without one of them fails the test.
MODULES = ("g711", "aufile", "aubridge", "sndfile", "account")


# With srtp=True: SDES-SRTP (module srtp, account ;mediaenc=srtp-mand) and, to place calls,
# the menu module's /dial command.
SRTP_MODULES = ("srtp", "menu")
# With dtls=True: DTLS-SRTP (module dtls_srtp, account ;mediaenc=dtls_srtp) and the menu.
DTLS_MODULES = ("dtls_srtp", "menu")


def _modules(*, srtp: bool, dtls: bool) -> tuple[str, ...]:
    return SRTP_MODULES if srtp else DTLS_MODULES if dtls else ()


def baresip_binary(*, srtp: bool = False, dtls: bool = False) -> str:
    path = program("baresip", "baresip-core")
    wanted = MODULES + _modules(srtp=srtp, dtls=dtls)
    missing = [m for m in wanted if not (MODULE_DIR / f"{m}.so").exists()]
    if missing:
        raise AssertionError(f"baresip-core lacks modules {missing} in {MODULE_DIR}")
    return path


@dataclass
class Baresip:
    process: subprocess.Popen[str]
    directory: pathlib.Path
    sip_port: int
    rtp_ports: range
    user: str
    log_path: pathlib.Path

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@{LOOPBACK}:{self.sip_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def decoded_recordings(self) -> list[pathlib.Path]:
        """The WAV files sndfile wrote of the audio baresip decoded (received) per call."""
        return sorted(self.directory.glob("dump-*-dec.wav"))

    def encoded_recordings(self) -> list[pathlib.Path]:
        """The WAV files sndfile wrote of the audio baresip encoded (sent) per call."""
        return sorted(self.directory.glob("dump-*-enc.wav"))

    def call_packets(self) -> list[tuple[int, int]]:
        """(packets sent, packets received) of each ended call, as baresip counted them
        (``rtp_stats yes`` prints them when a call ends)."""
        counts = []
        for match in re.finditer(r"^packets:\s+(\d+)\s+(\d+)\s*$", self.log(), re.MULTILINE):
            counts.append((int(match[1]), int(match[2])))
        return counts

    def stop(self) -> str:
        """Stop baresip (SIGTERM: it hangs up and closes its files) and return its log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.log()


def _config(
    directory: pathlib.Path, sip_port: int, rtp: range, source: pathlib.Path, *, srtp: bool,
    dtls: bool = False,
) -> str:  # fmt: skip
    extra = [f"module {name}.so" for name in _modules(srtp=srtp, dtls=dtls)]
    return "\n".join(
        [
            "poll_method epoll",
            f"sip_listen {LOOPBACK}:{sip_port}",
            "call_local_timeout 30",
            "call_max_calls 16",
            f"audio_source aufile,{source}",
            # A bridge device with no reader: a player that needs no sound card.
            "audio_player aubridge,nobody",
            "audio_alert aubridge,nobody",
            "audio_level no",
            "ausrc_format s16",
            "auplay_format s16",
            "auenc_format s16",
            "audec_format s16",
            "audio_buffer 20-160",
            f"rtp_ports {rtp.start}-{rtp.stop - 1}",
            "rtcp_mux no",
            "jitter_buffer_delay 5-10",
            "rtp_stats yes",
            f"module_path {MODULE_DIR}",
            "module g711.so",
            "module aufile.so",
            "module aubridge.so",
            "module sndfile.so",
            *extra,
            f"snd_path {directory}",
            "module_tmp account.so",
            f"net_interface {LOOPBACK}",
            "",
        ]
    )


def start_baresip(
    directory: pathlib.Path,
    *,
    audio_seconds: float = 30.0,
    srtp: bool = False,
    dtls: bool = False,
    rtcp_mux: bool = False,
    dial: str | None = None,
) -> Baresip:
    """Start baresip with a configuration of its own in ``directory``; return once its SIP
    port is bound. Audio source: a 440 Hz tone of ``audio_seconds``, G.711 (PCMU, then PCMA).
    ``srtp``: SDES-SRTP is mandatory for its calls (RTP/SAVP, one AES_CM_128_HMAC_SHA1_80
    a=crypto line). ``dtls``: DTLS-SRTP for its calls (UDP/TLS/RTP/SAVP, a=fingerprint,
    a=setup). ``rtcp_mux``: RTCP on the RTP port (a=rtcp-mux). ``dial``: a SIP URI it calls
    once ready.
    """
    binary = baresip_binary(srtp=srtp, dtls=dtls)
    # sndfile writes "<snd_path>/dump-YYYY-MM-DD-HH-MM-SS-dec.wav" into a 128-byte buffer and
    # silently truncates; a path that would not fit must fail here, not as a missing recording.
    if len(str(directory)) + len("/dump-2026-01-01-00-00-00-dec.wav") >= 128:
        raise AssertionError(f"baresip directory {directory} is too long for sndfile's names")
    directory.mkdir(parents=True, exist_ok=True)
    # One block: SIP at its base, 16 RTP ports after it. baresip listens on UDP and TCP at
    # sip_port and on TLS at sip_port + 1 (it cannot be told not to): those must be free on
    # TCP too, TIME_WAIT included (a CI run met one on sip_port + 1).
    sip_port = free_udp_port_block(18, tcp=True)
    rtp = range(sip_port + 2, sip_port + 18)
    source = directory / "source.wav"
    write_wav_tone(source, audio_seconds)
    user = "baresip"
    config = _config(directory, sip_port, rtp, source, srtp=srtp, dtls=dtls)
    if rtcp_mux:
        config = config.replace("rtcp_mux no", "rtcp_mux yes")
    (directory / "config").write_text(config)
    # regint=0: no registrar; answermode=auto: every incoming call is answered at once.
    mediaenc = ";mediaenc=srtp-mand" if srtp else ";mediaenc=dtls_srtp" if dtls else ""
    (directory / "accounts").write_text(
        f"<sip:{user}@{LOOPBACK}:{sip_port}>;regint=0;answermode=auto;"
        f"audio_codecs=PCMU,PCMA;ptime=20{mediaenc}\n"
    )
    (directory / "contacts").write_text("")
    log_path = directory / "baresip.log"
    log = log_path.open("w")
    # -t: a last-resort stop if the test dies without stopping it.
    # -e: typed into the menu once ready (the /dial command places the call).
    commands = ["-e", f"/dial {dial}"] if dial is not None else []
    process = subprocess.Popen(
        [binary, "-4", "-f", str(directory), "-t", "120", *commands],
        cwd=directory,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log.close()
    agent = Baresip(process, directory, sip_port, rtp, user, log_path)
    deadline = time.monotonic() + 20.0
    while not (udp_port_bound(sip_port) and "baresip is ready" in agent.log()):
        if process.poll() is not None or time.monotonic() > deadline:
            agent.stop()
            raise AssertionError(f"baresip did not start on {sip_port}:\n{agent.log()[-3000:]}")
        time.sleep(0.05)
    return agent


def _start_gossipper(
    directory: pathlib.Path, scenario: pathlib.Path, *first: str, env: dict[str, str] | None
) -> tuple[subprocess.Popen[str], int, int]:
    """gossipper for one call with baresip: ``first`` (a UAC's target and user), a free SIP
    port, 16 RTP ports, -trace_media, -trace_err and summary.json for the assertions; returns
    the process, its SIP port and its first RTP port."""
    sip_port, media = free_udp_port(), free_udp_port_block(16)
    process = start(
        gossipper_command(
            *first, "-i", LOOPBACK, "-p", str(sip_port), "-m", "1", "-nostdin",
            "-min_rtp_port", str(media), "-max_rtp_port", str(media + 15),
            "-sf", str(scenario), "-trace_media", "-trace_err",
            "-summary_json", "summary.json",
        ),
        directory,
        env=env,
    )  # fmt: skip
    return process, sip_port, media


def gossipper_calls_baresip(
    directory: pathlib.Path,
    agent: Baresip,
    scenario: pathlib.Path,
    *,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str, int]:
    """A gossipper UAC (``scenario``, in ``directory``) calling ``agent`` once: its status,
    stdout and stderr once it ended (40 s at most), and its first RTP port. ``agent`` is left
    running: the caller stops it (its log) before reading its files."""
    uac, _sip_port, media = _start_gossipper(
        directory, scenario, f"{LOOPBACK}:{agent.sip_port}", "-s", agent.user, env=env
    )
    rc, out, err = finish(uac, timeout_s=40)
    return rc, out, err, media


@dataclass
class AnsweredCall:
    """A call from baresip that a gossipper UAS answered (``baresip_calls_gossipper``)."""

    agent: Baresip
    media: int  # the first of the UAS's 16 RTP ports
    returncode: int
    out: str
    err: str
    log: str  # baresip's


@contextlib.contextmanager
def baresip_calls_gossipper(
    directory: pathlib.Path,
    scenario: pathlib.Path,
    *,
    dtls: bool = False,
    rtcp_mux: bool = False,
    env: dict[str, str] | None = None,
) -> Iterator[AnsweredCall]:
    """A gossipper UAS (``scenario``, in ``directory``, -trace_media, -trace_err and
    summary.json for the assertions) and a baresip that dials it once ready; yields once the
    UAS has ended (40 s at most) and baresip has stopped.

    Yields inside baresip's temporary directory: its recordings and counters go with it, so
    the caller reads them in the ``with`` block. The UAS is killed if it is still running.
    """
    uas, sip_port, media = _start_gossipper(directory, scenario, env=env)
    try:
        with tempfile.TemporaryDirectory(prefix="baresip-") as agent_directory:
            agent = start_baresip(
                pathlib.Path(agent_directory), dtls=dtls, rtcp_mux=rtcp_mux,
                dial=f"sip:service@{LOOPBACK}:{sip_port}",
            )  # fmt: skip
            try:
                rc, out, err = finish(uas, timeout_s=40)
            finally:
                log = agent.stop()
            yield AnsweredCall(agent, media, rc, out, err, log)
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait()


def wav_stats(path: pathlib.Path) -> tuple[int, int, float]:
    """(sample rate, frames, RMS of the samples) of a 16-bit mono WAV file."""
    with wave.open(str(path), "rb") as wav:
        rate, frames, channels = wav.getframerate(), wav.getnframes(), wav.getnchannels()
        data = wav.readframes(frames)
    samples = memoryview(data).cast("h")
    step = channels
    values = [samples[i] for i in range(0, len(samples), step)]
    rms = (sum(v * v for v in values) / len(values)) ** 0.5 if values else 0.0
    return rate, len(values), rms
