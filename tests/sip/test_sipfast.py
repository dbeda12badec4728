"""The SIP parser's C accelerator (gossipper/sip/_sipfast.c) against the Python path it speeds up.

The accelerator is built here from its source, so both test sessions check it. The reference is
``gossipper/sip/message.py`` loaded from its source as a plain Python module with the
accelerator off; a second copy gets the freshly built C. Every message of the sample table and
thousands of seeded mutations of them (line ends, folding, colons, blanks, case, non-ASCII
bytes, truncation) must parse to the same fields or fail with the same error. The framer's
Content-Length search is compared with ``_content_length`` the same way.
"""

from __future__ import annotations

import importlib.util
import pathlib
import random
import types
from collections.abc import Iterator

import pytest

import gossipper.engine.call
import gossipper.sip.framing as framing_module
import gossipper.sip.message as message_module
from gossipper.errors import SipParseError
from gossipper.sip.framing import _content_length
from tests.c_extension import REPO, build_c_extension, c_source
from tests.sip.samples import SAMPLES
from tests.sip.test_sip_framing import STREAM_MESSAGES

SOURCE = c_source(message_module.__file__, "_sipfast.c")
MESSAGE_SOURCE = REPO / "gossipper" / "sip" / "message.py"
FRAMING_SOURCE = REPO / "gossipper" / "sip" / "framing.py"

COMPILED_BUILD = gossipper.engine.call.__file__.endswith(".so")


@pytest.fixture(scope="module")
def sipfast(tmp_path_factory: pytest.TempPathFactory) -> types.ModuleType:
    """The accelerator built from its source now (a failure in CI, a skip without a compiler)."""
    return build_c_extension(SOURCE, tmp_path_factory)


def _from_source(name: str, source: pathlib.Path, **switches: object) -> types.ModuleType:
    """A gossipper module from its source, as plain Python, with its accelerator switched."""
    spec = importlib.util.spec_from_file_location(name, source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for attribute, value in switches.items():
        setattr(module, attribute, value)  # the switch under test
    return module


def _message_module(name: str, split_head: object, joined_line: object = None) -> types.ModuleType:
    """message.py with the accelerator's functions given (None: off)."""
    return _from_source(name, MESSAGE_SOURCE, _C_SPLIT_HEAD=split_head, _C_JOINED_LINE=joined_line)


def _outcome(module: types.ModuleType, data: bytes) -> tuple[object, ...]:
    """Every public field of the parsed message and its header text, or the error."""
    try:
        msg = module.SipMessage(data)
    except SipParseError as exc:
        return ("error", str(exc))
    fields = [name for name in module.SipMessage.__slots__ if not name.startswith("_")]
    return (*(getattr(msg, name) for name in fields), msg.header_text)


def _mutations(data: bytes, rng: random.Random) -> Iterator[bytes]:
    """Variants of one message that take the Python path's unusual branches, and some that
    should still take the fast one."""
    yield data
    yield data.replace(b"\r\n", b"\n")
    yield data.replace(b"\r\n", b"\n", 1)
    yield b"\r\n\r\n" + data
    head_end = data.find(b"\r\n\r\n")
    head = data[:head_end] if head_end >= 0 else data
    rest = data[head_end:] if head_end >= 0 else b""
    lines = head.split(b"\r\n")
    yield b"\r\n".join([*lines, b" folded continuation"]) + rest
    yield b"\r\n".join([*lines, b"NoColonHere"]) + rest
    yield b"\r\n".join([*lines, b"Subject :  spaced name"]) + rest
    yield b"\r\n".join([*lines, b"X-Latin1: caf\xe9\t "]) + rest
    yield b"\r\n".join([*lines, b"X-N\xe4me: value"]) + rest
    yield b"\r\n".join([*lines, b"Subject:"]) + rest
    yield b"\r\n".join([*lines, b"Subject:\t\t"]) + rest
    yield b"\r\n".join([*lines, b"Subject: a\rb"]) + rest
    yield b"\r\n".join([*lines, b"Subject: a\nb"]) + rest
    yield b"\r\n".join([*lines, b"subject: lower case"]) + rest
    yield head
    yield head + b"\r\n"
    alphabet = b":\r\n \t\xe9aZ0;,"
    for _ in range(100):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(mutated) + 1)
            action = rng.randrange(3)
            if action == 0 and pos < len(mutated):
                mutated[pos] = rng.choice(alphabet)
            elif action == 1:
                mutated[pos:pos] = bytes([rng.choice(alphabet)])
            elif pos < len(mutated):
                del mutated[pos]
        yield bytes(mutated)
    yield data[: rng.randrange(1, len(data) + 1)]


