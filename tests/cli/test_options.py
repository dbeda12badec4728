from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from gossipper.cli import options
from gossipper.cli.options import (
    DEFAULT_SEED,
    OPTIONS,
    RTP_SEND,
    RUN,
    SIM,
    Action,
    Kind,
    Scope,
    Status,
    format_help,
    format_markdown,
    option_by_name,
    parse_command_line,
    parse_host_port,
)
from gossipper.config import (
    ALL_DEFAULT_BEHAVIORS,
    RunConfig,
    parse_default_behaviors,
    rule_option,
)
from gossipper.errors import ConfigError, ExitStatus
from gossipper.transport.sctp import sctp_refusal

REPO = Path(__file__).resolve().parents[2]
RUN_OPTIONS = [spec for spec in OPTIONS if RUN in spec.scope]
"""The options of a SIPp-style run (the table also holds the options of gossipper sim)."""
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "sipp-reference.md"


def names_in(text: str) -> set[str]:
    return set(text.split())


# Exactly the options the brief marks SUPPORTED.
API_OPTIONS = (
    "-api_addr",
    "-api_tls_cert",
    "-api_tls_key",
    "-api_users",
    "-api_secret",
    "-api_audit",
    "-api_metrics_public",
    "-api_linger",
)
SUPPORTED_NAMES = names_in(
    """
    -h -help -v -sd -sf -sn -t -i -p -bind_local -rsa -s -cid_str -r -rp -m -l -users
    -segment -segment_sequence -workers
    -rate_increase -rate_interval -rate_max -no_rate_quit -timeout -timeout_global
    -timeout_error -base_cseq -bg -nostdin -sleep -d -deadcall_wait -recv_timeout -send_timeout
    -max_retrans -max_invite_retrans -max_non_invite_retrans -nr -rtcheck -T2 -aa
    -default_behaviors -nd -pause_msg_ign -callid_slash_ign -key -set -lost -dynamicStart
    -dynamicMax -dynamicStep -au -ap -auth_uri -mi -mp -inf -infindex -trace_stat -stf -fd
    -stat_delimiter -periodic_rtd -trace_msg -message_file -message_overwrite -trace_shortmsg
    -shortmessage_file -shortmessage_overwrite -trace_counts -trace_err -error_file
    -error_overwrite -trace_error_codes -trace_calldebug -calldebug_file -calldebug_overwrite
    -trace_screen -screen_file -screen_overwrite -trace_rtt -rtt_freq -trace_logs -log_file
    -log_overwrite -ringbuffer_files -ringbuffer_size -max_log_size -f -timer_resol
    -max_recv_loops -max_sched_loops -buff_size -skip_rlimit -max_socket -summary_json -peer
    -trace_format -rate_scale -cp -ci -max_reconnect -reconnect_close -reconnect_sleep
    -tls_cert -tls_key -tls_ca -tls_crl -tls_version -tls_verify -ws_path -ip_field
    -api_addr -api_tls_cert -api_tls_key -api_users -api_secret -api_audit -api_metrics_public
    -api_linger
    -oocsf -oocsn -rxsf -rxsn -rxinf -hep_addr -hep_capture_id -hep_password -hep_node_name
    -hep_transport -hep_queue -trace_media
    -cid_type -rfc3339 -bind_to_device -sendbuffer_warn -tdmmap
    -aka_K -aka_OP -aka_AMF -watchdog_interval -watchdog_reset -watchdog_minor_threshold
    -watchdog_major_threshold -watchdog_minor_maxtriggers -watchdog_major_maxtriggers
    -overload_queue
    -3pcc -master -slave -slave_cfg -interactive
    -report_html -gate -gate_abort -junit
    -rtp_echo -mb -min_rtp_port -max_rtp_port -rtp_payload -rtp_threadtasks -rtp_buffsize
    -rtpcheck_debug -srtpcheck_debug -media_srtp -media_reject_srtp -audiotolerance
    -videotolerance -random_base_ssrc
    -turn_server -turn_user -turn_pass -turn_realm -dtls_cert -dtls_key -dtls_timeout
    """
)

# Recognised and refused for good: SCTP (no SCTP transport) and C plugins.
UNAVAILABLE_NAMES = names_in(
    """
    -multihome -heartbeat -assocmaxret -pathmaxret -pmtu -gracefulclose -plugin
    """
)

# Every option of the SIPp option table (reference section 7.2), SIPp 3.6.1 and 3.7: a copy of
# the facts kept in the repository, so CI checks against it without the reference.
SIPP_OPTIONS_FILE = REPO / "tests" / "data" / "sipp-options.txt"


def _sipp_option_names() -> list[str]:
    lines = SIPP_OPTIONS_FILE.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


SIPP_OPTION_NAMES = set(_sipp_option_names())

