from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossipper.sdp import (
    Attribute,
    Codec,
    SdpError,
    build_sdp,
    parse_sdp,
    remote_rtp_endpoint,
)

# SIPp 3.6.1's uac_pcap INVITE body with its keywords substituted as SIPp does.
SIPP_UAC_PCAP = (
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6000 RTP/AVP 8 101\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-11,16\r\n"
)

# Captured from SIPp 3.6.1's own INVITE (sipp -sn uac, trace_msg), sent with Content-Length 129.
SIPP_361_CAPTURED = (
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 6004 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
)

# SIPp's uas 200 OK body (static payload 0 with its rtpmap).
SIPP_UAS = (
    "v=0\r\n"
    "o=user1 53655765 2353687637 IN IP4 127.0.0.2\r\n"
    "s=-\r\n"
    "c=IN IP4 127.0.0.2\r\n"
    "t=0 0\r\n"
    "m=audio 6002 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
)

# A browser (Chrome-style) WebRTC offer: bundle, ICE, DTLS, rtcp-mux, extmaps, ssrc lines.
WEBRTC_OFFER = (
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS stream1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=candidate:1 1 udp 2113937151 192.0.2.10 54400 typ host generation 0\r\n"
    "a=ice-ufrag:EsAw\r\n"
    "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD"
    ":34:8E:5E:EA:6F:AF:52:CE:E6:0F\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=sendrecv\r\n"
    "a=msid:stream1 track1\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtcp-fb:111 transport-cc\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:63 red/48000/2\r\n"
    "a=fmtp:63 111/111\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:13 CN/8000\r\n"
    "a=rtpmap:110 telephone-event/48000\r\n"
    "a=rtpmap:126 telephone-event/8000\r\n"
    "a=ssrc:3735928559 cname:4TOk42mSjXCkVIa6\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:2000\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=mid:1\r\n"
    "a=recvonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
)

SDES_SRTP_OFFER = (
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP6 ::1\r\n"
    "s=SRTP call\r\n"
    "i=A call with SDES keys\r\n"
    "u=http://example.com/call\r\n"
    "e=alice@example.com\r\n"
    "p=+1 617 555-6011\r\n"
    "c=IN IP6 ::1\r\n"
    "b=CT:128\r\n"
    "t=2873397496 2873404696\r\n"
    "r=7d 1h 0 25h\r\n"
    "z=2882844526 -1h 2898848070 0\r\n"
    "a=recvonly\r\n"
    "m=audio 49170 RTP/SAVP 0 18\r\n"
    "i=voice\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80"
    " inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32\r\n"
    "a=ptime:20\r\n"
    "a=fmtp:18 annexb=no\r\n"
)


def test_captured_sipp_body_matches_its_content_length() -> None:
    assert len(SIPP_361_CAPTURED.encode()) == 129
    sdp = parse_sdp(SIPP_361_CAPTURED)
    assert remote_rtp_endpoint(sdp) == ("127.0.0.1", 6004)
    audio = sdp.media[0]
    assert audio.codecs() == [Codec(0, "PCMU", 8000)]


@pytest.mark.parametrize(
    "body", [SIPP_361_CAPTURED, SIPP_UAC_PCAP, SIPP_UAS, WEBRTC_OFFER, SDES_SRTP_OFFER]
)
def test_round_trip_is_byte_identical(body: str) -> None:
    assert parse_sdp(body).serialize() == body
    assert parse_sdp(body.encode()).serialize() == body


def test_lf_only_body_parses_like_crlf() -> None:
    lf = SIPP_UAC_PCAP.replace("\r\n", "\n")
    assert parse_sdp(lf) == parse_sdp(SIPP_UAC_PCAP)
    assert parse_sdp(lf).serialize() == SIPP_UAC_PCAP


def test_sipp_uac_offer_helpers() -> None:
    sdp = parse_sdp(SIPP_UAC_PCAP)
    assert remote_rtp_endpoint(sdp) == ("127.0.0.1", 6000)
    audio = sdp.first_media("audio")
    assert audio is not None
    assert [(c.payload_type, c.name, c.clock_rate) for c in audio.codecs()] == [
        (8, "PCMA", 8000),
        (101, "telephone-event", 8000),
    ]
    assert audio.telephone_event_payload_type == 101
    assert audio.codec(101) == Codec(101, "telephone-event", 8000, 1, "0-11,16")
    assert sdp.direction_of(audio) == "sendrecv"
    assert audio.ptime_ms is None
    assert not audio.rtcp_mux


