"""SDP session descriptions: the data model, the parser, the serializer and offer/answer helpers.

The parser keeps every line it understands in a typed field and every attribute (``a=``) in
order, including the ones this package does not interpret (``crypto``, ``fingerprint``,
``setup``, ``ice-*``, ...), so ``serialize(parse(x))`` reproduces any SDP written in RFC 8866
line order. Line endings may be CRLF or LF; serialization always writes CRLF.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gossipper.errors import GossipperError

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
"""The direction attributes of RFC 8866 section 6.7; sendrecv when none is present."""

# RFC 3551 table 4/5: static payload types a media line may use without an rtpmap.
_STATIC_PAYLOADS: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1),
    7: ("LPC", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),
    10: ("L16", 44100, 2),
    11: ("L16", 44100, 1),
    12: ("QCELP", 8000, 1),
    13: ("CN", 8000, 1),
    14: ("MPA", 90000, 1),
    15: ("G728", 8000, 1),
    16: ("DVI4", 11025, 1),
    17: ("DVI4", 22050, 1),
    18: ("G729", 8000, 1),
    25: ("CelB", 90000, 1),
    26: ("JPEG", 90000, 1),
    28: ("nv", 90000, 1),
    31: ("H261", 90000, 1),
    32: ("MPV", 90000, 1),
    33: ("MP2T", 90000, 1),
    34: ("H263", 90000, 1),
}


class SdpError(GossipperError):
    """A malformed SDP body; ``line`` is the 1-based line number (0 when not tied to a line)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"SDP line {line}: {message}" if line else f"SDP: {message}")
        self.line = line
        self.reason = message