# (argv, field, expected value). Together these cover every SUPPORTED option that sets a field.
SUPPORTED_CASES: list[tuple[list[str], str, object]] = [
    (["-sf", "my.xml"], "scenario_file", "my.xml"),
    (["-rtp_echo"], "rtp_echo", True),
    (
        ["-turn_server", "10.0.0.5:3478", "-turn_user", "u", "-turn_pass", "p"],
        "turn_server",
        "10.0.0.5:3478",
    ),
    (["-turn_server", "h", "-turn_user", "alice", "-turn_pass", "p"], "turn_user", "alice"),
    (["-turn_server", "h", "-turn_user", "u", "-turn_pass", "pw"], "turn_pass", "pw"),
    (["-turn_realm", "example.org"], "turn_realm", "example.org"),
    (["-dtls_cert", "c.pem", "-dtls_key", "k.pem"], "dtls_cert", "c.pem"),
    (["-dtls_cert", "c.pem", "-dtls_key", "k.pem"], "dtls_key", "k.pem"),
    (["-dtls_timeout", "2500"], "dtls_timeout_s", 2.5),
    (["-mb", "1500"], "rtp_echo_buffer", 1500),
    (["-min_rtp_port", "20000"], "min_rtp_port", 20000),
    (["-max_rtp_port", "20099"], "max_rtp_port", 20099),
    (["-rtp_payload", "0"], "rtp_payload", 0),
    (["-rtp_threadtasks", "4"], "rtp_threadtasks", 4),
    (["-rtp_buffsize", "131072"], "rtp_buffsize", 131072),
    (["-rtpcheck_debug"], "rtpcheck_debug", True),
    (["-srtpcheck_debug"], "srtpcheck_debug", True),
    (["-media_srtp"], "media_srtp", True),
    (["-media_reject_srtp"], "media_reject_srtp", True),
    (["-audiotolerance", "0.5"], "audio_tolerance", 0.5),
    (["-videotolerance", "0.25"], "video_tolerance", 0.25),
    (["-random_base_ssrc"], "random_base_ssrc", True),
    (["-max_reconnect", "3"], "max_reconnect", 3),
    (["-reconnect_close", "false"], "reconnect_close", False),
    (["-reconnect_sleep", "250"], "reconnect_sleep_s", 0.25),
    (["-tls_cert", "c.pem"], "tls_cert", "c.pem"),
    (["-tls_key", "k.pem"], "tls_key", "k.pem"),
    (["-tls_ca", "ca.pem"], "tls_ca", "ca.pem"),
    (["-tls_crl", "crl.pem"], "tls_crl", "crl.pem"),
    (["-tls_version", "1.2"], "tls_version", "1.2"),
    (["-tls_verify"], "tls_verify", True),
    (["-ws_path", "/sip"], "ws_path", "/sip"),
    (["-ip_field", "2"], "ip_field", 2),
    (["-sn", "uas"], "scenario_name", "uas"),
    (["-oocsf", "ooc.xml"], "ooc_scenario_file", "ooc.xml"),
    (["-oocsn", "ooc_default"], "ooc_scenario_name", "ooc_default"),
    (["-rxsf", "rx.xml"], "rx_scenario_file", "rx.xml"),
    (["-rxsn", "uas"], "rx_scenario_name", "uas"),
    (["-rxsn", "uas", "-rxinf", "rows.csv"], "rx_injection_file", "rows.csv"),
    (["-t", "un"], "transport_mode", "un"),
    (["-t", "u1"], "transport_mode", "u1"),
    (["-i", "192.0.2.1"], "local_ip", "192.0.2.1"),
    (["-p", "5070"], "local_port", 5070),
    (["-bind_local"], "bind_local", True),
    (["-rsa", "10.0.0.1:5080"], "rsa_host", "10.0.0.1"),
    (["-rsa", "10.0.0.1:5080"], "rsa_port", 5080),
    (["-rsa", "proxy.example"], "rsa_port", 5060),
    (["-3pcc", "127.0.0.1:9000"], "twin_host", "127.0.0.1"),
    (["-3pcc", "127.0.0.1:9000"], "twin_port", 9000),
    (["-3pcc", "twin.example"], "twin_port", 6060),
    (["-master", "m", "-slave_cfg", "peers.cfg"], "master_name", "m"),
    (["-slave", "s1", "-slave_cfg", "peers.cfg"], "slave_name", "s1"),
    (["-slave", "s1", "-slave_cfg", "peers.cfg"], "slave_cfg", "peers.cfg"),
    (["-s", "alice"], "service", "alice"),
    (["-cid_str", "%u@x"], "call_id_template", "%u@x"),
    (["-r", "7.5"], "rate", 7.5),
    (["-rp", "2000"], "rate_period_s", 2.0),
    (["-m", "100"], "max_calls", 100),
    (["-l", "40"], "max_open_calls", 40),
    (["-users", "12"], "users", 12),
    (["-segment", "1/4"], "segment", "1/4"),
    (["-workers", "auto"], "workers", "auto"),
    (["-segment", "0:1/4", "-segment_sequence", "0,1/4,1"], "segment_sequence", "0,1/4,1"),
    (["-rate_increase", "10"], "rate_increase", 10.0),
    (["-rate_interval", "10"], "rate_interval_s", 10.0),
    (["-rate_max", "100"], "rate_max", 100.0),
    (["-no_rate_quit"], "no_rate_quit", True),
    (["-timeout", "20"], "timeout_s", 20.0),
    (["-timeout_global", "20s"], "timeout_s", 20.0),
    (["-timeout_error"], "timeout_error", True),
    (["-base_cseq", "42"], "base_cseq", 42),
    (["-bg"], "background", True),
    (["-nostdin"], "nostdin", True),
    (["-interactive"], "interactive", True),
    (["-sleep", "3"], "sleep_s", 3.0),
    (["-d", "500"], "pause_default_s", 0.5),
    (["-deadcall_wait", "1000"], "deadcall_wait_s", 1.0),
    (["-recv_timeout", "5000"], "recv_timeout_s", 5.0),
    (["-send_timeout", "250"], "send_timeout_s", 0.25),
    (["-max_retrans", "3"], "max_retrans", 3),
    (["-max_invite_retrans", "2"], "max_invite_retrans", 2),
    (["-max_non_invite_retrans", "4"], "max_non_invite_retrans", 4),
    (["-nr"], "no_retrans", True),
    (["-rtcheck", "loose"], "rtcheck_loose", True),
    (["-rtcheck", "full"], "rtcheck_loose", False),
    (["-T2", "8000"], "t2_s", 8.0),
    (["-aa"], "auto_answer", True),
    (["-default_behaviors", "all,-bye"], "default_behaviors", ALL_DEFAULT_BEHAVIORS - {"bye"}),
    (["-nd"], "default_behaviors", frozenset()),
    (["-pause_msg_ign"], "pause_msg_ign", True),
    (["-callid_slash_ign"], "callid_slash_ign", True),
    (["-key", "k", "v"], "keys", {"k": "v"}),
    (["-set", "g", "1"], "globals_set", {"g": "1"}),
    (["-lost", "2.5"], "lost_pct", 2.5),
    (["-dynamicStart", "5"], "dynamic_start", 5),
    (["-dynamicMax", "50"], "dynamic_max", 50),
    (["-dynamicStep", "2"], "dynamic_step", 2),
    (["-au", "bob"], "auth_username", "bob"),
    (["-ap", "secret"], "auth_password", "secret"),
    (["-auth_uri", "example.com"], "auth_uri", "example.com"),
    (["-mi", "192.0.2.9"], "media_ip", "192.0.2.9"),
    (["-mp", "7000"], "media_port", 7000),
    (["-inf", "a.csv", "-inf", "dir/b.csv"], "injection_files", ("a.csv", "dir/b.csv")),
    (["-inf", "dir/b.csv", "-infindex", "b.csv", "2"], "injection_indexes", (("b.csv", 2),)),
    (["-trace_stat"], "trace_stat", True),
    (["-stf", "stats.csv"], "stat_file", "stats.csv"),
    (["-fd", "5"], "dump_period_s", 5.0),
    (["-stat_delimiter", ","], "stat_delimiter", ","),
    (["-periodic_rtd"], "periodic_rtd", True),
    (["-trace_msg"], "trace_msg", True),
    (["-message_file", "m.log"], "message_file", "m.log"),
    (["-message_overwrite", "false"], "message_overwrite", False),
    (["-trace_shortmsg"], "trace_shortmsg", True),
    (["-shortmessage_file", "s.log"], "shortmessage_file", "s.log"),
    (["-shortmessage_overwrite", "false"], "shortmessage_overwrite", False),
    (["-trace_counts"], "trace_counts", True),
    (["-trace_err"], "trace_err", True),
    (["-error_file", "e.log"], "error_file", "e.log"),
    (["-error_overwrite", "false"], "error_overwrite", False),
    (["-trace_error_codes"], "trace_error_codes", True),
    (["-trace_calldebug"], "trace_calldebug", True),
    (["-calldebug_file", "c.log"], "calldebug_file", "c.log"),
    (["-calldebug_overwrite", "false"], "calldebug_overwrite", False),
    (["-trace_screen"], "trace_screen", True),
    (["-screen_file", "sc.log"], "screen_file", "sc.log"),
    (["-screen_overwrite", "false"], "screen_overwrite", False),
    (["-trace_rtt"], "trace_rtt", True),
    (["-trace_media"], "trace_media", True),
    (["-rtt_freq", "10"], "rtt_freq", 10),
    (["-trace_logs"], "trace_logs", True),
    (["-log_file", "l.log"], "log_file", "l.log"),
    (["-log_overwrite", "false"], "log_overwrite", False),
    (["-ringbuffer_files", "3"], "ringbuffer_files", 3),
    (["-ringbuffer_size", "1000"], "ringbuffer_size", 1000),
    (["-max_log_size", "2000"], "max_log_size", 2000),
    (["-f", "2"], "screen_refresh_s", 2.0),
    (["-timer_resol", "10"], "timer_resol_s", 0.01),
    (["-max_recv_loops", "50"], "max_recv_loops", 50),
    (["-max_sched_loops", "60"], "max_sched_loops", 60),
    (["-watchdog_interval", "100"], "watchdog_interval_s", 0.1),
    (["-watchdog_reset", "0"], "watchdog_reset_s", 0.0),
    (["-watchdog_minor_threshold", "1s"], "watchdog_minor_threshold_s", 1.0),
    (["-watchdog_major_threshold", "5000"], "watchdog_major_threshold_s", 5.0),
    (["-watchdog_minor_maxtriggers", "-1"], "watchdog_minor_maxtriggers", -1),
    (["-watchdog_major_maxtriggers", "0"], "watchdog_major_maxtriggers", 0),
    (["-overload_queue", "50000"], "overload_queue", 50000),
    (
        ["-aka_K", "0x" + "465b5ce8b199b49faa5f0a2ee238a6bc"],
        "aka_k",
        "0x465b5ce8b199b49faa5f0a2ee238a6bc",
    ),
    (["-aka_OP", "0x" + "00" * 16], "aka_op", "0x" + "00" * 16),
    (["-aka_AMF", "0x8000"], "aka_amf", "0x8000"),
    (["-buff_size", "1024"], "buff_size", 1024),
    (["-skip_rlimit"], "skip_rlimit", True),
    (["-max_socket", "100"], "max_socket", 100),
    (["-summary_json", "out.json"], "summary_json", "out.json"),
    (["-peer", "uas"], "peer", "uas"),
    (["-report_html", "r.html"], "report_html", "r.html"),
    (["-gate", "p99_ms<5", "-gate", "rate_cps>=9"], "gates", ("p99_ms<5", "rate_cps>=9")),
    (["-junit", "j.xml"], "junit", "j.xml"),
    (["-gate_abort"], "gate_abort", True),
    (["-api_addr", ":8080"], "api_addr", ":8080"),
    (["-api_addr", "[::1]:8080"], "api_addr", "[::1]:8080"),
    (["-api_tls_cert", "api.pem"], "api_tls_cert", "api.pem"),
    (["-api_tls_key", "api.key"], "api_tls_key", "api.key"),
    (["-api_users", "u.sqlite"], "api_users", "u.sqlite"),
    (["-api_secret", "s.key"], "api_secret", "s.key"),
    (["-api_audit", "a.log"], "api_audit", "a.log"),
    (["-api_metrics_public"], "api_metrics_public", True),
    (["-api_linger", "30s"], "api_linger_s", 30.0),
    (["-trace_format", "gossipper"], "trace_format", "gossipper"),
    (["-rate_scale", "5"], "rate_scale", 5.0),
    (["-cp", "8889"], "control_port", 8889),
    (["-ci", "127.0.0.1"], "control_ip", "127.0.0.1"),
    (["-cid_type", "uuid"], "call_id_type", "uuid"),
    (["-cid_type", "uuid32"], "call_id_type", "uuid-compact"),
    (["-cid_type", "time"], "call_id_type", "timestamp"),
    (["-rfc3339"], "rfc3339", True),
    (["-bind_to_device", "lo"], "bind_to_device", "lo"),
    (["-sendbuffer_warn", "true"], "sendbuffer_warn", True),
    (["-tdmmap", "{0-3}{99}{5-8}{1-31}"], "tdm_map", "{0-3}{99}{5-8}{1-31}"),
    (["-hep_addr", "[::1]:9060"], "hep_addr", "[::1]:9060"),
    (["-hep_capture_id", "4294967295"], "hep_capture_id", 4294967295),
    (["-hep_password", "k"], "hep_password", "k"),
    (["-hep_node_name", "lab"], "hep_node_name", "lab"),
    (["-hep_transport", "tcp"], "hep_transport", "tcp"),
    (["-hep_queue", "5"], "hep_queue", 5),
]