def test_static_payload_without_rtpmap_resolves_from_rfc3551() -> None:
    sdp = parse_sdp(
        "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n"
        "m=audio 4000 RTP/AVP 18 0 96\n"
    )
    audio = sdp.media[0]
    # 96 has no rtpmap: nothing says what it is, so it is left out.
    assert [(c.name, c.clock_rate) for c in audio.codecs()] == [("G729", 8000), ("PCMU", 8000)]
    assert audio.telephone_event_payload_type is None


def test_webrtc_offer_attributes_are_kept_for_srtp_and_dtls() -> None:
    sdp = parse_sdp(WEBRTC_OFFER)
    audio, video = sdp.media
    assert audio.attribute("setup") == "actpass"
    assert (audio.attribute("fingerprint") or "").startswith("sha-256 D2:FA")
    assert audio.rtcp_mux and audio.rtcp_port == 9
    assert audio.telephone_event_payload_type == 110  # the first one offered
    assert audio.codec(111) == Codec(111, "opus", 48000, 2, "minptime=10;useinbandfec=1")
    assert sdp.direction_of(video) == "recvonly"
    assert video.bandwidths == ["AS:2000"]
    assert sdp.attribute("group") == "BUNDLE 0 1"
    assert remote_rtp_endpoint(sdp, "video") == ("0.0.0.0", 9)


def test_session_level_fields_and_media_level_crypto() -> None:
    sdp = parse_sdp(SDES_SRTP_OFFER)
    assert sdp.origin.addrtype == "IP6"
    assert sdp.timings[0].repeats == ["7d 1h 0 25h"]
    assert sdp.zone == "2882844526 -1h 2898848070 0"
    audio = sdp.media[0]
    assert (audio.attribute("crypto") or "").startswith("1 AES_CM_128")
    assert audio.ptime_ms == 20
    # The session-level recvonly applies: the media has no direction of its own.
    assert sdp.direction_of(audio) == "recvonly"
    assert remote_rtp_endpoint(sdp) == ("::1", 49170)


def test_media_level_connection_wins_over_session() -> None:
    sdp = parse_sdp(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "m=audio 0 RTP/AVP 0\r\n"
        "m=audio 5004 RTP/AVP 0\r\nc=IN IP4 224.2.1.1/127/3\r\n"
    )
    # The first audio line is rejected (port 0); the second's own c= applies, without /ttl.
    assert remote_rtp_endpoint(sdp) == ("224.2.1.1", 5004)


def test_port_count_round_trips() -> None:
    body = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\nm=video 49170/2 RTP/AVP 31\r\n"
    sdp = parse_sdp(body)
    assert (sdp.media[0].port, sdp.media[0].port_count) == (49170, 2)
    assert sdp.serialize() == body
    assert sdp.media[0].codecs() == [Codec(31, "H261", 90000)]