def _corpus() -> list[bytes]:
    rng = random.Random(20261205)
    corpus: list[bytes] = []
    for sample in SAMPLES:
        corpus.extend(_mutations(sample.data, rng))
    return corpus


def test_split_head_parses_as_the_python_path(sipfast: types.ModuleType) -> None:
    reference = _message_module("_message_reference", None)
    accelerated = _message_module("_message_accelerated", sipfast.split_head)
    corpus = _corpus()
    assert len(corpus) > 2000
    fast = 0
    for data in corpus:
        # Twice: the first parse of a new spelling goes the slow way and fills the name cache,
        # so the second is the one the accelerator answers.
        for _ in range(2):
            assert _outcome(accelerated, data) == _outcome(reference, data), data
        stripped = data.lstrip(b"\r\n")
        if stripped and sipfast.split_head(stripped, accelerated._NAME_CACHE) is not None:  # noqa: SLF001
            fast += 1
    # Most of the corpus is ordinary messages: the fast path must really have run.
    assert fast > len(corpus) // 4


def _keys_to_join(module: types.ModuleType, msg: object) -> list[str]:
    """The message's own keys, compact and odd spellings of them, and absent ones."""
    keys = list(dict.fromkeys(msg._keys))  # type: ignore[attr-defined]  # noqa: SLF001
    names = ["v", "VIA", "f", "t", "i", "l", "X-Absent", "Record-Route", "contact"]
    return keys + [module.canonical_header_name(name) for name in names]


def test_joined_line_builds_what_the_python_path_builds(sipfast: types.ModuleType) -> None:
    reference = _message_module("_message_join_reference", None)
    accelerated = _message_module("_message_join_accelerated", None, sipfast.joined_line)
    built = 0
    for data in _corpus():
        try:
            expected_msg = reference.SipMessage(data)
            msg = accelerated.SipMessage(data)
        except SipParseError:
            continue
        for key in _keys_to_join(reference, expected_msg):
            expected = expected_msg.joined_line_of(key)
            assert msg.joined_line_of(key) == expected, (data, key)
            text = sipfast.joined_line(msg.headers, msg._keys, key)  # noqa: SLF001
            if text is not None:
                assert text == expected, (data, key)
                built += 1
    assert built > 10000  # the C function, not its fallback, answered most of them


def test_joined_line_joins_repeated_lines_and_leaves_the_rest_to_python(
    sipfast: types.ModuleType,
) -> None:
    headers = [("Via", "SIP/2.0/UDP a"), ("From", "<sip:x>"), ("v", "SIP/2.0/UDP b"), ("X", "")]
    keys = ["via", "from", "via", "x"]
    assert sipfast.joined_line(headers, keys, "via") == "Via: SIP/2.0/UDP a, SIP/2.0/UDP b"
    # An equal key that is another object (keys are usually the cache's own strings).
    assert sipfast.joined_line(headers, keys, "".join(["fr", "om"])) == "From: <sip:x>"
    assert sipfast.joined_line(headers, keys, "x") == "X: "
    assert sipfast.joined_line(headers, keys, "to") == ""
    latin1 = [("Subject", "caf\xe9")]
    joined = sipfast.joined_line(latin1, ["subject"], "subject")
    assert joined == "Subject: caf\xe9"
    assert joined.isascii() is False
    # What it does not build: the Python path's.
    assert sipfast.joined_line([("Subject", "\u20ac")], ["subject"], "subject") is None
    assert sipfast.joined_line(headers, keys[:2], "via") is None
    assert sipfast.joined_line([["Via", "a"]], ["via"], "via") is None
    with pytest.raises(TypeError):
        sipfast.joined_line(tuple(headers), keys, "via")