PASS0_NAMES = {"-h", "-help", "-v", "-sd"}


def run_config(argv: list[str]) -> RunConfig:
    parsed = parse_command_line(argv)
    assert parsed.action is Action.RUN
    return parsed.config


def config_error(argv: list[str]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_command_line(argv)
    assert info.value.exit_status is ExitStatus.CALLS_FAILED
    return str(info.value)


def dummy_values(kind: Kind) -> list[str]:
    return {0: [], 1: ["1"], 2: ["x.csv", "1"]}[options._ARITY.get(kind, 1)]


# --- the table ----------------------------------------------------------------------------------


def test_supported_status_matches_the_brief_exactly() -> None:
    supported = {spec.name for spec in RUN_OPTIONS if spec.status is Status.SUPPORTED}
    assert supported == SUPPORTED_NAMES


def test_unavailable_options_are_exactly_sctp_and_plugin() -> None:
    unavailable = {spec.name for spec in RUN_OPTIONS if spec.status is Status.UNAVAILABLE}
    assert unavailable == UNAVAILABLE_NAMES


def test_every_sipp_option_is_in_the_table() -> None:
    names = {spec.name for spec in RUN_OPTIONS}
    assert names >= SIPP_OPTION_NAMES
    extensions = names - SIPP_OPTION_NAMES
    assert extensions == {
        "-timeout_global",
        "-segment",
        "-segment_sequence",
        "-workers",
        "-summary_json",
        "-peer",
        "-interactive",
        "-report_html",
        "-gate",
        "-gate_abort",
        "-junit",
        "-trace_media",
        "-trace_format",
        # The Go tool's SRTP policy options (issue 18, docs/media.md).
        "-media_srtp",
        "-media_reject_srtp",
        "-tls_verify",
        "-ws_path",
        # SIPp 3.7's AKA options, absent from the 3.6.1 reference table.
        "-aka_K",
        "-aka_OP",
        "-aka_AMF",
        # The HTTP API (docs/api.md).
        *API_OPTIONS,
        # HEP3 mirroring (the Go tool's -hep_addr/-hep_capture_id/-hep_password, and ours).
        "-hep_addr",
        "-hep_capture_id",
        "-hep_password",
        "-hep_node_name",
        "-hep_transport",
        "-hep_queue",
        # DTLS-SRTP/ICE/TURN (issue 18; the Go tool's -turn_* names, and ours).
        "-turn_server",
        "-turn_user",
        "-turn_pass",
        "-turn_realm",
        "-dtls_cert",
        "-dtls_key",
        "-dtls_timeout",
        # A server holding new INVITEs with 100 Trying while behind (issue 11 item 2).
        "-overload_queue",
    }


def test_sipp_option_file_is_well_formed() -> None:
    names = _sipp_option_names()
    assert len(names) == len(set(names)) == 144  # the table of reference 7.2, counted
    for name in names:
        assert re.fullmatch(r"-[A-Za-z0-9_]+", name), name


def reference_option_names(text: str) -> list[str]:
    """The option names of the reference's section 7.2 table, in table order."""
    section = text.split("### 7.2 Option table", 1)[1].split("\n## ", 1)[0]
    found: list[str] = []
    for line in section.splitlines():
        if not line.startswith("| `-"):
            continue
        first_cell = line.split("|")[1]
        found.extend(re.findall(r"`(-[^`]+)`", first_cell))
        # "-watchdog_interval / `_reset` / ..." abbreviates the shared prefix.
        found.extend("-watchdog" + suffix for suffix in re.findall(r"`(_[a-z_]+)`", first_cell))
    return [name for name in found if name != "-rxrn"]  # SIPp's typo of -rxsn (reference 7.2)


@pytest.mark.skipif(not REFERENCE.exists(), reason="sipp-reference.md is outside the repository")
def test_sipp_option_file_is_the_reference_table() -> None:
    # Where the reference is at hand, the copy in tests/data must still be exactly its table.
    assert _sipp_option_names() == reference_option_names(REFERENCE.read_text(encoding="utf-8"))


def test_option_names_are_unique_and_well_formed() -> None:
    names = [spec.name for spec in OPTIONS]
    assert len(names) == len(set(names))
    for spec in OPTIONS:
        assert re.fullmatch(r"-[A-Za-z0-9_]+", spec.name), spec.name
        assert spec.help and spec.group
        if spec.kind is Kind.TIME:
            assert spec.unit in ("ms", "s"), spec.name
        if spec.status is Status.SUPPORTED and spec.name not in PASS0_NAMES:
            assert spec.dest is not None, spec.name


def test_every_supported_dest_is_a_runconfig_field() -> None:
    fields = set(RunConfig.field_names())
    for spec in RUN_OPTIONS:
        if spec.status is Status.SUPPORTED and spec.dest is not None:
            assert spec.dest in fields, spec.name


def test_every_supported_option_has_a_parse_case() -> None:
    covered = {
        token for argv, _, _ in SUPPORTED_CASES for token in argv if token in SUPPORTED_NAMES
    }
    assert covered == SUPPORTED_NAMES - PASS0_NAMES


def test_config_rules_name_the_option_that_sets_the_field() -> None:
    for spec in OPTIONS:
        if spec.dest is None or rule_option(spec.dest) is None:
            continue
        if spec.name == "-timeout_global":
            continue
        if spec.dest.startswith("rsa_"):
            assert rule_option(spec.dest) == "-rsa"
            continue
        assert rule_option(spec.dest) == spec.name


def test_literal_defaults_in_the_table_match_runconfig_defaults() -> None:
    defaults = RunConfig()
    checked = 0
    for spec in RUN_OPTIONS:
        if spec.status is not Status.SUPPORTED or spec.dest is None:
            continue
        if spec.kind not in (Kind.INT, Kind.FLOAT, Kind.TIME, Kind.STR, Kind.BOOL, Kind.CHOICE):
            continue
        if not spec.default or " " in spec.default or spec.default.startswith("<"):
            continue
        if spec.default == "unlimited":
            continue
        config = run_config([spec.name, spec.default])
        if spec.dest == "scenario_name":
            # None means "SIPp's default scenario", i.e. uac.
            assert config.effective_scenario_name == defaults.effective_scenario_name
        else:
            assert config.values()[spec.dest] == defaults.values()[spec.dest], spec.name
        checked += 1
    assert checked > 40


# --- supported options ----------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "field", "expected"), SUPPORTED_CASES)
def test_supported_option_parses_to_field(argv: list[str], field: str, expected: object) -> None:
    value = run_config(argv).values()[field]
    if isinstance(expected, dict):
        assert dict(value) == expected
    else:
        assert value == expected
        assert type(value) is type(expected)


def test_defaults_are_sipp_defaults() -> None:
    config = run_config(["127.0.0.1"])
    assert config.target.remote_port == 5060
    assert config.load.rate == 10.0
    assert config.load.rate_period_s == 1.0
    assert config.timers.max_retrans == 9
    assert config.timers.max_invite_retrans == 5
    assert config.timers.max_non_invite_retrans == 9
    assert config.timers.t2_s == 4.0
    assert config.timers.deadcall_wait_s == 33.0
    assert config.traces.dump_period_s == 60.0
    assert config.identity.default_behaviors == ALL_DEFAULT_BEHAVIORS
    assert config.target.scenario_name is None and config.target.scenario_file is None
    assert config.effective_scenario_name == "uac"
    assert config.transport.local_port is None and config.load.max_open_calls is None


def test_effective_scenario_name() -> None:
    assert run_config(["-sn", "uas"]).effective_scenario_name == "uas"
    assert run_config(["-sf", "x.xml"]).effective_scenario_name is None


def test_given_lists_the_options_present() -> None:
    parsed = parse_command_line(["-cp", "9000", "--trace_msg", "host"])
    assert parsed.given == frozenset({"-cp", "-trace_msg"})


# --- refused options -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(UNAVAILABLE_NAMES))
def test_unavailable_option_is_refused_with_its_reason(name: str) -> None:
    spec = options.option_by_name(name)
    assert spec is not None
    message = config_error(["127.0.0.1", name, *dummy_values(spec.kind)])
    if name == "-plugin":
        assert message.startswith("-plugin: SIPp plugins are C shared libraries")
    else:
        assert message == sctp_refusal(name)


def test_no_sipp_option_is_left_not_yet() -> None:
    # -srtpcheck_debug (issue 18) was the last one; an option added as "not yet" again must
    # come with a test that it is refused after valid options.
    assert [spec.name for spec in RUN_OPTIONS if spec.status is Status.NOT_YET] == []


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("s1", sctp_refusal("-t s1")),
        ("sn", sctp_refusal("-t sn")),
        ("c1", "-t c1: SIPp's compression-plugin modes are not supported (SIPp ships no plugin);"
         " use u1"),
    ],
)  # fmt: skip
def test_unsupported_transport_modes_are_refused(mode: str, message: str) -> None:
    assert config_error(["-t", mode]) == message