@dataclass(slots=True)
class Attribute:
    """One ``a=`` line: a property attribute has ``value`` None, ``a=name:value`` otherwise."""

    name: str
    value: str | None = None

    def render(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


def _first_attribute(attributes: list[Attribute], name: str) -> str | None:
    for attr in attributes:
        if attr.name == name:
            return "" if attr.value is None else attr.value
    return None


@dataclass(slots=True)
class Origin:
    """The ``o=`` line."""

    username: str
    session_id: str
    session_version: str
    nettype: str
    addrtype: str
    address: str

    def render(self) -> str:
        return " ".join(
            (
                self.username,
                self.session_id,
                self.session_version,
                self.nettype,
                self.addrtype,
                self.address,
            )
        )


@dataclass(slots=True)
class Connection:
    """A ``c=`` line; ``address`` is kept verbatim (a multicast one may carry ``/ttl/count``)."""

    nettype: str
    addrtype: str
    address: str

    @property
    def host(self) -> str:
        """The address without any ``/ttl`` or ``/count`` suffix."""
        return self.address.split("/", 1)[0]

    def render(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass(slots=True)
class Timing:
    """A ``t=`` line and the ``r=`` lines that follow it (kept verbatim)."""

    start: int
    stop: int
    repeats: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Codec:
    """A payload type of a media line, resolved through rtpmap or RFC 3551's static table."""

    payload_type: int
    name: str
    clock_rate: int
    channels: int = 1
    fmtp: str | None = None


@dataclass(slots=True)
class MediaDescription:
    """One ``m=`` section and the lines under it."""

    media: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    info: str | None = None
    connections: list[Connection] = field(default_factory=list)
    bandwidths: list[str] = field(default_factory=list)
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)

    def attribute(self, name: str) -> str | None:
        """The value of the first attribute called ``name`` ("" for a property attribute)."""
        return _first_attribute(self.attributes, name)

    def attribute_values(self, name: str) -> list[str]:
        """The values of every attribute called ``name``, in order."""
        return [a.value or "" for a in self.attributes if a.name == name]

    def has_attribute(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    @property
    def payload_types(self) -> list[int]:
        """The formats as RTP payload types (formats that are not numbers are skipped)."""
        return [int(f) for f in self.formats if _digits(f)]

    def codecs(self) -> list[Codec]:
        """Each payload type of the m= line in offer order, with its codec name and clock rate.

        A dynamic payload type without an rtpmap is left out: nothing says what it carries.
        """
        maps: dict[int, tuple[str, int, int]] = {}
        for value in self.attribute_values("rtpmap"):
            parsed = _parse_rtpmap(value)
            if parsed is not None:
                maps.setdefault(parsed[0], parsed[1:])
        fmtps: dict[int, str] = {}
        for value in self.attribute_values("fmtp"):
            pt_text, _, params = value.partition(" ")
            if _digits(pt_text):
                fmtps.setdefault(int(pt_text), params.strip())
        result: list[Codec] = []
        for pt in self.payload_types:
            entry = maps.get(pt) or _STATIC_PAYLOADS.get(pt)
            if entry is not None:
                result.append(Codec(pt, entry[0], entry[1], entry[2], fmtps.get(pt)))
        return result

    def codec(self, payload_type: int) -> Codec | None:
        for c in self.codecs():
            if c.payload_type == payload_type:
                return c
        return None

    @property
    def telephone_event_payload_type(self) -> int | None:
        """The RFC 4733 telephone-event payload type, None when not offered."""
        for c in self.codecs():
            if c.name.lower() == "telephone-event":
                return c.payload_type
        return None

    @property
    def ptime_ms(self) -> int | None:
        value = self.attribute("ptime")
        if value is None:
            return None
        try:
            return int(float(value))
        except (ValueError, OverflowError):
            return None

    @property
    def direction(self) -> str | None:
        """The media-level direction attribute, None when the section has none."""
        for attr in self.attributes:
            if attr.value is None and attr.name in DIRECTIONS:
                return attr.name
        return None

    @property
    def rtcp_mux(self) -> bool:
        return self.has_attribute("rtcp-mux")

    @property
    def rtcp_port(self) -> int | None:
        """The port of an RFC 3605 ``a=rtcp:`` attribute, None when absent or malformed."""
        value = self.attribute("rtcp")
        if not value:
            return None
        head = value.split(" ", 1)[0]
        return int(head) if _digits(head) else None


@dataclass(slots=True)
class SessionDescription:
    """A whole SDP body."""

    origin: Origin
    name: str = "-"
    version: int = 0
    info: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[str] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=list)
    zone: str | None = None
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)

    def attribute(self, name: str) -> str | None:
        """The value of the first session-level attribute called ``name`` ("" for a property
        attribute)."""
        return _first_attribute(self.attributes, name)

    def first_media(self, kind: str) -> MediaDescription | None:
        """The first m= section of ``kind`` ("audio", "video", ...) with a non-zero port."""
        for m in self.media:
            if m.media == kind and m.port != 0:
                return m
        return None

    def connection_for(self, media: MediaDescription) -> Connection | None:
        """The media's own c= line, else the session's."""
        return media.connections[0] if media.connections else self.connection

    def direction_of(self, media: MediaDescription) -> str:
        """The effective direction: the media's, else the session's, else sendrecv."""
        direction = media.direction
        if direction is not None:
            return direction
        for attr in self.attributes:
            if attr.value is None and attr.name in DIRECTIONS:
                return attr.name
        return "sendrecv"

    def serialize(self) -> str:
        """The body with CRLF line endings, lines in RFC 8866 order."""
        lines = [f"v={self.version}", f"o={self.origin.render()}", f"s={self.name}"]
        if self.info is not None:
            lines.append(f"i={self.info}")
        if self.uri is not None:
            lines.append(f"u={self.uri}")
        lines.extend(f"e={e}" for e in self.emails)
        lines.extend(f"p={p}" for p in self.phones)
        if self.connection is not None:
            lines.append(f"c={self.connection.render()}")
        lines.extend(f"b={b}" for b in self.bandwidths)
        for t in self.timings:
            lines.append(f"t={t.start} {t.stop}")
            lines.extend(f"r={r}" for r in t.repeats)
        if self.zone is not None:
            lines.append(f"z={self.zone}")
        if self.key is not None:
            lines.append(f"k={self.key}")
        lines.extend(f"a={a.render()}" for a in self.attributes)
        for m in self.media:
            port = str(m.port) if m.port_count is None else f"{m.port}/{m.port_count}"
            lines.append(f"m={' '.join([m.media, port, m.proto, *m.formats])}")
            if m.info is not None:
                lines.append(f"i={m.info}")
            lines.extend(f"c={c.render()}" for c in m.connections)
            lines.extend(f"b={b}" for b in m.bandwidths)
            if m.key is not None:
                lines.append(f"k={m.key}")
            lines.extend(f"a={a.render()}" for a in m.attributes)
        return "\r\n".join(lines) + "\r\n"