def test_split_head_answers_none_for_the_unusual(sipfast: types.ModuleType) -> None:
    cache = {"Via": "via", "Call-ID": "call-id", "CSeq": "cseq"}
    usual = b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\nCall-ID:  c \t\r\n\r\nbody"
    # The header section's str is left to SipMessage.header_text (None here).
    # Then the start line's fields, the Call-ID and the CSeq's number and method.
    assert sipfast.split_head(usual, cache) == (
        None,
        "OPTIONS sip:a SIP/2.0",
        [("Via", "x"), ("Call-ID", "c")],
        ["via", "call-id"],
        len(usual) - 4,
        True,
        "OPTIONS",
        "sip:a",
        0,
        "",
        "c",
        -1,
        "",
        -1,
    )
    assert sipfast.split_head(b"OPTIONS sip:a SIP/2.0\r\n\r\n", cache) == (
        None,
        "OPTIONS sip:a SIP/2.0",
        [],
        [],
        25,
        True,
        "OPTIONS",
        "sip:a",
        0,
        "",
        "",
        -1,
        "",
        -1,
    )
    response = b"SIP/2.0 180  Ringing \t\r\nCSeq: \t12  INVITE x\r\n\r\n"
    assert sipfast.split_head(response, {"CSeq": "cseq"})[5:] == (
        False,
        "",
        "",
        180,
        "Ringing",
        "",
        12,
        "INVITE",
        -1,
    )
    # CSeq numbers of more than 10 digits, or not digits, are -1, as in Python.
    for value in (b"12345678901 BYE", b"1x BYE", b""):
        split = sipfast.split_head(b"BYE a SIP/2.0\r\nCSeq: " + value + b"\r\n\r\n", cache)
        assert split[-3] == -1, value
    # The first Content-Length (the compact form too) gives the body's length, up to the
    # bytes there are; surplus bytes are the Python path's business (SipMessage cuts them).
    lengths = {"Content-Length": "content-length", "l": "content-length"}
    for head, body, length in (
        (b"Content-Length: 4", b"body", 4),
        (b"l: 0", b"", 0),
        (b"l:\t2 \r\nContent-Length: 9", b"body", 2),
        (b"Content-Length: 0000000003", b"body", 3),
    ):
        message = b"BYE a SIP/2.0\r\n" + head + b"\r\n\r\n" + body
        assert sipfast.split_head(message, lengths)[-1] == length, head
    for head in (b"l: 5", b"l: 4x", b"l: ", b"l: 00000000004", b"l: -1", b"l: \xb2"):
        message = b"BYE a SIP/2.0\r\n" + head + b"\r\n\r\nbody"
        assert sipfast.split_head(message, lengths) is None, head
    for unusual in (
        b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n",  # no end of headers
        b"OPTIONS  sip:a SIP/2.0\r\nVia: x\r\n\r\n",  # start lines not in their usual form
        b"OPTIONS sip:a sip/2.0\r\nVia: x\r\n\r\n",
        b"OPT@ONS sip:a SIP/2.0\r\nVia: x\r\n\r\n",
        b"OPTIONS sip:a SIP/2.0 \r\nVia: x\r\n\r\n",
        b"SIP/2.0 2000 OK\r\nVia: x\r\n\r\n",
        b"SIP/2.0 099 Low\r\nVia: x\r\n\r\n",
        b"SIP/2.0 700 High\r\nVia: x\r\n\r\n",
        b"sip/2.0 200 OK\r\nVia: x\r\n\r\n",
        b"SIP/2.0 20\r\nVia: x\r\n\r\n",
        b"OPTIONS sip:a SIP/2.0\r\nCall-ID: c\r\nVia: 1\xa02\r\n\r\n".replace(b"Via", b"CSeq"),
        b"OPTIONS sip:a SIP/2.0\nVia: x\r\n\r\n",  # a bare LF
        b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n folded\r\n\r\n",
        b"OPTIONS sip:a SIP/2.0\r\nVia x\r\n\r\n",  # no colon
        b"OPTIONS sip:a SIP/2.0\r\nVIA: x\r\n\r\n",  # a spelling not in the cache
    ):
        assert sipfast.split_head(unusual, cache) is None, unusual
    with pytest.raises(TypeError):
        sipfast.split_head(bytearray(usual), cache)


