"""StreamQuality records for tests (the media layer makes the real ones)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gossipper.stats.media import StreamQuality


def stream(**overrides: Any) -> StreamQuality:
    """A plausible 20 ms G.711 stream of 10 s, both directions, with small loss."""
    base = StreamQuality(
        call_id="1-1234@127.0.0.1",
        call_number=1,
        media="audio",
        codec="PCMU",
        local="127.0.0.1:6000",
        remote="127.0.0.1:6002",
        packets_sent=500,
        octets_sent=86000,
        late_packets=2,
        packets_received=495,
        octets_received=85140,
        packets_expected=500,
        packets_lost=5,
        out_of_order=1,
        duplicated=0,
        malformed=0,
        jitter_ms=1.25,
        max_jitter_ms=3.5,
        rtt_ms=0.75,
        mos=4.31,
        rtcp_sent=2,
        rtcp_received=2,
    )
    return replace(base, **overrides)
