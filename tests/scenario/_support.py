"""Helpers shared by the scenario tests (not a test module)."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

from gossipper.scenario import (
    BasicCallContext,
    GlobalVariables,
    RunEnv,
    Scenario,
    load_scenario_text,
)
from gossipper.sip import parse_message

XML_HEAD = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'


def scenario_xml(body: str, name: str = "test") -> str:
    """Wrap elements in a <scenario> document."""
    return f'{XML_HEAD}<scenario name="{name}">\n{body}\n</scenario>\n'


def load(body: str, **kwargs: object) -> Scenario:
    """Load a scenario made of ``body`` elements."""
    return load_scenario_text(scenario_xml(body), source_label="t.xml", **kwargs)  # type: ignore[arg-type]


def env(**overrides: object) -> RunEnv:
    """A RunEnv like the one of the SIPp 3.6.1 keyword sample run."""
    values: dict[str, object] = {
        "service": "service",
        "remote_host": "127.0.0.1",
        "remote_ip": "127.0.0.1",
        "remote_port": 5082,
        "local_ip": "127.0.0.1",
        "local_port": 5083,
        "transport": "UDP",
        "media_ip": "127.0.0.1",
        "media_port": 6004,
        "pid": 14406,
        "sipp_version": "3.6.1",
    }
    values.update(overrides)
    return RunEnv(**values)  # type: ignore[arg-type]


def context(
    scenario: Scenario,
    run_env: RunEnv | None = None,
    *,
    globals_: GlobalVariables | None = None,
    user_id: int = 0,
    **fields: object,
) -> BasicCallContext:
    """A call context for ``scenario`` (call 1, Call-ID like SIPp's default)."""
    run_env = run_env or env()
    g = globals_ or scenario.new_global_variables()
    ctx = BasicCallContext(
        env=run_env,
        variables=g.for_call(user_id),
        rng=random.Random(1),
        call_number=1,
        call_id=f"1-{run_env.pid}@{run_env.local_ip}",
        local_port=run_env.local_port,
        user_id=user_id,
    )
    for key, value in fields.items():
        setattr(ctx, key, value)
    return ctx


def sip(text: str) -> object:
    """Parse a SIP message written with LF line ends."""
    return parse_message(text.replace("\n", "\r\n").encode("latin-1"))


def messages_from_log(data: bytes) -> list[tuple[str, bytes]]:
    """Split a SIPp messages.log into (direction, message bytes)."""
    out: list[tuple[str, bytes]] = []
    chunks = data.split(b"----------------------------------------------- ")
    for chunk in chunks[1:]:
        header, _, rest = chunk.partition(b"\n")
        kind_line, _, rest = rest.partition(b"\n")
        direction = "sent" if b"sent" in kind_line else "received"
        size = int(re.search(rb"[(\[](\d+)", kind_line).group(1))  # type: ignore[union-attr]
        body = rest[1:] if rest.startswith(b"\n") else rest
        out.append((direction, body[:size]))
    return out


def mapping(**kw: str) -> Mapping[str, str]:
    """Readable keyword-argument mapping."""
    return kw