def test_split_head_reuses_what_did_not_change(sipfast: types.ModuleType) -> None:
    # Names, keys and unchanged (name, value) pairs are kept by spelling between messages;
    # a changed value, a new cache or a name too long to keep must still come out right.
    cache = {"Via": "via", "Max-Forwards": "max-forwards", "X-" + "n" * 60: "x-" + "n" * 60}
    long_name = "X-" + "n" * 60
    first = sipfast.split_head(
        f"BYE sip:a SIP/2.0\r\nVia: b1\r\nMax-Forwards: 70\r\n{long_name}: 1\r\n\r\n".encode(),
        cache,
    )
    second = sipfast.split_head(
        f"BYE sip:a SIP/2.0\r\nVia: b2\r\nMax-Forwards: 70\r\n{long_name}: 1\r\n\r\n".encode(),
        cache,
    )
    assert first is not None and second is not None
    assert first[2] == [("Via", "b1"), ("Max-Forwards", "70"), (long_name, "1")]
    assert second[2] == [("Via", "b2"), ("Max-Forwards", "70"), (long_name, "1")]
    assert second[2][1] is first[2][1]  # the unchanged line: the same pair
    assert second[2][0][0] is first[2][0][0]  # a changed value: the same name string
    assert second[3] == ["via", "max-forwards", "x-" + "n" * 60]
    # Another cache (another parser) that lacks a spelling the table holds: not taken.
    other = {"Call-ID": "call-id"}
    assert sipfast.split_head(b"BYE sip:a SIP/2.0\r\nVia: b3\r\n\r\n", other) is None
    # More spellings than the table's slots: the ones it cannot keep still parse.
    many = {f"X-H{i}": f"x-h{i}" for i in range(600)}
    many["Via"] = "via"
    lines = "".join(f"X-H{i}: v{i}\r\n" for i in range(600))
    for value in ("a", "b"):
        split = sipfast.split_head(
            f"BYE sip:a SIP/2.0\r\n{lines}Via: {value}\r\n\r\n".encode(),
            many,
        )
        assert split is not None
        assert split[2][:600] == [(f"X-H{i}", f"v{i}") for i in range(600)]
        assert split[2][600] == ("Via", value)
        assert split[3] == [f"x-h{i}" for i in range(600)] + ["via"]


def _heads() -> Iterator[bytes]:
    rng = random.Random(5)
    forms = [
        b"Content-Length: 3", b"content-length:3", b"CONTENT-LENGTH \t: 12 \r", b"l: 3",
        b"L:7", b"Content-Length: junk", b"Content-Length: -3", b"X-Content-Length: 3",
        b"Subject: l: 3", b" Content-Length: 4", b"Content-Length-Extra: 3",
        b"Content-Length: 12345678901", b"Content-Length: 1234567890", b"Content-Length:",
        b"Content-Length: 00000", b"Lines: 9", b": 5", b"l", b"Content-Length: 3 4",
    ]  # fmt: skip
    for sample in SAMPLES:
        end = sample.data.find(b"\n\r\n")
        if end >= 0:
            yield sample.data[:end]
    for _ in range(3000):
        lines = [b"INVITE sip:a SIP/2.0"]
        lines += [rng.choice(forms) for _ in range(rng.randint(0, 4))]
        eol = rng.choice([b"\r\n", b"\n"])
        head = eol.join(lines)
        if rng.random() < 0.3:
            pos = rng.randrange(len(head) + 1)
            head = head[:pos] + bytes([rng.choice(b":\r\n \tlL0")]) + head[pos:]
        yield head


def test_content_length_finds_what_the_python_framer_finds(sipfast: types.ModuleType) -> None:
    seen: set[int] = set()
    for head in _heads():
        expected = _content_length(head)
        seen.add(expected)
        trailer = b"\n\r\nbody bytes that must not be read"
        assert sipfast.content_length(head + trailer, len(head)) == expected, head
        assert sipfast.content_length(bytearray(head), len(head)) == expected, head
    assert {-1, 0, 3, 7, 12, 1234567890} <= seen
    with pytest.raises(ValueError, match="outside"):
        sipfast.content_length(b"abc", 4)


