"""Captures: ``gossipper pcap2scenario`` turns the SIP dialogs of a pcap/pcapng file into SIPp
scenarios (dpkt reads the file; imported only by that command)."""
