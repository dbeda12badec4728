"""A dialog of a capture as a pair of SIPp scenarios: the UAC side's and the UAS side's.

Each captured message becomes a ``<send>`` on the side that sent it and a ``<recv>`` on the
other side; the per-call values in the text of a send become keywords (docs/pcap2scenario.md
lists them), so the pair replays against each other, or against the real peer, call after call.
"""

from __future__ import annotations

import dataclasses
import re
from xml.sax.saxutils import quoteattr

from gossipper.capture.dialogs import Dialog
from gossipper.capture.reader import CapturedMessage, Endpoint
from gossipper.sip.message import SipMessage

__all__ = ["GenerateOptions", "ScenarioPair", "dialog_scenarios", "user_values"]

PAUSE_THRESHOLD_MS = 10
"""Gaps shorter than this (after scaling) are the peer's processing time, not a pause."""

_OWN_TAG = ("[pid]GossipTag00[call_number]", "[pid]GossipTag01[call_number]")
"""The generated From/To tag of the UAC side and of the UAS side."""

_ANSWER_HEADERS = {
    "via": "[last_Via:]",
    "v": "[last_Via:]",
    "from": "[last_From:]",
    "f": "[last_From:]",
    "to": "[last_To:]",
    "t": "[last_To:]",
    "call-id": "[last_Call-ID:]",
    "i": "[last_Call-ID:]",
    "cseq": "[last_CSeq:]",
}
_AUTH_HEADERS = ("authorization", "proxy-authorization")


@dataclasses.dataclass(frozen=True, slots=True)
class GenerateOptions:
    time_scale: float = 1.0
    pauses: bool = True
    password: str | None = None
    """The digest password; None writes a placeholder and no check on the UAS side."""


@dataclasses.dataclass(frozen=True, slots=True)
class ScenarioPair:
    uac_xml: str
    uas_xml: str
    fields: tuple[str, ...]
    """The values replaced by ``[field0]``, ``[field1]`` (the users), in that order."""


PASSWORD_PLACEHOLDER = "PASSWORD"


def user_values(dialog: Dialog) -> tuple[str, ...]:
    """(caller user, called user) of a dialog: the From URI user and the Request-URI user of
    its first request ("" when absent)."""
    first = dialog.messages[0].message
    return (_uri_user(first.header("From") or ""), _uri_user(first.request_uri))


def _uri_user(text: str) -> str:
    match = re.search(r"(?:sips?|tel):([^@;>\s]+)@", text)
    return match.group(1) if match else ""


def dialog_scenarios(dialog: Dialog, options: GenerateOptions, *, use_fields: bool) -> ScenarioPair:
    """The UAC and UAS scenarios of ``dialog``.

    ``use_fields``: the users become ``[field0]`` (caller) and ``[field1]`` (called), for an
    injection file; otherwise the called user becomes ``[service]``.
    """
    users = user_values(dialog)
    return ScenarioPair(
        uac_xml=_Side(dialog, 0, options, users, use_fields).xml(),
        uas_xml=_Side(dialog, 1, options, users, use_fields).xml(),
        fields=users if use_fields else (),
    )


def _ip_pattern(ip: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.:])" + re.escape(ip) + r"(?![\w.])")