def test_no_usable_audio_line_is_an_sdp_error() -> None:
    sdp = parse_sdp("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
    with pytest.raises(SdpError, match="no c= line"):
        remote_rtp_endpoint(sdp)
    with pytest.raises(SdpError, match="no video m= line"):
        remote_rtp_endpoint(sdp, "video")


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("", 0, "empty body"),
        ("o=- 1 1 IN IP4 a\r\n", 1, "starts with v="),
        ("v=1\r\n", 1, "version 0"),
        ("v=0\r\ns=-\r\n", 2, "followed by o="),
        ("v=0\r\no=- 1 IN IP4 a\r\n", 2, "o= needs 6 fields"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nbogus\r\n", 4, "expected '<letter>=<value>'"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\nt=0 x\r\n", 3, "t= stop"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\nm=audio port RTP/AVP 0\r\n", 3, "m= port"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\nm=audio 70000 RTP/AVP 0\r\n", 3, "above 65535"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\nm=audio 4000\r\n", 3, "m= needs"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\nm=audio 4000 RTP/AVP 0\r\nt=0 0\r\n", 4, "not allowed"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\nx=1\r\n", 3, "unknown line type x="),
        ("v=0\r\no=- 1 1 IN IP4 a\r\nc=IN IP4\r\n", 3, "c= needs 3"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\nr=1d\r\n", 3, "r= must follow"),
    ],
)
def test_errors_name_the_line(body: str, line: int, fragment: str) -> None:
    with pytest.raises(SdpError) as info:
        parse_sdp(body)
    assert info.value.line == line
    assert fragment in str(info.value)
    if line:
        assert str(info.value).startswith(f"SDP line {line}:")


def test_invalid_utf8_names_its_line() -> None:
    with pytest.raises(SdpError) as info:
        parse_sdp(b"v=0\r\no=- 1 1 IN IP4 a\r\ns=\xff\r\n")
    assert info.value.line == 3


def test_build_answer_from_parts_parses_back() -> None:
    answer = build_sdp(
        address="127.0.0.1",
        audio_port=6000,
        codecs=[Codec(0, "PCMU", 8000), Codec(101, "telephone-event", 8000, fmtp="0-15")],
        session_id=42,
        session_version=7,
        ptime_ms=20,
        direction="sendonly",
        extra_audio_attributes=[Attribute("rtcp-mux")],
    )
    text = answer.serialize()
    assert text == (
        "v=0\r\n"
        "o=- 42 7 IN IP4 127.0.0.1\r\n"
        "s=-\r\n"
        "c=IN IP4 127.0.0.1\r\n"
        "t=0 0\r\n"
        "m=audio 6000 RTP/AVP 0 101\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-15\r\n"
        "a=ptime:20\r\n"
        "a=sendonly\r\n"
        "a=rtcp-mux\r\n"
    )
    parsed = parse_sdp(text)
    assert parsed == answer
    audio = parsed.media[0]
    assert audio.telephone_event_payload_type == 101
    assert parsed.direction_of(audio) == "sendonly"
    assert audio.rtcp_mux


def test_build_ipv6_offer_with_video() -> None:
    offer = build_sdp(
        address="::1",
        audio_port=7000,
        codecs=[Codec(8, "PCMA", 8000)],
        video_port=7002,
        video_codecs=[Codec(96, "H264", 90000, fmtp="packetization-mode=1")],
    )
    parsed = parse_sdp(offer.serialize())
    assert parsed.origin.addrtype == "IP6"
    assert remote_rtp_endpoint(parsed, "video") == ("::1", 7002)
    video = parsed.first_media("video")
    assert video is not None and video.codecs() == [
        Codec(96, "H264", 90000, 1, "packetization-mode=1")
    ]
    with pytest.raises(ValueError, match="direction"):
        build_sdp(address="::1", audio_port=1, codecs=[], direction="both")


@given(st.binary(max_size=400))
def test_random_bytes_raise_only_sdp_error(data: bytes) -> None:
    try:
        sdp = parse_sdp(data)
    except SdpError:
        return
    for m in sdp.media:
        m.codecs()
        _ = (m.ptime_ms, m.rtcp_port, m.telephone_event_payload_type, m.direction)


# Values drawn from SDP's own vocabulary (plus a few awkward characters) reach deep parser paths.
_value = st.lists(
    st.sampled_from(
        [
            "0",
            "8",
            "101",
            "4000",
            "70000",
            "audio",
            "RTP/AVP",
            "IN",
            "IP4",
            "1.2.3.4",
            "rtpmap:",
            "ptime:",
            "rtcp:",
            "telephone-event/8000",
            "/",
            " ",
            "\t",
            "²",
            "é",
            "-",
            "x",
        ]
    ),
    max_size=8,
).map("".join)
_line = st.tuples(st.sampled_from("vosicbtrzkamuep"), _value).map(lambda kv: f"{kv[0]}={kv[1]}")


@given(st.lists(_line, max_size=20))
def test_random_line_structures_raise_only_sdp_error(lines: list[str]) -> None:
    body = "v=0\r\no=- 1 1 IN IP4 h\r\n" + "\r\n".join(lines)
    try:
        sdp = parse_sdp(body)
    except SdpError:
        return
    # Anything accepted serializes to something that parses to the same model.
    assert parse_sdp(sdp.serialize()) == sdp
    for m in sdp.media:
        m.codecs()
        _ = (m.ptime_ms, m.rtcp_port, m.telephone_event_payload_type)