@pytest.mark.parametrize("mode", ["t1", "tn", "l1", "ln", "w1", "wn", "ws1", "wsn"])
def test_stream_transport_modes_are_accepted(mode: str) -> None:
    assert parse_command_line(["-t", mode, "-sn", "uas"]).config.transport.transport_mode == mode


def test_unknown_transport_mode_lists_the_modes() -> None:
    message = config_error(["-t", "zz"])
    assert message.startswith("-t must be one of u1, un, ui")
    assert message.endswith("got 'zz'")


def test_tls_cert_is_not_misread_as_t() -> None:
    for spelling in ("-tls_cert", "--tls_cert"):
        config = parse_command_line([spelling, "x.pem", "-sn", "uas"]).config
        assert config.transport.tls_cert == "x.pem"
        assert config.transport.transport_mode == "u1"


# --- values: units, booleans, integers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "text", "expected_s"),
    [
        ("-d", "250", 0.25),
        ("-d", "250ms", 0.25),
        ("-d", "2s", 2.0),
        ("-d", "1.5m", 90.0),
        ("-d", "1h", 3600.0),
        ("-d", "0.5", 0.0005),
        ("-d", ".5s", 0.5),
        ("-timeout", "30", 30.0),
        ("-timeout", "30ms", 0.03),
        ("-timeout", "2m", 120.0),
        ("-rp", "0.5s", 0.5),
        ("-rp", "2000", 2.0),
        ("-rate_interval", "1m", 60.0),
        ("-fd", "500ms", 0.5),
        ("-T2", "4S", 4.0),
    ],
)
def test_time_units(option: str, text: str, expected_s: float) -> None:
    spec = option_by_name(option)
    assert spec is not None and spec.dest is not None
    assert run_config([option, text]).values()[spec.dest] == pytest.approx(expected_s)