class _Side:
    """One side's scenario: walks the dialog and writes its elements."""

    def __init__(
        self,
        dialog: Dialog,
        role: int,
        options: GenerateOptions,
        users: tuple[str, ...],
        use_fields: bool,
    ) -> None:
        self.dialog = dialog
        self.role = role  # 0: UAC side, 1: UAS side
        self.options = options
        self.users = users
        self.use_fields = use_fields
        self.local: Endpoint = dialog.uac if role == 0 else dialog.uas
        self.remote: Endpoint = dialog.uas if role == 0 else dialog.uac
        first = dialog.messages[0].message
        self.tags: tuple[str | None, str | None] = (first.from_tag, _uas_tag(dialog))
        self.elements: list[str] = []
        self.element_count = 0  # P_index of the next element (labels excluded)
        self.cseq = 0  # the engine's [cseq] counter, followed along the dialog
        self.branches: dict[str, int] = {}  # branch value of a sent request -> its index
        self.peer_headers_saved = False
        self.last_received: SipMessage | None = None
        self.sends_requests = any(
            c.src == self.local and c.message.is_request for c in dialog.messages
        )
        self.stream = dialog.transport == "TCP"

    # ---------------------------------------------------------------------- structure

    def xml(self) -> str:
        last_time_s: float | None = None
        for captured in self.dialog.messages:
            message = captured.message
            sending = captured.src == self.local
            if sending and last_time_s is not None:
                self._pause(captured.time_s - last_time_s)
            last_time_s = captured.time_s
            if sending:
                self._send(captured)
            else:
                self._recv(message)
        name = "UAC" if self.role == 0 else "UAS"
        dialog = self.dialog
        header = (
            f"  <!-- {name} side of Call-ID {_comment(dialog.call_id)}, captured"
            f" {_endpoint(dialog.uac)} -> {_endpoint(dialog.uas)} over {dialog.transport}"
            " (gossipper pcap2scenario) -->\n"
        )
        body = "".join(self.elements)
        title = quoteattr(f"pcap2scenario {name.lower()} {dialog.method}")
        return (
            '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
            '<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'
            f"<scenario name={title}>\n{header}{body}</scenario>\n"
        )

    def _mandatory_before_send(self) -> None:
        """SIPp refuses a send (or pause) right after an optional recv: the last provisional
        response before it becomes mandatory (the capture shows it arrived)."""
        if self.elements and self.elements[-1].startswith("  <recv "):
            self.elements[-1] = self.elements[-1].replace(' optional="true"', "")

    def _add(self, text: str) -> int:
        if not text.startswith("  <recv "):
            self._mandatory_before_send()
        index = self.element_count
        self.elements.append(text)
        self.element_count += 1
        return index

    def _pause(self, gap_s: float) -> None:
        if not self.options.pauses:
            return
        pause_ms = round(gap_s * 1000.0 * self.options.time_scale)
        if pause_ms >= PAUSE_THRESHOLD_MS:
            self._add(f'  <pause milliseconds="{pause_ms}"/>\n')

    def _recv(self, message: SipMessage) -> None:
        self.last_received = message
        if message.is_request:
            # The engine raises [cseq] to the CSeq of a received request.
            self.cseq = max(self.cseq, message.cseq_number)
            actions = ""
            if self.role == 1 and self.sends_requests and not self.peer_headers_saved:
                # The UAS side's own requests (a BYE of the callee) address the caller with
                # the From/To of its first request, whatever users the caller injected.
                self.peer_headers_saved = True
                actions += (
                    '      <ereg regexp="[^ ].*" search_in="hdr" header="From:"'
                    ' assign_to="peer_from"/>\n'
                    '      <ereg regexp="[^ ].*" search_in="hdr" header="To:"'
                    ' assign_to="peer_to"/>\n'
                )
            if self._has_credentials(message) and self.options.password is not None:
                user = _credential_user(message) or ""
                actions += (
                    f'      <verifyauth assign_to="auth_ok" username={quoteattr(user)}'
                    f" password={quoteattr(self.options.password)}/>\n"
                    '      <log message="authentication [$auth_ok]"/>\n'
                )
            if actions:
                self._add(
                    f'  <recv request="{message.method}">\n    <action>\n{actions}'
                    "    </action>\n  </recv>\n"
                )
            else:
                self._add(f'  <recv request="{message.method}"/>\n')
            return
        attributes = f'response="{message.status_code}"'
        if 100 <= message.status_code < 200:
            attributes += ' optional="true"'
        if message.status_code in (401, 407):
            attributes += ' auth="true"'
        self._add(f"  <recv {attributes}/>\n")

    @staticmethod
    def _has_credentials(message: SipMessage) -> bool:
        return any(message.header(name) for name in _AUTH_HEADERS)

    def _send(self, captured: CapturedMessage) -> None:
        message = captured.message
        text = self._template(message)
        retrans = ""
        if not self.stream and (
            (message.is_request and message.method != "ACK")
            or (
                not message.is_request
                and message.status_code >= 200
                and message.cseq_method == "INVITE"
            )
        ):
            retrans = ' retrans="500"'
        index = self._add(f"  <send{retrans}>\n    <![CDATA[\n{text}\n    ]]>\n  </send>\n")
        if message.is_request:
            branch = message.via_branch
            if branch and branch not in self.branches:
                self.branches[branch] = index

    # ---------------------------------------------------------------------- message text

    def _template(self, message: SipMessage) -> str:
        head, body = _split(message)
        lines = head.split("\n")
        first_line = self._substitute(lines[0], message)
        out: list[str] = [first_line]
        answered = self._answered_request(message)
        done: set[str] = set()
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            if not message.is_request and key in _ANSWER_HEADERS:
                keyword = _ANSWER_HEADERS[key]
                if keyword in done:
                    continue  # further Via lines: [last_Via:] gives them all
                done.add(keyword)
                if keyword == "[last_To:]":
                    keyword += self._to_tag_suffix(message, answered)
                elif keyword == "[last_CSeq:]":
                    keyword = self._answer_cseq(name, message)
                out.append(keyword)
                continue
            if key in ("content-length", "l"):
                out.append(f"{name}: [len]" if body else f"{name}: 0")
                continue
            if key == "cseq" and message.is_request:
                out.append(f"{name}: {self._cseq_value(message)} {message.cseq_method}")
                continue
            if key in _AUTH_HEADERS and message.is_request:
                out.append(self._authentication(message))
                continue
            if message.is_request and self.role == 1 and key in ("from", "f", "to", "t"):
                out.append(self._callee_from_to(name, key))
                continue
            if key in ("via", "v") and message.is_request:
                out.append(self._via(line, message))
                continue
            out.append(self._substitute(line, message))
        text_body = self._substitute(body, message)
        text_body = re.sub(r"(?m)^m=audio \d+", "m=audio [media_port]", text_body)
        # The address family follows the replay's address, not the capture's.
        text_body = re.sub(r"IN IP[46] \[local_ip\]", "IN IP[local_ip_type] [local_ip]", text_body)
        lines_out = [f"      {line}" for line in out]
        if body:
            lines_out.append("")
            lines_out.extend(f"      {line}" if line else "" for line in text_body.split("\n"))
            while lines_out and not lines_out[-1].strip():
                lines_out.pop()
        return "\n".join(lines_out).replace("]]>", "]]]]><![CDATA[>")

    def _answered_request(self, message: SipMessage) -> SipMessage | None:
        if message.is_request:
            return None
        for captured in self.dialog.messages:
            other = captured.message
            if (
                other.is_request
                and other.cseq_number == message.cseq_number
                and other.method == message.cseq_method
            ):
                return other
        return None

    def _answer_cseq(self, name: str, response: SipMessage) -> str:
        """``[last_CSeq:]``, unless the response answers an earlier request of the same CSeq
        number than the last one received (the 487 of an INVITE after the CANCEL's 200)."""
        last = self.last_received
        if (
            last is not None
            and last.cseq_method != response.cseq_method
            and last.cseq_number == response.cseq_number
        ):
            return f"{name}: [last_cseq_number] {response.cseq_method}"
        return "[last_CSeq:]"

    def _to_tag_suffix(self, response: SipMessage, request: SipMessage | None) -> str:
        tag = response.to_tag
        if tag is None or (request is not None and request.to_tag is not None):
            return ""
        return f";tag={_OWN_TAG[self.role]}"

    def _cseq_value(self, message: SipMessage) -> str:
        if message.method not in ("ACK", "CANCEL"):
            self.cseq += 1
        offset = message.cseq_number - self.cseq
        if offset == 0:
            return "[cseq]"
        return f"[cseq{offset:+d}]"

    def _authentication(self, message: SipMessage) -> str:
        user = _credential_user(message) or "user"
        password = self.options.password or PASSWORD_PLACEHOLDER
        return f"[authentication username={user} password={password}]"

    def _callee_from_to(self, name: str, key: str) -> str:
        if key in ("from", "f"):
            return f"{name}:[$peer_to];tag={_OWN_TAG[1]}"
        return f"{name}:[$peer_from]"

    def _via(self, line: str, message: SipMessage) -> str:
        """A Via line of a request, its branch as ``[branch]``, or ``[branch-N]`` when an
        earlier request of this side had the same branch (CANCEL, ACK of a non-2xx)."""
        branch = message.via_branch
        start = line.find("branch=" + branch) if branch else -1
        if not branch or start < 0:
            return self._substitute(line, message)
        start += len("branch=")
        earlier = self.branches.get(branch)
        keyword = "[branch]" if earlier is None else f"[branch-{self.element_count - earlier}]"
        before = self._substitute(line[:start], message)
        return before + keyword + self._substitute(line[start + len(branch) :], message)

    def _substitute(self, text: str, message: SipMessage) -> str:
        text = text.replace(self.dialog.call_id, "[call_id]")
        own_tag = self.tags[self.role]
        peer_tag = self.tags[1 - self.role]
        if own_tag:
            text = text.replace(f"tag={own_tag}", f"tag={_OWN_TAG[self.role]}")
        if peer_tag and message.is_request:
            text = text.replace(f";tag={peer_tag}", "[peer_tag_param]")
        text = re.sub(r"SIP/2\.0/(UDP|TCP|TLS|SCTP|WSS?)", "SIP/2.0/[transport]", text, flags=re.I)
        text = re.sub(
            r";transport=(udp|tcp|tls|sctp|wss?)", ";transport=[transport]", text, flags=re.I
        )
        text = self._addresses(text)
        text = self._users(text)
        return text

    def _addresses(self, text: str) -> str:
        pairs = ((self.local, "local"), (self.remote, "remote"))
        for (ip, port), name in pairs:
            shown = f"[{ip}]" if ":" in ip else ip
            text = re.sub(
                r"(?<![\w.:])" + re.escape(shown) + ":" + str(port) + r"(?!\d)",
                f"\0{name}_ip\0:\0{name}_port\0",
                text,
            )
        for (ip, _), name in pairs:
            shown = f"[{ip}]" if ":" in ip else ip
            text = _ip_pattern(shown).sub(f"\0{name}_ip\0", text)
            if shown != ip:
                text = _ip_pattern(ip).sub(f"\0{name}_ip\0", text)
        for word in ("local_ip", "local_port", "remote_ip", "remote_port"):
            text = text.replace(f"\0{word}\0", f"[{word}]")
        return text

    def _users(self, text: str) -> str:
        caller, called = self.users
        if self.use_fields:
            replacements = [(caller, "[field0]"), (called, "[field1]")]
        else:
            replacements = [(called, "[service]")] if self.role == 0 else []
        for value, keyword in replacements:
            if not value or value in ("[field0]", "[field1]"):
                continue
            if not self.use_fields:
                # Only as the user of a URI: a called user "1000" must not touch "m=audio 1000".
                text = re.sub(r"(?<=sip:)" + re.escape(value) + r"(?=@)", keyword, text)
                continue
            text = re.sub(r"(?<![\w.+\-\[])" + re.escape(value) + r"(?![\w.+\-\]])", keyword, text)
        return text


