"""Types of the SIP parser's C accelerator (gossipper/sip/_sipfast.c)."""

def split_head(
    data: bytes, cache: dict[str, str], /
) -> (
    tuple[
        None,
        str,
        list[tuple[str, str]],
        list[str],
        int,
        bool,
        str,
        str,
        int,
        str,
        str,
        int,
        str,
        int,
    ]
    | None
): ...
def content_length(buffer: bytes | bytearray, end: int, /) -> int: ...
def cut_message(buffer: bytearray, start: int, max_size: int, /) -> bytes | None: ...
def joined_line(headers: list[tuple[str, str]], keys: list[str], key: str, /) -> str | None: ...