@pytest.mark.parametrize("text", ["abc", "5x", "5 s", "", "1e3s"])
def test_bad_durations_are_refused(text: str) -> None:
    message = config_error(["-d", text])
    assert message.startswith("-d must be a duration such as 500ms, 2s, 1.5m or 1h")
    assert "(a plain number is in ms)" in message


def test_mm_ss_durations_are_refused_like_sipp() -> None:
    assert "mm:ss times are not supported" in config_error(["-timeout", "1:30"])


def test_negative_duration_is_refused() -> None:
    assert config_error(["-d", "-5"]) == "-d must be a non-negative duration, got '-5'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("Yes", True),
        ("1", True),
        ("7", True),
        ("0x1", True),
        ("false", False),
        ("False", False),
        ("no", False),
        ("0", False),
        ("0x0", False),
    ],
)
def test_booleans(text: str, expected: bool) -> None:
    assert run_config(["-message_overwrite", text]).traces.message_overwrite is expected


def test_bad_boolean() -> None:
    assert config_error(["-log_overwrite", "maybe"]) == (
        "-log_overwrite must be true or false, got 'maybe'"
    )


@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        (["-m", "0x10"], "max_calls", 16),
        (["-base_cseq", "0X1f"], "base_cseq", 31),
        (["-p", "0x13c4"], "local_port", 5060),
        (["-m", "010"], "max_calls", 10),
        (["-rtt_freq", "+5"], "rtt_freq", 5),
    ],
)
def test_integers_accept_hex(argv: list[str], field: str, expected: int) -> None:
    assert run_config(argv).values()[field] == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-m", "1.5"], "-m must be a non-negative integer, got '1.5'"),
        (["-m", "0xZZ"], "-m must be a non-negative integer, got '0xZZ'"),
        (["-m", "-1"], "-m must be a non-negative integer, got '-1'"),
        (["-r", "abc"], "-r must be a non-negative number, got 'abc'"),
        (["-r", "-3"], "-r must be a non-negative number, got '-3'"),
        (["-r", "nan"], "-r must be a non-negative number, got 'nan'"),
        (["-p", "70000"], "-p must be a port number 0-65535, got '70000'"),
        (
            ["-api_addr", "localhost:99999"],
            "-api_addr must be HOST:PORT, [IPv6]:PORT or PORT (e.g. 127.0.0.1:8080),"
            " got 'localhost:99999'",
        ),
        (["-l", "0"], "-l must be an integer >= 1, got '0'"),
        (["-lost", "101"], "-lost must be a percentage between 0 and 100, got '101'"),
        (["-rp", "0"], "-rp must be a positive duration, got '0'"),
        (["-rtcheck", "half"], "-rtcheck must be full or loose, got 'half'"),
        (["-trace_format", "xml"], "-trace_format must be one of sipp, gossipper, got 'xml'"),
        (["-hep_addr", "host"], "-hep_addr must be host:port (IPv6 as [address]:port), got 'host'"),
        (
            ["-hep_addr", "::1:9060"],
            "-hep_addr must be host:port (IPv6 as [address]:port), got '::1:9060'",
        ),
        (
            ["-hep_capture_id", "4294967296"],
            "-hep_capture_id must be an integer 0-4294967295, got '4294967296'",
        ),
        (["-stat_delimiter", ""], "-stat_delimiter must be a non-empty string, got ''"),
        (["-infindex", "u.csv", "x"], "-infindex must be a field number >= 0, got 'x'"),
        (["-timeout_global", "-1"], "-timeout_global must be a non-negative duration, got '-1'"),
        (
            ["-aka_K", "0x1234"],
            "-aka_K must be 0x and 32 hex digits, or text of at most 16 bytes, got '0x1234'",
        ),
        (
            ["-aka_AMF", "abc"],
            "-aka_AMF must be 0x and 4 hex digits, or text of at most 2 bytes, got 'abc'",
        ),
        (
            ["-watchdog_major_maxtriggers", "-2"],
            "-watchdog_major_maxtriggers must be an integer >= 0, or -1 for no limit, got '-2'",
        ),
        (
            ["-watchdog_interval", "-1"],
            "-watchdog_interval must be a non-negative duration, got '-1'",
        ),
        (
            ["-overload_queue", "-5"],
            "-overload_queue must be a non-negative integer, got '-5'",
        ),
    ],
)
def test_bad_values_name_the_option(argv: list[str], message: str) -> None:
    assert config_error(argv) == message


