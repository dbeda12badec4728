"""Scenario actions (SIPp docs: scenarios/actions;
docs/sipp-behaviour.md#actions): parsed, frozen action objects and
:func:`run_actions`, which executes them for one call and reports what the engine must do.

Nothing here performs I/O: shell commands, log lines, warnings, stop requests and destination
changes are returned in an :class:`ActionOutcome` for the engine to carry out.
"""

from __future__ import annotations

import enum
import math
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from gossipper.scenario import auth as digest
from gossipper.scenario.context import CallContext, RenderError
from gossipper.scenario.distributions import Distribution
from gossipper.scenario.templates import Template
from gossipper.scenario.variables import RegexpMatch

# Failure reasons, named like the columns of SIPp's statistics CSV (``-trace_stat``).
FAILED_REGEXP_DOESNT_MATCH = "FailedRegexpDoesntMatch"
FAILED_REGEXP_SHOULDNT_MATCH = "FailedRegexpShouldntMatch"
FAILED_REGEXP_HDR_NOT_FOUND = "FailedRegexpHdrNotFound"
FAILED_TEST_DOESNT_MATCH = "FailedTestDoesntMatch"
FAILED_TEST_SHOULDNT_MATCH = "FailedTestShouldntMatch"
FAILED_STRCMP_DOESNT_MATCH = "FailedStrcmpDoesntMatch"
FAILED_STRCMP_SHOULDNT_MATCH = "FailedStrcmpShouldntMatch"


class SearchIn(enum.Enum):
    """Where ``ereg`` looks."""

    MSG = "msg"
    HDR = "hdr"
    BODY = "body"
    VAR = "var"


class Compare(enum.Enum):
    """``test`` comparators."""

    EQUAL = "equal"
    NOT_EQUAL = "not_equal"
    GREATER_THAN = "greater_than"
    LESS_THAN = "less_than"
    GREATER_THAN_EQUAL = "greater_than_equal"
    LESS_THAN_EQUAL = "less_than_equal"


class IntCmd(enum.Enum):
    """``exec int_cmd=`` values (unknown values mean stop_call, like SIPp)."""

    STOP_CALL = "stop_call"
    STOP_GRACEFULLY = "stop_gracefully"
    STOP_NOW = "stop_now"


class Arithmetic(enum.Enum):
    """Operators of ``assign``/``add``/``subtract``/``multiply``/``divide``."""

    ASSIGN = "assign"
    ADD = "add"
    SUBTRACT = "subtract"
    MULTIPLY = "multiply"
    DIVIDE = "divide"


