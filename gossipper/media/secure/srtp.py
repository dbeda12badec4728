"""SRTP/SRTCP protection through libsrtp (pylibsrtp), with failures counted, never raised.

pylibsrtp is imported when the first SrtpSession is made: a plain RTP run never loads it.
Install it with the ``media-secure`` extra (``pip install 'gossipper[media-secure]'``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gossipper.errors import GossipperError
from gossipper.media.secure.sdes import SUITES, CryptoSuite

# Reasons an incoming packet is dropped, as counted in SrtpCounters.failures.
AUTH_FAILURE = "auth_failure"
REPLAY = "replay"
MALFORMED = "malformed"
OTHER = "other"


class SrtpError(GossipperError):
    """SRTP cannot be set up (missing extra, suite libsrtp cannot run, wrong key length)."""


@dataclass(slots=True)
class SrtpCounters:
    protected: int = 0
    unprotected: int = 0
    # reason -> packets dropped (auth_failure, replay, malformed, other)
    failures: dict[str, int] = field(default_factory=dict)
    last_failure: str = ""

    def fail(self, reason: str) -> None:
        self.failures[reason] = self.failures.get(reason, 0) + 1
        self.last_failure = reason

    def undo_last_failure(self) -> None:
        """The packet last dropped was taken after all (by the keys a re-key replaced)."""
        reason = self.last_failure
        if reason and self.failures.get(reason, 0) > 0:
            self.failures[reason] -= 1
            self.last_failure = ""


def _pylibsrtp() -> Any:
    try:
        import pylibsrtp
    except ImportError:
        raise SrtpError(
            "SRTP needs pylibsrtp: install gossipper's media-secure extra "
            "(pip install 'gossipper[media-secure]')"
        ) from None
    return pylibsrtp


def _reason(message: str) -> str:
    if "authentication" in message:
        return AUTH_FAILURE
    if "replay" in message or "index too old" in message:
        return REPLAY
    if "parsing" in message or "too long" in message or "bad" in message:
        return MALFORMED
    return OTHER


class SrtpSession:
    """One direction pair of SRTP for one media stream: our key protects what we send, the
    peer's key unprotects what we receive (SDES: each side's own a=crypto key; DTLS-SRTP: the
    client/server write keys).

    ``protect*`` returns None when the packet cannot be protected (too long, not RTP);
    ``unprotect*`` returns None when the packet is dropped; the reason is counted in
    ``counters.failures``. Nothing raises into the call.
    """

    def __init__(self, suite: CryptoSuite | str, local_key_salt: bytes,
                 remote_key_salt: bytes, *, attribute: str = "srtp") -> None:  # fmt: skip
        found = SUITES.get(suite) if isinstance(suite, str) else suite
        if found is None:
            raise SrtpError(f"{attribute}: unknown SRTP suite {suite!r}")
        if found.libsrtp_profile is None:
            raise SrtpError(
                f"{attribute}: {found.name} is not offered by libsrtp through pylibsrtp; "
                "offer AES_CM_128_HMAC_SHA1_80, _32, NULL_HMAC_SHA1_80 or AEAD_AES_*_GCM"
            )
        expected = found.key_len + found.salt_len
        for which, key in (("local", local_key_salt), ("remote", remote_key_salt)):
            if len(key) != expected:
                raise SrtpError(
                    f"{attribute}: {found.name} needs a {expected}-byte {which} key||salt, "
                    f"got {len(key)}"
                )
        lib = _pylibsrtp()
        self.suite = found
        self.counters = SrtpCounters()
        self._error = lib.Error
        outbound = lib.Policy(key=local_key_salt, ssrc_type=lib.Policy.SSRC_ANY_OUTBOUND,
                              srtp_profile=found.libsrtp_profile)  # fmt: skip
        inbound = lib.Policy(key=remote_key_salt, ssrc_type=lib.Policy.SSRC_ANY_INBOUND,
                             srtp_profile=found.libsrtp_profile)  # fmt: skip
        self._tx = lib.Session(policy=outbound)
        self._rx = lib.Session(policy=inbound)
        self._errors: list[str] = list(getattr(lib, "ERRORS", ()))
        self._fast: tuple[int, int] | None | bool = False  # False: not looked up yet

    def fast_protect(self) -> tuple[int, int] | None:
        """(address of libsrtp's ``srtp_protect``, address of the sending ``srtp_t``) for the
        media scheduler's C accelerator, which protects in place with them; None where this
        pylibsrtp does not expose them (the Python path then protects every packet).

        Both come from pylibsrtp's own cffi module and session, so there is one libsrtp and
        one packet index per session whichever path protects a packet. pylibsrtp is pinned;
        tests/media/test_rtpfast.py checks the packets against ``protect``'s byte for byte.
        """
        if self._fast is False:
            self._fast = None
            try:
                from pylibsrtp._binding import ffi, lib  # noqa: PLC0415 - secure runs only

                function = int(ffi.cast("uintptr_t", ffi.addressof(lib, "srtp_protect")))
                context = int(ffi.cast("uintptr_t", self._tx._srtp[0]))
            except (ImportError, AttributeError, TypeError, IndexError):
                pass
            else:
                if function and context:
                    self._fast = (function, context)
        return self._fast if isinstance(self._fast, tuple) else None

    def count_protect_failure(self, status: int) -> None:
        """A packet the accelerator could not protect: libsrtp's error ``status`` (or the C
        side's too-long answer, which pylibsrtp refuses with a ValueError: MALFORMED)."""
        errors = self._errors
        self.counters.fail(_reason(errors[status]) if 0 < status < len(errors) else MALFORMED)

    def _run(self, function: Any, packet: bytes, *, incoming: bool) -> bytes | None:
        try:
            result: bytes = function(packet)
        except self._error as error:
            self.counters.fail(_reason(str(error)))
            return None
        except (ValueError, TypeError):
            self.counters.fail(MALFORMED)
            return None
        if incoming:
            self.counters.unprotected += 1
        else:
            self.counters.protected += 1
        return result

    def protect(self, rtp: bytes) -> bytes | None:
        if len(rtp) < 12:
            self.counters.fail(MALFORMED)
            return None
        return self._run(self._tx.protect, rtp, incoming=False)

    def protect_rtcp(self, rtcp: bytes) -> bytes | None:
        if len(rtcp) < 8:
            self.counters.fail(MALFORMED)
            return None
        return self._run(self._tx.protect_rtcp, rtcp, incoming=False)

    def unprotect(self, srtp: bytes) -> bytes | None:
        # libsrtp reads the header before checking the tag: refuse runts before it sees them.
        if len(srtp) < 12 + self.suite.rtp_tag_len or srtp[0] >> 6 != 2:
            self.counters.fail(MALFORMED)
            return None
        return self._run(self._rx.unprotect, srtp, incoming=True)

    def unprotect_rtcp(self, srtcp: bytes) -> bytes | None:
        if len(srtcp) < 8 + 4 or srtcp[0] >> 6 != 2:
            self.counters.fail(MALFORMED)
            return None
        return self._run(self._rx.unprotect_rtcp, srtcp, incoming=True)