def test_zero_rate_is_accepted_like_sipp() -> None:
    assert run_config(["-r", "0"]).load.rate == 0.0


def test_negative_number_in_value_position_is_a_value() -> None:
    assert run_config(["-rate_increase", "-5"]).load.rate_increase == -5.0
    assert run_config(["-rate_increase", "-.5"]).load.rate_increase == -0.5


# --- repeatable options -----------------------------------------------------------------------


def test_key_and_set_are_repeatable_and_last_wins() -> None:
    config = run_config(
        ["-key", "a", "1", "-key", "b", "", "-set", "x", "y", "-key", "a", "3", "-set", "z", "w"]
    )
    assert dict(config.identity.keys) == {"a": "3", "b": ""}
    assert dict(config.identity.globals_set) == {"x": "y", "z": "w"}


def test_key_mapping_is_read_only() -> None:
    config = run_config(["-key", "a", "1"])
    with pytest.raises(TypeError):
        config.identity.keys["a"] = "2"  # type: ignore[index]


def test_key_needs_a_name() -> None:
    assert config_error(["-key", "", "v"]) == "-key needs a non-empty name"


def test_key_values_may_contain_spaces_and_brackets() -> None:
    assert dict(run_config(["-key", "hdr", "X: [a b]"]).identity.keys) == {"hdr": "X: [a b]"}


def test_infindex_must_name_an_inf_file() -> None:
    message = config_error(["-infindex", "users.csv", "0"])
    assert message.startswith("-infindex users.csv 0: no -inf file is named users.csv")


# --- default behaviours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("all", ALL_DEFAULT_BEHAVIORS),
        ("none", frozenset()),
        ("bye", frozenset({"bye"})),
        ("bye,pingreply", frozenset({"bye", "pingreply"})),
        ("+bye,+cseq", frozenset({"bye", "cseq"})),
        ("all,-bye,-cseq", frozenset({"abortunexp", "pingreply"})),
        ("all,none,bye", frozenset({"bye"})),
        ("-all", frozenset()),
        ("ALL,-BYE", ALL_DEFAULT_BEHAVIORS - {"bye"}),
    ],
)
def test_default_behaviors_lists(text: str, expected: frozenset[str]) -> None:
    assert parse_default_behaviors(text) == expected


def test_default_behaviors_starting_with_a_dash_is_a_value() -> None:
    assert run_config(["-default_behaviors", "-bye"]).identity.default_behaviors == frozenset()


def test_unknown_default_behavior() -> None:
    assert "unknown behaviour 'foo'" in config_error(["-default_behaviors", "all,foo"])


def test_nd_and_default_behaviors_last_wins() -> None:
    assert run_config(["-nd", "-default_behaviors", "bye"]).identity.default_behaviors == {"bye"}
    assert (
        run_config(["-default_behaviors", "bye", "-nd"]).identity.default_behaviors == frozenset()
    )


# --- remote host --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1", "127.0.0.1", 5060),
        ("127.0.0.1:5070", "127.0.0.1", 5070),
        ("sip.example.com", "sip.example.com", 5060),
        ("sip.example.com:5080", "sip.example.com", 5080),
        ("[::1]:5070", "::1", 5070),
        ("[::1]", "::1", 5060),
        ("::1", "::1", 5060),
        ("2001:db8::5", "2001:db8::5", 5060),
    ],
)
def test_remote_host_forms(text: str, host: str, port: int) -> None:
    config = run_config([text])
    assert (config.target.remote_host, config.target.remote_port) == (host, port)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("host:abc", "port must be a number 1-65535, got 'abc'"),
        ("host:0", "port must be a number 1-65535, got '0'"),
        ("host:70000", "port must be a number 1-65535"),
        ("[::1", "missing ']'"),
        ("[::1]x", "unexpected 'x'"),
        (":5060", "empty host"),
    ],
)
def test_bad_remote_host(text: str, fragment: str) -> None:
    message = config_error([text])
    assert message.startswith("remote host: ")
    assert fragment in message


def test_parse_host_port_names_the_option() -> None:
    with pytest.raises(ConfigError, match=r"^-rsa: port must be"):
        parse_host_port("h:x", "-rsa")


def test_options_before_and_after_the_host() -> None:
    before = run_config(["-sn", "uac", "-r", "5", "10.1.1.1:5062"])
    after = run_config(["10.1.1.1:5062", "-sn", "uac", "-r", "5"])
    around = run_config(["-sn", "uac", "10.1.1.1:5062", "-r", "5"])
    assert before == after == around
    assert around.target.remote_host == "10.1.1.1" and around.load.rate == 5.0


def test_two_remote_hosts_are_refused() -> None:
    assert config_error(["a.example", "-r", "1", "b.example"]) == (
        "remote_host given twice: a.example and b.example"
    )