# The action classes below are never compared or printed, so they get no generated __eq__,
# __hash__ and __repr__ (eq=False, repr=False): each generated method is compiled from source
# when the module is imported, and start-up is part of every run's CPU (docs/performance.md).
@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Action:
    """Base of all actions: where it was written and the element it belongs to."""

    line: int
    element_index: int
    """Index of the owning element (in ``Scenario.init_elements`` for ``<init>`` actions);
    ``[branch]`` in action text uses ``element_index - 1`` like SIPp."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Ereg(Action):
    """``<ereg>``: regular expression extraction / check (docs/sipp-behaviour.md#actions)."""

    regexp: str
    pattern: re.Pattern[str]
    search_in: SearchIn = SearchIn.MSG
    header: str | None = None
    variable: str | None = None
    case_indep: bool = False
    occurrence: int = 1
    start_line: bool = False
    check_it: bool = False
    check_it_inverse: bool = False
    assign_to: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Log(Action):
    """``<log message>``: a line for the ``-trace_logs`` file."""

    message: Template


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Warning(Action):  # noqa: A001 - SIPp's element name
    """``<warning message>``."""

    message: Template


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Error(Action):
    """``<error message>``: fatal (exit 255)."""

    message: Template


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ExecCommand(Action):
    """``<exec command=...>``: a shell command for the engine to run (not run here)."""

    command: Template


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ExecIntCmd(Action):
    """``<exec int_cmd=...>``."""

    int_cmd: IntCmd


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ArithmeticAction(Action):
    """``assign``/``add``/``subtract``/``multiply``/``divide`` with ``value`` or ``variable``."""

    op: Arithmetic
    assign_to: str
    value: float | None = None
    variable: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class AssignStr(Action):
    """``<assignstr assign_to value>`` (value may contain keywords)."""

    assign_to: str
    value: Template


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ToDouble(Action):
    """``<todouble assign_to variable>``."""

    assign_to: str
    variable: str


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Sample(Action):
    """``<sample assign_to distribution=...>``."""

    assign_to: str
    distribution: Distribution


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Test(Action):
    """``<test>``: bool := double(variable) OP rhs."""

    assign_to: str | None
    variable: str
    value: float | None = None
    variable2: str | None = None
    compare: Compare
    check_it: bool = False
    check_it_inverse: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Strcmp(Action):
    """``<strcmp>``: double := strcmp(string(variable), rhs)."""

    assign_to: str | None
    variable: str
    value: str | None = None
    variable2: str | None = None
    check_it: bool = False
    check_it_inverse: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Trim(Action):
    """``<trim assign_to>``."""

    assign_to: str


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class UrlCode(Action):
    """``<urlencode variable>`` / ``<urldecode variable>`` (in place)."""

    variable: str
    decode: bool


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class GetTimeOfDay(Action):
    """``<gettimeofday assign_to="sec,usec">``."""

    seconds_var: str
    microseconds_var: str


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class IndexAction(Action):
    """``<index assign_to>``: the current message index."""

    assign_to: str


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Jump(Action):
    """``<jump value|variable>``: continue at message index N."""

    value: float | None = None
    variable: str | None = None
    element_count: int = 0


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class PauseRestore(Action):
    """``<pauserestore value|variable>``: set the call's pause end time (clock ms)."""

    value: float | None = None
    variable: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Lookup(Action):
    """``<lookup assign_to file key>``."""

    assign_to: str
    file: Template
    key: Template


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Insert(Action):
    """``<insert file value>``."""

    file: Template
    value: Template


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Replace(Action):
    """``<replace file line value>``."""

    file: Template
    line_number: Template
    value: Template


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class SetDest(Action):
    """``<setdest host port protocol>``: reported to the engine."""

    host: Template
    port: Template
    protocol: Template


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class CloseCon(Action):
    """``<closecon/>``: reported to the engine."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class VerifyAuth(Action):
    """``<verifyauth assign_to username password>``."""

    assign_to: str
    username: Template
    password: Template


class MediaOp(enum.Enum):
    """What a media action asks the call's media to do."""

    RTP_STREAM = "rtp_stream"
    RTP_PATTERN = "rtp_pattern"
    """SIPp 3.7's ``rtp_stream="apattern|vpattern,LOOPS,PT[,CODEC]"`` (``media`` says which)."""
    PAUSE_STREAM = "pause"
    RESUME_STREAM = "resume"
    PLAY_PCAP = "play_pcap"
    PLAY_DTMF = "play_dtmf"
    ECHO = "rtp_echo"
    """``exec rtp_echo="startaudio|stopaudio|..."``: this call's echo of one media."""
    ECHO_SWITCH = "rtp_echo_switch"
    """``<rtp_echo value="0|1"/>``: the run-wide ``-rtp_echo`` echo off/on."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class MediaAction(Action):
    """``<exec rtp_stream|play_pcap_*|play_dtmf|rtp_echo>`` and ``<rtp_echo>``: reported to
    the engine, which hands it to the call's media (files were checked at load time and are
    read before traffic)."""

    op: MediaOp
    media: str = "audio"
    """``audio``, ``video`` or ``image``."""
    file: str = ""
    """The media file, resolved (next to the scenario, else the working directory)."""
    loops: int = 1
    """SIPp's rtp_stream loops: -1 forever, 0 or 1 once, n n times."""
    payload_type: int = -1
    """-1: the run's ``-rtp_payload``."""
    codec: str = ""
    """The codec name of ``rtp_stream``'s fourth field (``PCMA/8000``), or empty."""
    digits: str = ""
    duration_ms: int = 200
    on: bool = True


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class ActionOutcome:
    """What running an element's actions asks the engine to do.

    ``failure`` is the SIPp statistics column of a check failure (the call goes on but ends
    failed, docs/sipp-behaviour.md#call-flow); ``stop_call`` ends the call (counted
    FailedCallRejected when it happens on a recv); ``stop_now`` exits with 97; ``fatal_error`` exits
    with 255.
    """

    failure: str | None = None
    stop_call: bool = False
    stop_gracefully: bool = False
    stop_now: bool = False
    fatal_error: str | None = None
    jump_index: int | None = None
    pause_restore_ms: int | None = None
    log_lines: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    set_destination: tuple[str, int, str] | None = None
    """(host, port, protocol lower-case) from ``setdest``."""
    close_connection: bool = False
    media: tuple[MediaAction, ...] = ()
    """Media actions for the call's media, in document order."""

    @property
    def is_empty(self) -> bool:
        """True when nothing needs the engine's attention."""
        return self == NO_OUTCOME


