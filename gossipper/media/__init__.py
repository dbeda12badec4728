"""Media: RTP/RTCP packets, receiver quality statistics, media files (issue 17).

Today only pure building blocks live here (no trio, no sockets, no clock); the engine will
reach media through a MediaFactory seam in gossipper.interfaces.
"""
