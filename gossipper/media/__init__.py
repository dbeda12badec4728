"""Media: RTP/RTCP packets, receiver quality statistics, media files (issue 17), and the
media scheduler that sends every stream's packets from one task (``scheduler``).

The building blocks (rtp, quality, audio) are pure (no trio, no sockets, no clock); the
scheduler uses trio's clock but sends through callables, never sockets. The engine reaches
media through a MediaFactory seam in gossipper.interfaces.
"""