NO_OUTCOME = ActionOutcome()
"""The outcome of an empty action list."""


class _Run:
    """Mutable accumulator while running one element's actions."""

    __slots__ = (
        "close",
        "commands",
        "failure",
        "fatal",
        "jump",
        "logs",
        "media",
        "pause_restore",
        "set_dest",
        "stop_call",
        "stop_gracefully",
        "stop_now",
        "warnings",
    )

    def __init__(self) -> None:
        self.failure: str | None = None
        self.stop_call = False
        self.stop_gracefully = False
        self.stop_now = False
        self.fatal: str | None = None
        self.jump: int | None = None
        self.pause_restore: int | None = None
        self.logs: list[str] = []
        self.warnings: list[str] = []
        self.commands: list[str] = []
        self.set_dest: tuple[str, int, str] | None = None
        self.close = False
        self.media: list[MediaAction] | None = None

    def outcome(self) -> ActionOutcome:
        return ActionOutcome(
            failure=self.failure,
            stop_call=self.stop_call,
            stop_gracefully=self.stop_gracefully,
            stop_now=self.stop_now,
            fatal_error=self.fatal,
            jump_index=self.jump,
            pause_restore_ms=self.pause_restore,
            log_lines=tuple(self.logs),
            warnings=tuple(self.warnings),
            commands=tuple(self.commands),
            set_destination=self.set_dest,
            close_connection=self.close,
            media=tuple(self.media) if self.media is not None else (),
        )


def run_actions(
    actions: Sequence[Action],
    ctx: CallContext,
    message_text: str | None,
    *,
    current_index: int | None = None,
) -> ActionOutcome:
    """Run an element's actions in document order (docs/sipp-behaviour.md#actions).

    ``message_text`` is the received message (recv/recvCmd) or the sent one (send), None for
    pause/nop/sendCmd. ``current_index`` overrides the call position used by ``[branch]`` and
    ``<index>`` (defaults to the owning element's index). A check failure, ``stop_call``,
    ``stop_now`` or a fatal error stops the remaining actions.
    """
    if not actions:
        return NO_OUTCOME
    run = _Run()
    text = message_text or ""
    for action in actions:
        index = action.element_index if current_index is None else current_index
        try:
            stop = _run_one(action, ctx, text, message_text is not None, index, run)
        except RenderError as exc:
            run.fatal = str(exc)
            stop = True
        if stop:
            break
    return run.outcome()


def _rhs(ctx: CallContext, value: float | None, variable: str | None) -> float:
    if variable is not None:
        return ctx.variables.double(variable)
    return value if value is not None else 0.0


