"""Secure and traversing media (issue 18): SDES and DTLS keying for SRTP, STUN, TURN, ICE-lite.

Building blocks only: nothing here is imported by a plain run. pylibsrtp and pyOpenSSL (the
``media-secure`` extra) are imported by ``srtp`` and ``dtls`` on first use, never at start-up.
"""
