"""Captures: ``gossipper pcap2scenario`` turns the SIP dialogs of a pcap/pcapng file into SIPp
scenarios (dpkt reads the file; imported only by that command)."""

from gossipper.errors import ExitStatus, GossipperError

__all__ = ["CaptureError"]


class CaptureError(GossipperError):
    """A capture that cannot be converted (unreadable, not a capture, no SIP) or an output file
    in the way: one line on stderr and SIPp's fatal exit status 255."""

    exit_status = ExitStatus.FATAL