def test_flag_does_not_swallow_the_host() -> None:
    # -aa takes no value, so the next word is the remote host (as in SIPp).
    assert run_config(["-aa", "10.0.0.1"]).target.remote_host == "10.0.0.1"


# --- unknown options, missing values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "suggestion"),
    [
        ("-trace_mgs", "-trace_msg"),
        ("-tlscert", "-tls_cert"),
        ("-timout", "-timeout"),
        ("-t2", "-T2"),
        ("--rate_incr", "-rate_increase"),
    ],
)
def test_unknown_option_suggests_the_closest(token: str, suggestion: str) -> None:
    assert config_error([token]) == f"unknown option {token}; did you mean {suggestion}?"


def test_unknown_option_without_a_close_match() -> None:
    assert config_error(["-zzzzzzzzzzzz"]) == "unknown option -zzzzzzzzzzzz; see gossipper -h"


def test_no_prefix_matching() -> None:
    assert config_error(["-trace", "x"]).startswith("unknown option -trace;")
    assert config_error(["-rate", "5"]).startswith("unknown option -rate;")


def test_equals_form_gets_a_hint() -> None:
    assert config_error(["-r=10"]) == (
        "unknown option -r=10: write the value as a separate argument: -r 10"
    )


def test_lone_dash_is_not_an_option() -> None:
    assert config_error(["-"]).startswith("unknown option -")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-r"], "-r needs a value: a number of calls per rate period"),
        (["-r", "-m", "5"], "-r needs a value: a number of calls per rate period"),
        (["-sf"], "-sf needs a value: a scenario XML file"),
        (["-key", "a"], "-key needs two values: a keyword name and its value"),
        (["-key"], "-key needs two values: a keyword name and its value"),
        (
            ["-infindex", "u.csv"],
            "-infindex needs two values: an injection file name and a field number",
        ),
        (["-sd"], "-sd needs a value: a built-in scenario name such as uac"),
        (["-message_overwrite"], "-message_overwrite needs a value: true or false"),
    ],
)
def test_missing_values(argv: list[str], message: str) -> None:
    assert config_error(argv).startswith(message)


def test_every_supported_valued_option_reports_a_missing_value() -> None:
    for spec in OPTIONS:
        if spec.status is not Status.SUPPORTED or spec.arity == 0:
            continue
        message = config_error([spec.name])
        assert message.startswith(f"{spec.name} needs "), message
        assert not message.endswith(": "), message


# --- actions ------------------------------------------------------------------------------------


def test_no_arguments_is_help() -> None:
    parsed = parse_command_line([])
    assert parsed.action is Action.HELP and parsed.help_topic is None


def test_sipp_alias_is_stripped() -> None:
    assert parse_command_line(["sipp"]).action is Action.HELP
    argv = ["-sn", "uac", "-r", "3", "127.0.0.1"]
    assert parse_command_line(["sipp", *argv]) == parse_command_line(argv)


def test_sipp_is_only_an_alias_as_first_token() -> None:
    assert run_config(["-r", "1", "sipp"]).target.remote_host == "sipp"


@pytest.mark.parametrize("token", ["-h", "-help", "--help", "--h"])
def test_help(token: str) -> None:
    parsed = parse_command_line(["-sn", "uac", token])
    assert parsed.action is Action.HELP
    assert parsed.help_topic is None


def test_help_stat() -> None:
    parsed = parse_command_line(["-h", "stat"])
    assert parsed.action is Action.HELP and parsed.help_topic == "stat"


def test_version_wins_over_later_errors_like_sipp() -> None:
    assert parse_command_line(["-v", "-no_such_option"]).action is Action.VERSION
    assert parse_command_line(["-r", "abc", "-v"]).action is Action.VERSION
    assert parse_command_line(["-tls_cert", "x", "-v"]).action is Action.VERSION


def test_unknown_option_before_version_is_an_error_like_sipp() -> None:
    assert config_error(["-foo", "-v"]).startswith("unknown option -foo")


def test_dump_scenario() -> None:
    parsed = parse_command_line(["-sd", "uas"])
    assert parsed.action is Action.DUMP_SCENARIO
    assert parsed.dump_scenario == "uas"


def test_first_pass0_option_wins() -> None:
    assert parse_command_line(["-sd", "uac", "-h"]).action is Action.DUMP_SCENARIO
    assert parse_command_line(["-h", "-sd", "uac"]).action is Action.HELP


# --- combinations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-l", "5", "-users", "3"], "-l and -users cannot be combined: drop -l"),
        (["-sf", "a.xml", "-sn", "uac"], "-sf and -sn cannot be combined: keep only one of them"),
        (
            ["-max_log_size", "10", "-ringbuffer_size", "10"],
            "-max_log_size and -ringbuffer_size cannot be combined: keep only one of them",
        ),
    ],
)
def test_conflicting_options(argv: list[str], message: str) -> None:
    assert config_error(argv) == message


# --- RunConfig ------------------------------------------------------------------------------


def test_from_mapping_builds_a_config() -> None:
    config = RunConfig.from_mapping(
        {
            "rate": 5,
            "remote_host": "h",
            "keys": {"a": "b"},
            "injection_files": ["x/u.csv"],
            "injection_indexes": [["u.csv", 1]],
            "default_behaviors": ["bye"],
            "rate_max": None,
        }
    )
    assert config.load.rate == 5.0 and isinstance(config.load.rate, float)
    assert dict(config.identity.keys) == {"a": "b"}
    assert config.identity.injection_files == ("x/u.csv",)
    assert config.identity.injection_indexes == (("u.csv", 1),)
    assert config.identity.default_behaviors == {"bye"}