def _digits(text: str) -> bool:
    """ASCII digits only: str.isdigit accepts characters such as "²" that int() refuses."""
    return text.isascii() and text.isdigit()


def _parse_rtpmap(value: str) -> tuple[int, str, int, int] | None:
    """``96 opus/48000/2`` -> (96, "opus", 48000, 2); None when malformed."""
    pt_text, _, encoding = value.partition(" ")
    parts = encoding.strip().split("/")
    if not _digits(pt_text) or len(parts) < 2 or not _digits(parts[1]):
        return None
    channels = int(parts[2]) if len(parts) > 2 and _digits(parts[2]) else 1
    return int(pt_text), parts[0], int(parts[1]), channels


def _split_fields(lineno: int, kind: str, value: str, count: int) -> list[str]:
    fields = value.split()
    if len(fields) != count:
        raise SdpError(lineno, f"{kind}= needs {count} fields separated by spaces, got {value!r}")
    return fields


def _parse_connection(lineno: int, value: str) -> Connection:
    nettype, addrtype, address = _split_fields(lineno, "c", value, 3)
    return Connection(nettype, addrtype, address)


def _parse_int(lineno: int, what: str, text: str) -> int:
    if not _digits(text):
        raise SdpError(lineno, f"{what} must be a non-negative integer, got {text!r}")
    return int(text)


def _parse_media(lineno: int, value: str) -> MediaDescription:
    fields = value.split()
    if len(fields) < 3:
        raise SdpError(lineno, f"m= needs '<media> <port> <proto> <fmt> ...', got {value!r}")
    port_text, _, count_text = fields[1].partition("/")
    port = _parse_int(lineno, "m= port", port_text)
    if port > 65535:
        raise SdpError(lineno, f"m= port {port} is above 65535")
    port_count = _parse_int(lineno, "m= port count", count_text) if count_text else None
    return MediaDescription(fields[0], port, fields[2], fields[3:], port_count)


def _parse_attribute(value: str) -> Attribute:
    name, colon, rest = value.partition(":")
    return Attribute(name, rest if colon else None)