def _run_one(
    action: Action, ctx: CallContext, text: str, has_message: bool, index: int, run: _Run
) -> bool:
    """Execute one action; True stops the remaining ones."""
    variables = ctx.variables
    if isinstance(action, Ereg):
        return _run_ereg(action, ctx, text, has_message, run)
    if isinstance(action, ArithmeticAction):
        rhs = _rhs(ctx, action.value, action.variable)
        if action.op is Arithmetic.ASSIGN:
            variables.set(action.assign_to, rhs)
            return False
        current = variables.double(action.assign_to)
        if action.op is Arithmetic.ADD:
            variables.set(action.assign_to, current + rhs)
        elif action.op is Arithmetic.SUBTRACT:
            variables.set(action.assign_to, current - rhs)
        elif action.op is Arithmetic.MULTIPLY:
            variables.set(action.assign_to, current * rhs)
        elif rhs == 0:
            run.warnings.append(
                f"Action failure: can not divide by zero (${action.assign_to}"
                f"/{'$' + action.variable if action.variable else '0'})"
            )
        else:
            variables.set(action.assign_to, current / rhs)
        return False
    if isinstance(action, AssignStr):
        variables.set(action.assign_to, action.value.render(ctx, -2, index))
        return False
    if isinstance(action, Log):
        run.logs.append(action.message.render(ctx, -2, index))
        return False
    if isinstance(action, Warning):
        run.warnings.append(action.message.render(ctx, -2, index))
        return False
    if isinstance(action, Error):
        run.fatal = action.message.render(ctx, -2, index)
        return True
    if isinstance(action, ExecCommand):
        run.commands.append(action.command.render(ctx, -2, index))
        return False
    if isinstance(action, ExecIntCmd):
        if action.int_cmd is IntCmd.STOP_GRACEFULLY:
            run.stop_gracefully = True
            return False
        if action.int_cmd is IntCmd.STOP_NOW:
            run.stop_now = True
            return True
        run.stop_call = True
        return True
    if isinstance(action, ToDouble):
        converted = _to_double(variables.get(action.variable))
        if converted is None:
            run.warnings.append(
                f"Invalid double conversion from ${action.variable} to ${action.assign_to}"
            )
        else:
            variables.set(action.assign_to, converted)
        return False
    if isinstance(action, Sample):
        variables.set(action.assign_to, float(action.distribution.sample(ctx.rng)))
        return False
    if isinstance(action, Test):
        return _run_test(action, ctx, run)
    if isinstance(action, Strcmp):
        return _run_strcmp(action, ctx, run)
    if isinstance(action, Trim):
        variables.set(action.assign_to, variables.string(action.assign_to).strip(" \t\r\n\v\f"))
        return False
    if isinstance(action, UrlCode):
        value = variables.string(action.variable)
        if action.decode:
            variables.set(action.variable, urllib.parse.unquote(value, encoding="latin-1"))
        else:
            variables.set(
                action.variable, urllib.parse.quote(value, safe="-_.~", encoding="latin-1")
            )
        return False
    if isinstance(action, GetTimeOfDay):
        now = ctx.env.wall_time()
        micros = int(round(now * 1_000_000))
        seconds, usec = divmod(micros, 1_000_000)
        variables.set(action.seconds_var, float(seconds))
        variables.set(action.microseconds_var, float(usec))
        return False
    if isinstance(action, IndexAction):
        variables.set(action.assign_to, float(index))
        return False
    if isinstance(action, Jump):
        target = _rhs(ctx, action.value, action.variable)
        if target != target or math.isinf(target):
            run.fatal = f"<jump> to an invalid index ({target})"
            return True
        run.jump = int(target)
        if action.element_count and not 0 <= run.jump <= action.element_count:
            run.fatal = f"<jump> to index {run.jump} is out of range"
            return True
        return False
    if isinstance(action, PauseRestore):
        run.pause_restore = int(_rhs(ctx, action.value, action.variable))
        return False
    if isinstance(action, Lookup | Insert | Replace):
        return _run_database(action, ctx, index, run)
    if isinstance(action, SetDest):
        host = action.host.render(ctx, -2, index)
        port_text = action.port.render(ctx, -2, index)
        protocol = action.protocol.render(ctx, -2, index)
        try:
            port = int(float(port_text))
        except ValueError:
            run.fatal = f"Invalid port for setdest: {port_text}"
            return True
        if protocol not in ("udp", "UDP", "tcp", "TCP", "tls", "TLS"):
            run.fatal = f"Unknown transport for setdest: {protocol!r}"
            return True
        run.set_dest = (host, port, protocol.lower())
        return False
    if isinstance(action, CloseCon):
        run.close = True
        return False
    if isinstance(action, MediaAction):
        if run.media is None:
            run.media = []
        run.media.append(action)
        return False
    if isinstance(action, VerifyAuth):
        variables.set(action.assign_to, _verify(action, ctx, text, index))
        return False
    raise AssertionError(f"unhandled action {action!r}")