def _frame(module: types.ModuleType, chunks: list[bytes], max_size: int) -> list[object]:
    """What a framer of ``module`` makes of ``chunks``: messages, counts, the error if any."""
    framer = module.StreamFramer(max_size)
    events: list[object] = []
    try:
        for chunk in chunks:
            framer.feed(chunk)
            while (message := framer.next_message()) is not None:
                events.append(message)
            events.append(("state", framer.buffered_size, framer.take_pings()))
    except SipParseError as exc:
        events.append(("error", str(exc)))
    events.append(("missing", framer.missing_lengths))
    return events


def _streams(rng: random.Random) -> Iterator[bytes]:
    """Streams of the sample table with keep-alives, a missing Content-Length, LF-only
    messages, junk and oversized lengths, each mutated a little in some rounds."""
    for _ in range(150):
        parts = [b"\r\n\r\n"] if rng.random() < 0.3 else []
        for message in rng.sample(STREAM_MESSAGES, rng.randint(1, 6)):
            roll = rng.random()
            if roll < 0.1:
                message = message.replace(b"Content-Length", b"X-Length")
            elif roll < 0.15:
                message = message.replace(b"Content-Length: ", b"Content-Length: 9")
            elif roll < 0.2:
                message = message.replace(b"\r\n", b"\n")
            elif roll < 0.25:
                message = message.replace(b"Content-Length", b"l", 1)
            parts.append(message)
            parts.append(rng.choice([b"", b"", b"\r\n", b"\r\n\r\n", b"\x00\x00\x00\x00"]))
        stream = bytearray(b"".join(parts))
        if rng.random() < 0.3:
            pos = rng.randrange(len(stream))
            stream[pos] = rng.choice(b":\r\n 0")
        yield bytes(stream)


def test_cut_message_frames_as_the_python_framer(sipfast: types.ModuleType) -> None:
    reference = _from_source(
        "_framing_reference", FRAMING_SOURCE, _C_CONTENT_LENGTH=None, _C_CUT_MESSAGE=None
    )
    accelerated = _from_source(
        "_framing_accelerated",
        FRAMING_SOURCE,
        _C_CONTENT_LENGTH=sipfast.content_length,
        _C_CUT_MESSAGE=sipfast.cut_message,
    )
    rng = random.Random(1205)
    messages = 0
    for stream in _streams(rng):
        cuts = sorted(rng.sample(range(1, len(stream)), min(rng.randint(0, 8), len(stream) - 1)))
        chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        max_size = rng.choice([65535, 65535, 600])
        expected = _frame(reference, chunks, max_size)
        assert _frame(accelerated, chunks, max_size) == expected, stream
        messages += sum(isinstance(event, bytes) for event in expected)
    assert messages > 300
    # The usual step: a whole message is cut and removed; anything else leaves the buffer be.
    buffer = bytearray(STREAM_MESSAGES[0] + b"rest")
    assert sipfast.cut_message(buffer, 0, 65535) == STREAM_MESSAGES[0]
    assert buffer == b"rest"
    for unusual in (STREAM_MESSAGES[0][:-1], STREAM_MESSAGES[0].replace(b"Content-Length", b"X")):
        buffer = bytearray(unusual)
        assert sipfast.cut_message(buffer, 0, 65535) is None
        assert buffer == unusual
    assert sipfast.cut_message(bytearray(STREAM_MESSAGES[0]), 0, 100) is None


def test_the_compiled_install_uses_its_accelerator() -> None:
    """``pip install .`` builds _sipfast with the mypyc modules; a pure install has neither."""
    expected = COMPILED_BUILD
    assert (message_module._C_SPLIT_HEAD is not None) is expected  # noqa: SLF001
    assert (message_module._C_JOINED_LINE is not None) is expected  # noqa: SLF001
    assert (framing_module._C_CONTENT_LENGTH is not None) is expected  # noqa: SLF001
    assert (framing_module._C_CUT_MESSAGE is not None) is expected  # noqa: SLF001