def test_from_mapping_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig.from_mapping({"rat": 5, "zzz_unknown": 1, "rate": 1})
    assert str(info.value) == "unknown configuration keys: rat (did you mean rate?), zzz_unknown"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rate": "fast"}, "configuration key 'rate' must be a number, got 'fast'"),
        ({"max_calls": 1.5}, "configuration key 'max_calls' must be an integer, got 1.5"),
        ({"trace_msg": 1}, "configuration key 'trace_msg' must be true or false, got 1"),
        ({"max_calls": True}, "configuration key 'max_calls' must be an integer, got True"),
        ({"rate": -1}, "-r must be a non-negative number, got '-1'"),
        ({"transport_mode": "s1"}, "-t s1: gossipper has no SCTP transport"),
        ({"keys": {"a": 1}}, "configuration key 'keys' must be an object of string values"),
    ],
)
def test_from_mapping_checks_values(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig.from_mapping(data)
    assert str(info.value).startswith(message)


def test_runconfig_is_frozen_and_replace_validates() -> None:
    config = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.load.rate = 3.0  # type: ignore[misc]
    assert config.replace(rate=3.0).load.rate == 3.0
    with pytest.raises(ConfigError):
        config.replace(users=3, max_open_calls=2)
    assert RunConfig(scenario_file="a.xml").replace(scenario_file=None).effective_scenario_name == (
        "uac"
    )


# --- help and docs -------------------------------------------------------------------------------


def test_help_lists_every_option_and_fits_100_columns() -> None:
    text = format_help()
    for spec in RUN_OPTIONS:
        assert re.search(rf"^  {re.escape(spec.name)}( |$)", text, re.MULTILINE), spec.name
    assert all(len(line) <= 100 for line in text.splitlines())
    assert "[not yet]" in text


def test_docs_cli_md_is_up_to_date() -> None:
    # Regenerate the generated part with: python -m gossipper.cli.options --markdown > docs/cli.md
    # then re-append the hand-written sections that follow it (e.g. "## gossipper sim").
    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    generated = format_markdown()
    assert text.startswith(generated)
    rest = text[len(generated) :]
    assert rest == "" or rest.startswith("\n## "), "hand-written sections must start with ##"


def test_markdown_has_one_row_per_option() -> None:
    rows = [line for line in format_markdown().splitlines() if line.startswith("| `-")]
    assert len(rows) == len(OPTIONS)
    for spec, row in zip(OPTIONS, rows, strict=True):
        assert row.startswith(f"| `{spec.name}` |")
        json_name = f"`{spec.dest}`" if spec.dest in RunConfig.field_names() else ""
        assert row.endswith(f"| {spec.status.value} | {json_name} |")


def test_generator_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    assert options.main(["--markdown"]) == 0
    assert capsys.readouterr().out == format_markdown()
    assert options.main([]) == 0
    assert capsys.readouterr().out == format_help()
    assert options.main(["--bogus"]) == 2


# --- scopes: one table for a run and for gossipper sim ----------------------------------------


def test_every_option_has_a_scope_and_sim_only_options_are_not_runconfig_fields() -> None:
    fields = set(RunConfig.field_names())
    for spec in OPTIONS:
        assert spec.scope in (RUN, SIM, RUN | SIM, RTP_SEND), spec.name
        if spec.scope in (SIM, RTP_SEND):
            assert spec.dest not in fields, spec.name
    assert {spec.name for spec in OPTIONS if spec.scope == RUN} == {
        "-v",
        "-sd",
        "-cp",
        "-rsa",
        "-bg",
        "-interactive",
        "-3pcc",
        "-master",
        "-slave",
        "-slave_cfg",
        "-workers",
        "-report_html",
        "-gate",
        "-gate_abort",
        "-junit",
        *API_OPTIONS,
    }


def test_sim_options_are_refused_in_a_run_with_their_scope_named() -> None:
    with pytest.raises(ConfigError, match="-seed is an option of gossipper sim"):
        parse_command_line(["-sn", "uac", "-seed", "3"])


def test_sim_options_convert_into_values_not_the_run_config() -> None:
    parsed = parse_command_line(
        ["-sn", "uac", "-seed", "0x10", "-net_loss_c2s", "2.5", "-epoch", "10"], SIM
    )
    assert parsed.values == {"seed": 16, "loss_pct_c2s": 2.5, "epoch_s": 10.0}
    assert parsed.config == run_config(["-sn", "uac"])
    assert str(DEFAULT_SEED) == option_by_name("-seed").default  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-net_loss", "101"], "-net_loss must be a percentage in [0, 100], got '101'"),
        (["-net_delay", "-1"], "-net_delay must be a finite number >= 0, got '-1'"),
        (["-net_delay", "inf"], "-net_delay must be a finite number >= 0, got 'inf'"),
        (["-epoch", "x"], "-epoch must be a number, got 'x'"),
        (["-seed", "abc"], "-seed must be an integer, got 'abc'"),
        (["-bg"], "gossipper sim: -bg has no meaning in a simulation; drop it"),
        (["-sd", "uac"], "gossipper sim: -sd is not a sim option; use gossipper -sd"),
    ],
)
def test_sim_scope_errors(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_command_line(argv, SIM)
    assert str(info.value) == message


def test_help_wins_in_the_sim_scope_over_a_run_only_pass0_option() -> None:
    assert parse_command_line(["-v", "-h"], SIM).action is Action.HELP
    assert parse_command_line(["-v", "-h"]).action is Action.VERSION  # SIPp: first one wins


def test_unknown_option_suggestions_stay_in_scope() -> None:
    with pytest.raises(ConfigError, match="did you mean -net_loss"):
        parse_command_line(["-net_los", "1"], SIM)
    with pytest.raises(ConfigError) as info:
        parse_command_line(["-net_los", "1"])
    assert "-net_loss" not in str(info.value)


def test_sim_help_lists_sim_options_and_names_the_refused_ones() -> None:
    text = format_help(scope=SIM)
    assert text.startswith("Usage: gossipper sim ")
    for spec in OPTIONS:
        listed = re.search(rf"^  {re.escape(spec.name)} ", text, re.MULTILINE) is not None
        assert listed == (spec.scope == SIM), spec.name
    assert (
        "refuses: -v, -sd, -cp, -rsa, -bg, -interactive, -3pcc,\n-master, -slave, -slave_cfg,"
        " -workers, -report_html, -gate, -gate_abort, -junit, -api_addr," in text
    )
    assert all(len(line) <= 100 for line in text.splitlines())
    assert isinstance(SIM, Scope)


def test_settings_are_grouped_by_option_family() -> None:
    config = run_config(["-r", "7", "-t", "un", "-trace_stat", "-timeout", "3", "10.0.0.1"])
    assert config.load.rate == 7.0
    assert config.transport.transport_mode == "un"
    assert config.traces.trace_stat is True
    assert config.timers.timeout_s == 3.0
    assert config.target.remote_host == "10.0.0.1"
    # Flat names in, groups out: the same record from its flat values and from a mapping.
    assert RunConfig(**config.values()) == config
    assert RunConfig.from_mapping(config.values()) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.load = config.load  # type: ignore[misc]