def _to_double(value: object) -> float | None:
    if value is None:
        return None
    if value.__class__ is bool:
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            try:
                return float(int(text, 16)) if text.lower().startswith("0x") else None
            except ValueError:
                return None
    return None


def _extract_header(
    text: str, name: str, *, case_indep: bool, occurrence: int, start_line: bool
) -> str | None:
    """SIPp's header extraction for ``search_in="hdr"``: the Nth occurrence of the name in the
    whole message (plain substring; with ``start_line`` only at a line start), then the text up to
    the next CR/LF."""
    haystack = text.lower() if case_indep else text
    needle = name.lower() if case_indep else name
    pos = 0
    remaining = max(occurrence, 1)
    while True:
        found = haystack.find(needle, pos)
        if found < 0:
            return None
        if start_line and found > 0 and text[found - 1] != "\n":
            pos = found + 1
            continue
        if remaining <= 1:
            start = found + len(name)
            end = start
            length = len(text)
            while end < length and text[end] not in "\r\n":
                end += 1
            return text[start:end]
        remaining -= 1
        pos = found + 1


def _run_ereg(action: Ereg, ctx: CallContext, text: str, has_message: bool, run: _Run) -> bool:
    variables = ctx.variables
    haystack: str
    if action.search_in is SearchIn.HDR:
        extracted = _extract_header(
            text,
            action.header or "",
            case_indep=action.case_indep,
            occurrence=action.occurrence,
            start_line=action.start_line,
        )
        if extracted is None:
            if action.check_it:
                run.warnings.append(
                    f"Failed regexp match: header {action.header} not found in message"
                )
                run.failure = run.failure or FAILED_REGEXP_HDR_NOT_FOUND
                return True
            extracted = ""
        haystack = extracted
    elif action.search_in is SearchIn.BODY:
        boundary = text.find("\r\n\r\n")
        if boundary < 0:
            if action.check_it:
                run.warnings.append("Failed regexp match: body not found in message")
                run.failure = run.failure or FAILED_REGEXP_HDR_NOT_FOUND
                return True
            haystack = ""
        else:
            haystack = text[boundary + 4 :]
    elif action.search_in is SearchIn.VAR:
        haystack = variables.string(action.variable or "")
    else:
        haystack = text
    match = action.pattern.search(haystack)
    if match is not None:
        # The whole match goes to the first variable, captures 1..N to the following ones; a
        # capture that did not participate leaves its variable unchanged.
        variables.set(action.assign_to[0], RegexpMatch(match.group(0)))
        groups = match.groups()
        for position, name in enumerate(action.assign_to[1:]):
            if position < len(groups) and groups[position] is not None:
                variables.set(name, RegexpMatch(groups[position]))
    # SIPp checks whether the first variable is set (not whether this search matched).
    first_set = variables.is_set(action.assign_to[0])
    if action.check_it and not first_set:
        run.warnings.append(
            f"Failed regexp match: looking in {haystack!r}, with regexp {action.regexp!r}"
        )
        run.failure = run.failure or FAILED_REGEXP_DOESNT_MATCH
        return True
    if action.check_it_inverse and first_set:
        run.warnings.append(
            f"Regexp matched but should not: looking in {haystack!r}, with regexp {action.regexp!r}"
        )
        run.failure = run.failure or FAILED_REGEXP_SHOULDNT_MATCH
        return True
    return False