def parse_sdp(body: str | bytes) -> SessionDescription:
    """Parse an SDP body; raise SdpError naming the line for anything malformed."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SdpError(body.count(b"\n", 0, exc.start) + 1, "not valid UTF-8") from None
    else:
        text = body
    lines = text.split("\n")
    session: SessionDescription | None = None
    media: MediaDescription | None = None
    seen_version = False
    for index, raw in enumerate(lines):
        lineno = index + 1
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line:
            continue
        if len(line) < 2 or line[1] != "=":
            raise SdpError(lineno, f"expected '<letter>=<value>', got {line[:40]!r}")
        kind, value = line[0], line[2:]
        if not seen_version:
            if kind != "v":
                raise SdpError(lineno, "an SDP body starts with v=")
            if value.strip() != "0":
                raise SdpError(lineno, f"only SDP version 0 exists, got v={value}")
            seen_version = True
            continue
        if session is None:
            if kind != "o":
                raise SdpError(lineno, "v= must be followed by o=")
            session = SessionDescription(Origin(*_split_fields(lineno, "o", value, 6)))
            continue
        if kind == "m":
            media = _parse_media(lineno, value)
            session.media.append(media)
        elif kind == "a":
            (media.attributes if media else session.attributes).append(_parse_attribute(value))
        elif kind == "c":
            conn = _parse_connection(lineno, value)
            if media is not None:
                media.connections.append(conn)
            elif session.connection is None:
                session.connection = conn
            else:
                raise SdpError(lineno, "a second session-level c= line")
        elif kind == "b":
            (media.bandwidths if media else session.bandwidths).append(value)
        elif kind == "i":
            if media is not None:
                media.info = value
            else:
                session.info = value
        elif kind == "k":
            if media is not None:
                media.key = value
            else:
                session.key = value
        elif media is not None:
            raise SdpError(lineno, f"{kind}= is not allowed inside an m= section")
        elif kind == "s":
            session.name = value
        elif kind == "u":
            session.uri = value
        elif kind == "e":
            session.emails.append(value)
        elif kind == "p":
            session.phones.append(value)
        elif kind == "t":
            start, stop = _split_fields(lineno, "t", value, 2)
            session.timings.append(
                Timing(_parse_int(lineno, "t= start", start), _parse_int(lineno, "t= stop", stop))
            )
        elif kind == "r":
            if not session.timings:
                raise SdpError(lineno, "r= must follow a t= line")
            session.timings[-1].repeats.append(value)
        elif kind == "z":
            session.zone = value
        elif kind == "v":
            raise SdpError(lineno, "a second v= line")
        else:
            raise SdpError(lineno, f"unknown line type {kind}=")
    if session is None:
        raise SdpError(0, "empty body (no v= and o= lines)")
    return session


def remote_rtp_endpoint(session: SessionDescription, kind: str = "audio") -> tuple[str, int]:
    """The address and port the peer receives ``kind`` RTP on (its first such m= line).

    Raises SdpError when there is no usable m= line or no c= line covering it.
    """
    media = session.first_media(kind)
    if media is None:
        raise SdpError(0, f"no {kind} m= line with a non-zero port")
    conn = session.connection_for(media)
    if conn is None:
        raise SdpError(0, f"the {kind} m= line has no c= line (neither its own nor the session's)")
    return conn.host, media.port


def build_sdp(
    *,
    address: str,
    audio_port: int,
    codecs: list[Codec],
    session_id: int = 0,
    session_version: int = 0,
    username: str = "-",
    session_name: str = "-",
    direction: str = "sendrecv",
    ptime_ms: int | None = None,
    video_port: int | None = None,
    video_codecs: list[Codec] | None = None,
    extra_audio_attributes: list[Attribute] | None = None,
) -> SessionDescription:
    """An offer or answer for one audio (and optionally one video) stream from parts.

    Codecs with a static payload type get an rtpmap too: harmless and clearer to peers.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    addrtype = "IP6" if ":" in address else "IP4"
    session = SessionDescription(
        Origin(username, str(session_id), str(session_version), "IN", addrtype, address),
        name=session_name,
        connection=Connection("IN", addrtype, address),
        timings=[Timing(0, 0)],
    )
    audio = _build_media("audio", audio_port, codecs)
    if ptime_ms is not None:
        audio.attributes.append(Attribute("ptime", str(ptime_ms)))
    audio.attributes.append(Attribute(direction))
    audio.attributes.extend(extra_audio_attributes or [])
    session.media.append(audio)
    if video_port is not None:
        video = _build_media("video", video_port, video_codecs or [])
        video.attributes.append(Attribute(direction))
        session.media.append(video)
    return session


def _build_media(kind: str, port: int, codecs: list[Codec]) -> MediaDescription:
    media = MediaDescription(kind, port, "RTP/AVP", [str(c.payload_type) for c in codecs])
    for c in codecs:
        rate = f"{c.clock_rate}/{c.channels}" if c.channels != 1 else str(c.clock_rate)
        media.attributes.append(Attribute("rtpmap", f"{c.payload_type} {c.name}/{rate}"))
        if c.fmtp is not None:
            media.attributes.append(Attribute("fmtp", f"{c.payload_type} {c.fmtp}"))
    return media