def _uas_tag(dialog: Dialog) -> str | None:
    for captured in dialog.messages:
        message = captured.message
        if captured.src == dialog.uas and not message.is_request and message.to_tag:
            return message.to_tag
        if captured.src == dialog.uas and message.is_request and message.from_tag:
            return message.from_tag
    return None


def _credential_user(message: SipMessage) -> str | None:
    for name in _AUTH_HEADERS:
        value = message.header(name)
        if value:
            match = re.search(r'username\s*=\s*"?([^",]*)"?', value, re.I)
            if match:
                return match.group(1)
    return None


def _split(message: SipMessage) -> tuple[str, str]:
    text = message.raw.decode("latin-1").replace("\r\n", "\n")
    head, _, _ = text.partition("\n\n")
    body = message.body.decode("latin-1").replace("\r\n", "\n")
    return head.rstrip("\n"), body


def _endpoint(endpoint: Endpoint) -> str:
    ip, port = endpoint
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _comment(text: str) -> str:
    return text.replace("--", "- -")


def mask_pauses(xml: str) -> str:
    """``xml`` with the pause lengths and header comment blanked: two dialogs of the same
    shape give the same text."""
    xml = re.sub(r'<pause milliseconds="\d+"/>', "<pause/>", xml)
    return re.sub(r"(?m)^  <!-- .* -->\n", "", xml)