def _run_test(action: Test, ctx: CallContext, run: _Run) -> bool:
    variables = ctx.variables
    lhs = variables.double(action.variable)
    rhs = _rhs(ctx, action.value, action.variable2)
    compare = action.compare
    if compare is Compare.EQUAL:
        result = lhs == rhs
    elif compare is Compare.NOT_EQUAL:
        result = lhs != rhs
    elif compare is Compare.GREATER_THAN:
        result = lhs > rhs
    elif compare is Compare.LESS_THAN:
        result = lhs < rhs
    elif compare is Compare.GREATER_THAN_EQUAL:
        result = lhs >= rhs
    else:
        result = lhs <= rhs
    if action.assign_to is not None:
        variables.set(action.assign_to, result)
    if action.check_it and not result:
        run.warnings.append(f"Failed test: ${action.variable} {compare.value} {rhs:f}")
        run.failure = run.failure or FAILED_TEST_DOESNT_MATCH
        return True
    if action.check_it_inverse and result:
        run.warnings.append(f"Test matched but should not: ${action.variable} {compare.value}")
        run.failure = run.failure or FAILED_TEST_SHOULDNT_MATCH
        return True
    return False


def c_strcmp(left: str, right: str) -> int:
    """C ``strcmp`` on the latin-1 bytes: difference of the first differing bytes (glibc)."""
    for a, b in zip(left, right, strict=False):
        if a != b:
            return ord(a) - ord(b)
    if len(left) == len(right):
        return 0
    return ord(left[len(right)]) if len(left) > len(right) else -ord(right[len(left)])


def _run_strcmp(action: Strcmp, ctx: CallContext, run: _Run) -> bool:
    variables = ctx.variables
    lhs = variables.string(action.variable)
    rhs = variables.string(action.variable2) if action.variable2 is not None else action.value or ""
    result = c_strcmp(lhs, rhs)
    if action.assign_to is not None:
        variables.set(action.assign_to, float(result))
    if action.check_it and result != 0:
        run.warnings.append(f"Failed strcmp: ${action.variable} {lhs!r} != {rhs!r}")
        run.failure = run.failure or FAILED_STRCMP_DOESNT_MATCH
        return True
    if action.check_it_inverse and result == 0:
        run.warnings.append(f"Strcmp matched but should not: ${action.variable} == {rhs!r}")
        run.failure = run.failure or FAILED_STRCMP_SHOULDNT_MATCH
        return True
    return False


def _run_database(
    action: Lookup | Insert | Replace, ctx: CallContext, index: int, run: _Run
) -> bool:
    name = action.file.render(ctx, -2, index)
    injection = ctx.env.injection.get(name)
    if injection is None:
        run.fatal = f"Invalid injection file for {type(action).__name__.lower()}: {name}"
        return True
    try:
        if isinstance(action, Lookup):
            key = action.key.render(ctx, -2, index)
            ctx.variables.set(action.assign_to, float(injection.lookup(key)))
        elif isinstance(action, Insert):
            injection.insert(action.value.render(ctx, -2, index))
        else:
            line_text = action.line_number.render(ctx, -2, index)
            try:
                line = int(float(line_text))
            except ValueError:
                run.fatal = f"Invalid line number for replace: {line_text}"
                return True
            injection.replace(line, action.value.render(ctx, -2, index))
    except ValueError as exc:
        run.fatal = str(exc)
        return True
    return False


def _verify(action: VerifyAuth, ctx: CallContext, text: str, index: int) -> bool:
    """``verifyauth`` on the received request (docs/sipp-behaviour.md#digest-authentication)."""
    lf = text.find("\n")
    space = text.find(" ")
    if lf < 0 or space < 0 or lf < space:
        return False
    method = text[:space]
    header_end = text.find("\r\n\r\n")
    head = text if header_end < 0 else text[: header_end + 2]
    authorization = None
    lower = head.lower()
    pos = lower.find("\nauthorization:")
    if pos >= 0:
        start = pos + len("\nauthorization:")
        end = head.find("\n", start)
        authorization = head[start : end if end >= 0 else len(head)].strip()
    if not authorization:
        return False
    body = text[header_end + 4 :] if header_end >= 0 else ""
    return digest.verify_credentials(
        authorization,
        username=action.username.render(ctx, -2, index),
        password=action.password.render(ctx, -2, index),
        method=method,
        body=body,
    )
