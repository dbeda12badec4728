"""Wiring a run's media (``gossipper.media``): imported only when the run has media (a media
action in its scenarios, or ``-rtp_echo``), so a plain run loads none of it.

Media files are read here, before traffic: a missing, unreadable or unusable file (a pcap with
no RTP, a WAV that is not 8 kHz mono...) is a one-line ``FILE:LINE: reason`` error naming the
scenario and the action's line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from gossipper.config import RunConfig
from gossipper.errors import ConfigError, GossipperError, ScenarioError
from gossipper.interfaces import MediaTap, TransportFactory
from gossipper.media.ports import PortAllocator
from gossipper.media.session import MediaLibrary, MediaRun, MediaSettings, codec_for
from gossipper.scenario import Scenario
from gossipper.scenario.actions import MediaAction, MediaOp
from gossipper.stats.media import RtpCheckReport, StreamQuality

if TYPE_CHECKING:
    from gossipper.media.secure.wiring import SecureSettings


def media_actions(scenario: Scenario) -> Iterable[MediaAction]:
    for element in (*scenario.init_elements, *scenario.elements):
        for action in element.actions:
            if isinstance(action, MediaAction):
                yield action


def uses_video(scenario: Scenario) -> bool:
    """The calls need a video port pair: a ``play_pcap_video``/``rtp_echo`` of video."""
    return any(action.media == "video" for action in media_actions(scenario))


def media_wanted(config: RunConfig, scenarios: Iterable[Scenario | None]) -> bool:
    return config.identity.rtp_echo or any(s is not None and s.has_media for s in scenarios)


def read_media_files(
    scenarios: Iterable[Scenario | None], default_payload_type: int
) -> MediaLibrary:
    """Every media file the scenarios name, read once.

    Raises:
        ScenarioError: a file cannot be used (``SCENARIO:LINE: FILE: what is wrong``).
    """
    library = MediaLibrary()
    for scenario in scenarios:
        if scenario is None:
            continue
        for action in media_actions(scenario):
            try:
                if action.op is MediaOp.RTP_STREAM:
                    payload_type = action.payload_type
                    if payload_type < 0:
                        payload_type = default_payload_type
                    codec = codec_for(payload_type, action.codec)
                    if not codec:
                        raise GossipperError(
                            f"{action.file}: payload type {payload_type} names no codec"
                            " (give one: file,loops,96,PCMA/8000)"
                        )
                    library.add_audio(action.file, codec)
                elif action.op is MediaOp.PLAY_PCAP:
                    library.add_pcap(action.file)
            except GossipperError as exc:
                raise ScenarioError(scenario.source_label, action.line, str(exc)) from None
    return library


def build_media(
    config: RunConfig,
    scenarios: list[Scenario | None],
    *,
    transports: TransportFactory,
    media_ip: str,
    seed: int,
    open_calls: int | None,
    wall_time: Callable[[], float],
    on_quality: Callable[[StreamQuality], None],
    warn: Callable[[str], None],
    tap: MediaTap | None,
    deterministic_keys: bool = False,
    on_check: Callable[[RtpCheckReport], None] | None = None,
    report_window_s: float = 0.0,
) -> MediaRun:
    """The run's ``MediaFactory``.

    Raises:
        ScenarioError: a media file cannot be used.
        ConfigError: the RTP port range holds fewer port pairs than ``open_calls`` (-l, -users).
    """
    identity = config.identity
    low = identity.min_rtp_port if identity.min_rtp_port is not None else identity.media_port
    video = any(s is not None and uses_video(s) for s in scenarios)
    settings = MediaSettings(
        media_ip=media_ip,
        min_port=low,
        max_port=identity.max_rtp_port,
        video=video,
        echo=identity.rtp_echo,
        echo_buffer_bytes=identity.rtp_echo_buffer,
        seed=seed,
        debug=identity.rtpcheck_debug,
        default_payload_type=identity.rtp_payload,
        socket_buffer_bytes=identity.rtp_buffsize,
        srtp_debug=identity.srtpcheck_debug,
        srtp=(
            "require" if identity.media_srtp else "reject" if identity.media_reject_srtp else "auto"
        ),
        deterministic_keys=deterministic_keys,
        report_window_s=report_window_s,
        audio_tolerance=identity.audio_tolerance,
        video_tolerance=identity.video_tolerance,
        random_base_ssrc=identity.random_base_ssrc,
    )
    capacity = PortAllocator(low, identity.max_rtp_port, block=settings.block).capacity
    if open_calls is not None and open_calls > capacity:
        per_call = "four ports (audio and video pairs)" if video else "two ports (RTP, RTCP)"
        raise ConfigError(
            f"-min_rtp_port/-max_rtp_port: {low}-{identity.max_rtp_port} holds {capacity} calls'"
            f" media ({per_call} each) but up to {open_calls} calls run at once (-l/-users):"
            " widen the range or lower -l"
        )
    library = read_media_files(scenarios, identity.rtp_payload)
    secure = None
    # -media_srtp answers DTLS-SRTP offers too: it needs the run's certificate.
    secure_media = any(s is not None and s.secure_media for s in scenarios)
    if identity.turn_server or identity.media_srtp or secure_media:
        secure = secure_settings(config)
    return MediaRun(
        transports,
        settings,
        library,
        wall_time=wall_time,
        on_quality=on_quality,
        warn=warn,
        tap=tap,
        secure=secure,
        on_check=on_check,
    )


def turn_address(text: str) -> tuple[str, int]:
    """``-turn_server`` as an address datagrams are compared with: ``host[:port]`` (3478 by
    default, RFC 8656), a name resolved once here.

    Raises:
        ConfigError: not host:port, or a name that does not resolve.
    """
    import socket  # noqa: PLC0415 - only runs with TURN

    host, port_text = text, "3478"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else port_text
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(
            f"-turn_server: expected HOST[:PORT] (e.g. 10.0.0.5:3478, [::1]:3478), got {text!r}"
        )
    try:
        infos = socket.getaddrinfo(host, int(port_text), type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise ConfigError(f"-turn_server: cannot resolve {host!r}: {exc}") from None
    # IPv4 first, as the media sockets usually are.
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0]), int(port_text)


def secure_settings(config: RunConfig, environ: Mapping[str, str] = os.environ) -> SecureSettings:
    """The run's certificate (``-dtls_cert``/``-dtls_key``, else one made now), TURN, and the
    DTLS-SRTP key log (``GOSSIPPER_SRTP_KEYLOG`` in ``environ``, as ``SSLKEYLOGFILE`` for TLS).

    Raises:
        ConfigError: unreadable or unusable certificate/key, -turn_server without credentials,
            or the media-secure extra missing.
    """
    identity = config.identity
    try:
        from gossipper.media.secure.dtls import (  # noqa: PLC0415 - secure media only
            DtlsError,
            generate_certificate,
            load_certificate,
        )
        from gossipper.media.secure.wiring import (  # noqa: PLC0415 - secure media only
            SecureSettings,
            TurnSettings,
        )
    except ImportError as exc:
        raise ConfigError(
            f"DTLS-SRTP needs the media-secure extra (pip install 'gossipper[media-secure]'): {exc}"
        ) from None
    if (identity.dtls_cert is None) != (identity.dtls_key is None):
        raise ConfigError("-dtls_cert and -dtls_key go together: give both, or neither")
    if identity.dtls_cert is not None and identity.dtls_key is not None:
        pems: list[bytes] = []
        for option, path in (("-dtls_cert", identity.dtls_cert), ("-dtls_key", identity.dtls_key)):
            try:
                with open(path, "rb") as file:
                    pems.append(file.read())
            except OSError as exc:
                raise ConfigError(f"{option}: cannot read {path}: {exc.strerror}") from None
        try:
            certificate = load_certificate(pems[0], pems[1])
        except DtlsError as exc:
            raise ConfigError(f"-dtls_cert/-dtls_key: {exc}") from None
    else:
        try:
            certificate = generate_certificate()
        except ImportError as exc:
            raise ConfigError(
                "DTLS-SRTP needs the media-secure extra "
                f"(pip install 'gossipper[media-secure]'): {exc}"
            ) from None
    turn = None
    if identity.turn_server:
        if not identity.turn_user or not identity.turn_pass:
            raise ConfigError(
                "-turn_server needs -turn_user and -turn_pass (long-term credentials)"
            )
        turn = TurnSettings(
            server=turn_address(identity.turn_server),
            username=identity.turn_user,
            password=identity.turn_pass,
            realm=identity.turn_realm or None,
        )
    key_log = environ.get("GOSSIPPER_SRTP_KEYLOG") or None
    if key_log is not None:
        try:
            with open(key_log, "a", encoding="ascii"):
                pass
        except OSError as exc:
            raise ConfigError(
                f"GOSSIPPER_SRTP_KEYLOG {key_log}: cannot write: {exc.strerror or exc} (give a "
                "writable file or unset GOSSIPPER_SRTP_KEYLOG)"
            ) from None
    return SecureSettings(
        certificate, turn, handshake_timeout_s=identity.dtls_timeout_s, key_log=key_log
    )
