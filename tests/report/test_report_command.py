"""``gossipper report`` and ``-report_html``/``-gate``/``-junit`` on runs, end to end in
process: files written, stderr lines, exit statuses."""

from __future__ import annotations

import csv
import datetime
import io
import json
import pathlib
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from gossipper.cli.main import raw_main
from gossipper.errors import ExitStatus
from gossipper.report.gates import MEDIA_METRICS, summary_metrics
from gossipper.stats import load_summary_schema
from tests.report._html_check import embedded_data, read_page

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden_csv"


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = raw_main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def copy_case(case: str, directory: pathlib.Path) -> pathlib.Path:
    target = directory / case
    shutil.copytree(GOLDEN / case, target)
    return target


def test_report_of_a_golden_run_with_gates(tmp_path: pathlib.Path) -> None:
    case = copy_case("tcp_tn_resets", tmp_path)
    out = tmp_path / "out.html"
    junit = tmp_path / "junit.xml"
    status, stdout, stderr = run_cli(
        "report", "-o", str(out), str(case / "summary.json"),
        "-gate", "successful_calls>=30", "-gate", "failed_calls_pct<1", "-junit", str(junit),
    )  # fmt: skip
    assert status == ExitStatus.CALLS_FAILED, stderr
    assert "gossipper: gate successful_calls>=30: PASS (successful_calls = 35)\n" in stderr
    assert "gossipper: gate failed_calls_pct<1: FAIL (failed_calls_pct = 12.5)\n" in stderr
    data = embedded_data(read_page(out.read_text("utf-8")))
    # The CSV files next to the summary (SIPp's default names) were found and read.
    assert data["runs"][0]["stat"] and data["runs"][0]["percentiles"]
    assert data["runs"][0]["scenario_table"]
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "2"  # the failed gate and FailedTcpClosed


def test_report_exit_status_zero_when_gates_pass(tmp_path: pathlib.Path) -> None:
    case = copy_case("clean", tmp_path)
    status, _, stderr = run_cli("report", str(case / "summary.json"), "-gate", "failed_calls==0")
    assert status == ExitStatus.SUCCESS, stderr
    # Default output: the summary's name with .html.
    assert (case / "summary.html").is_file()
    assert f"report written to {case / 'summary.html'}" in stderr


def test_explicit_csv_files_and_base_name_rule(tmp_path: pathlib.Path) -> None:
    case = copy_case("named_rtd", tmp_path)
    # BASE.json goes with BASE_.csv, BASE_rtt.csv, BASE_counts.csv.
    shutil.copy(case / "summary.json", tmp_path / "run1.json")
    shutil.copy(case / "uac_rtd_4242_.csv", tmp_path / "run1_.csv")
    shutil.copy(case / "uac_rtd_4242_rtt.csv", tmp_path / "run1_rtt.csv")
    status, _, stderr = run_cli(
        "report", "-o", str(tmp_path / "a.html"), str(tmp_path / "run1.json")
    )
    assert status == 0, stderr
    run = embedded_data(read_page((tmp_path / "a.html").read_text("utf-8")))["runs"][0]
    assert run["stat"][0]["path"] == "run1_.csv"
    assert list(run["percentiles"]) == ["setup", "teardown"]
    assert run["scenario_table"] == []
    status, _, stderr = run_cli(
        "report", "-o", str(tmp_path / "b.html"), str(tmp_path / "run1.json"),
        "--counts", str(case / "uac_rtd_4242_counts.csv"), "--no-find",
    )  # fmt: skip
    assert status == 0, stderr
    run = embedded_data(read_page((tmp_path / "b.html").read_text("utf-8")))["runs"][0]
    assert run["stat"] == [] and run["scenario_table"]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["-gate", "p98_ms<1"], "-gate 'p98_ms<1': unknown metric 'p98_ms'; metrics: total_calls"),
        (["-gate", "latency is fine"], "-gate 'latency is fine': not a gate"),
        (["--bogus"], "unknown option --bogus"),
        (["--stat", "x.csv", "--stat", "y.csv"], "2 --stat files for 1 summaries"),
    ],
)
def test_bad_command_lines_exit_255(argv: list[str], fragment: str) -> None:
    summary = str(GOLDEN / "clean" / "summary.json")
    status, _, stderr = run_cli("report", summary, "--no-html", *argv)
    assert status == ExitStatus.FATAL
    assert stderr.startswith("gossipper: error: ") and fragment in stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr


def test_bad_input_files_exit_255(tmp_path: pathlib.Path) -> None:
    status, _, stderr = run_cli("report", str(tmp_path / "missing.json"))
    assert status == ExitStatus.FATAL and "cannot read it" in stderr
    (tmp_path / "other.json").write_text('{"schema": "something.else"}', "utf-8")
    status, _, stderr = run_cli("report", str(tmp_path / "other.json"))
    assert status == ExitStatus.FATAL and "not a gossipper.summary version 1" in stderr
    (tmp_path / "bad.csv").write_text("hello;world\n1;2\n", "utf-8")
    status, _, stderr = run_cli(
        "report", str(GOLDEN / "clean" / "summary.json"), "--stat", str(tmp_path / "bad.csv")
    )
    assert status == ExitStatus.FATAL and "not a SIPp-format file" in stderr


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty; give the _media.csv of a run"),
        ("hello;world\n", "line 1 does not start with end_epoch_s"),
        ("end_epoch_s;call_id;mos\n", "line 1 has no packets_received, packets_expected,"),
    ],
)
def test_bad_media_files_exit_255(tmp_path: pathlib.Path, text: str, fragment: str) -> None:
    bad = tmp_path / "bad_media.csv"
    bad.write_text(text, "utf-8")
    summary = str(GOLDEN / "media_rtp" / "summary.json")
    status, _, stderr = run_cli("report", summary, "--no-html", "--media", str(bad))
    assert status == ExitStatus.FATAL, stderr
    assert stderr.startswith("gossipper: error: --media ") and fragment in stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr


def test_media_file_with_a_short_row_exits_255(tmp_path: pathlib.Path) -> None:
    lines = (GOLDEN / "media_rtp" / "uac_rtp_4242_media.csv").read_text("utf-8").splitlines()
    short = tmp_path / "short_media.csv"
    short.write_text("\n".join([*lines[:2], lines[2].rsplit(";", 1)[0]]) + "\n", "utf-8")
    summary = str(GOLDEN / "media_rtp" / "summary.json")
    status, _, stderr = run_cli("report", summary, "--no-html", "--media", str(short))
    assert status == ExitStatus.FATAL
    columns = len(lines[0].split(";"))  # the media CSV's columns grow with the media layer
    assert f"line 3 has {columns - 1} fields, the header {columns}" in stderr
    assert stderr.count("\n") == 1


def test_media_over_time_of_a_golden_media_run(tmp_path: pathlib.Path) -> None:
    """The media file found next to the golden media_rtp summary (SIPp's default names), in
    windows of 1 s since the run's start: each window's figures recomputed here from the CSV
    with the csv module, and the windows hold every stream of the summary once."""
    case = copy_case("media_rtp", tmp_path)
    out = tmp_path / "media.html"
    status, _, stderr = run_cli("report", "-o", str(out), str(case / "summary.json"))
    assert status == 0, stderr
    reader = read_page(out.read_text("utf-8"))
    assert "chart-media" in reader.ids and "chart-mos" in reader.ids
    run = embedded_data(reader)["runs"][0]
    assert str(case / "uac_rtp_4242_media.csv") in run["sources"]
    (part,) = run["media_over_time"]
    summary = json.loads((case / "summary.json").read_text("utf-8"))
    start = datetime.datetime.fromisoformat(summary["started_at"]).timestamp()
    with (case / "uac_rtp_4242_media.csv").open(newline="") as file:
        rows = list(csv.DictReader(file, delimiter=";"))
    windows: dict[int, list[dict[str, str]]] = {}
    for row in rows:
        windows.setdefault(int(float(row["end_epoch_s"]) - start), []).append(row)
    assert part["t_s"] == [float(w) for w in sorted(windows)]
    assert part["streams"] == [len(windows[w]) for w in sorted(windows)]
    assert sum(part["streams"]) == summary["media"]["streams"] == len(rows)
    for i, w in enumerate(sorted(windows)):
        group = windows[w]
        mos = [float(r["mos"]) for r in group]
        assert part["mos_mean"][i] == pytest.approx(sum(mos) / len(mos), abs=5e-4)
        lost = sum(int(r["packets_lost"]) for r in group)
        expected = sum(int(r["packets_expected"]) for r in group)
        assert part["loss_pct"][i] == pytest.approx(100.0 * lost / expected, abs=5e-5)
        jitter = [float(r["jitter_ms"]) for r in group]
        assert part["jitter_ms_mean"][i] == pytest.approx(sum(jitter) / len(jitter), abs=5e-4)
    # Given explicitly with --no-find, the same; without a media file, no media over time.
    status, _, stderr = run_cli(
        "report", "-o", str(tmp_path / "b.html"), str(case / "summary.json"), "--no-find",
        "--media", str(case / "uac_rtp_4242_media.csv"),
    )  # fmt: skip
    assert status == 0, stderr
    again = embedded_data(read_page((tmp_path / "b.html").read_text("utf-8")))["runs"][0]
    assert again["media_over_time"] == run["media_over_time"] and again["stat"] == []
    status, _, stderr = run_cli(
        "report", "-o", str(tmp_path / "c.html"), str(case / "summary.json"), "--no-find"
    )
    assert status == 0, stderr
    bare = embedded_data(read_page((tmp_path / "c.html").read_text("utf-8")))["runs"][0]
    assert bare["media_over_time"] == []


def test_report_help() -> None:
    status, stdout, _ = run_cli("report", "-h")
    assert status == ExitStatus.NO_CALLS and "usage: gossipper report" in stdout


def test_sim_run_then_report(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    status, _, stderr = run_cli(
        "sim", "-sn", "uac", "-m", "30", "-r", "10", "-net_loss", "0.05", "-trace_stat",
        "-fd", "1", "-trace_rtt", "-rtt_freq", "1", "-trace_counts", "-summary_json", "uac.json",
    )  # fmt: skip
    assert status in (0, 1), stderr
    status, _, stderr = run_cli("report", "uac.json", "-o", "r.html", "-gate", "total_calls==30")
    assert status == 0, stderr
    summary = json.loads((tmp_path / "uac.json").read_text("utf-8"))
    data = embedded_data(read_page((tmp_path / "r.html").read_text("utf-8")))
    (run,) = data["runs"]
    assert run["summary"] == summary
    assert sum(run["stat"][0]["successful"]) == summary["calls"]["successful"]
    assert sum(run["percentiles"]["1"]["count"]) == summary["latency"]["rtd"]["1"]["count"]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def real_run(tmp_path: pathlib.Path, *extra: str) -> tuple[int, str, dict[str, Any]]:
    summary = tmp_path / "run.json"
    status, _, stderr = run_cli(
        "-sn", "uac", "-peer", "uas", "-m", "5", "-r", "50", "-nostdin", "-i", "127.0.0.1",
        "-p", str(free_udp_port()), "-summary_json", str(summary), *extra,
    )  # fmt: skip
    return status, stderr, json.loads(summary.read_text("utf-8"))


def validate(document: dict[str, Any]) -> None:
    schema = load_summary_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class(schema, format_checker=validator_class.FORMAT_CHECKER).validate(document)


def test_real_run_writes_report_junit_and_gates(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    html_path, junit_path = tmp_path / "run.html", tmp_path / "run.xml"
    status, stderr, doc = real_run(
        tmp_path, "-trace_stat", "-fd", "1", "-trace_counts",
        "-report_html", str(html_path), "-junit", str(junit_path),
        "-gate", "successful_calls>=5", "-gate", "failed_calls_pct<1",
    )  # fmt: skip
    assert status == ExitStatus.SUCCESS, stderr
    assert "gossipper: gate successful_calls>=5: PASS (successful_calls = 5)" in stderr
    validate(doc)
    assert [(g["gate"], g["passed"]) for g in doc["gates"]] == [
        ("successful_calls>=5", True),
        ("failed_calls_pct<1", True),
    ]
    data = embedded_data(read_page(html_path.read_text("utf-8")))
    (run,) = data["runs"]
    assert run["summary"] == doc
    assert run["metrics"] == summary_metrics(doc)
    assert run["stat"] and run["scenario_table"]
    root = ET.parse(junit_path).getroot()
    assert root.get("failures") == "0"
    assert [c.get("name") for c in root.iter("testcase")][:2] == [
        "successful_calls>=5",
        "failed_calls_pct<1",
    ]


def test_real_run_failed_gate_exits_1(tmp_path: pathlib.Path) -> None:
    status, stderr, doc = real_run(tmp_path, "-gate", "successful_calls>=6")
    assert status == ExitStatus.CALLS_FAILED
    assert "gossipper: gate successful_calls>=6: FAIL (successful_calls = 5)" in stderr
    assert doc["exit_code"] == 1 and doc["gates"][0]["passed"] is False
    validate(doc)


def test_real_run_refuses_a_bad_gate_before_starting(tmp_path: pathlib.Path) -> None:
    status, _, stderr = run_cli(
        "-sn", "uac", "-peer", "uas", "-m", "1", "-nostdin", "-gate", "p98_ms<1",
        "-summary_json", str(tmp_path / "x.json"),
    )  # fmt: skip
    assert status == ExitStatus.FATAL
    assert stderr.startswith("gossipper: error: -gate 'p98_ms<1': unknown metric")
    assert not (tmp_path / "x.json").exists()


def test_sim_refuses_run_only_options() -> None:
    status, _, stderr = run_cli("sim", "-sn", "uac", "-m", "1", "-gate", "total_calls>0")
    assert status != 0 and "-gate" in stderr


def test_gate_abort_stops_a_run_that_cannot_pass(tmp_path: pathlib.Path) -> None:
    # 1000 calls at 100/s would take 10 s; the gate fails as soon as 10 calls were made.
    status, stderr, doc = real_run(
        tmp_path, "-gate", "total_calls<10", "-gate_abort", "-m", "1000", "-r", "100"
    )
    assert status == ExitStatus.CALLS_FAILED
    assert "gossipper: gate total_calls<10 can no longer pass (total_calls = " in stderr
    assert "stopping the run (-gate_abort)" in stderr
    assert 10 <= doc["calls"]["total"] < 400
    assert doc["calls"]["failed"] == 0  # open calls were let finish
    assert doc["gates"][0]["passed"] is False


def test_gate_abort_needs_a_gate() -> None:
    status, _, stderr = run_cli("-sn", "uac", "-peer", "uas", "-m", "1", "-nostdin", "-gate_abort")
    assert status == ExitStatus.FATAL
    assert "-gate_abort checks the gates during the run: add at least one -gate" in stderr


def test_compare_junit_has_the_suites_of_each_run(tmp_path: pathlib.Path) -> None:
    clean, rejected = copy_case("clean", tmp_path), copy_case("reject_486", tmp_path)
    junit = tmp_path / "junit.xml"
    status, _, stderr = run_cli(
        "report", "--compare", "--no-html", str(clean / "summary.json"),
        str(rejected / "summary.json"), "-gate", "success_pct>=99", "-junit", str(junit),
    )  # fmt: skip
    assert status == ExitStatus.CALLS_FAILED
    assert f"gate [{clean / 'summary.json'}] success_pct>=99: PASS" in stderr
    assert f"gate [{rejected / 'summary.json'}] success_pct>=99: FAIL" in stderr
    root = ET.parse(junit).getroot()
    suites = root.findall("testsuite")
    assert len(suites) == 4  # gates and failure reasons of each run
    assert root.get("failures") == "2"  # the failed gate and FailedUnexpectedMessage
    assert sum(int(s.get("tests", "0")) for s in suites) == int(root.get("tests", "0"))
    assert not list(tmp_path.glob("**/*.html"))


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda d: d["calls"].pop("failed"), "malformed summary (KeyError('failed'))"),
        (lambda d: d["latency"]["rtd"]["1"]["histogram"].update(count=-1), "malformed summary"),
        (lambda d: d["rate"].update(achieved_cps="fast"), "malformed summary"),
    ],
)
def test_malformed_summaries_are_one_line_errors(
    tmp_path: pathlib.Path, edit: Any, fragment: str
) -> None:
    doc = json.loads((GOLDEN / "clean" / "summary.json").read_text("utf-8"))
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), "utf-8")
    status, _, stderr = run_cli("report", str(path))
    assert status == ExitStatus.FATAL
    assert stderr.startswith(f"gossipper: error: {path}: ") and fragment in stderr
    assert stderr.count("\n") == 1


def test_nan_in_a_summary_is_refused(tmp_path: pathlib.Path) -> None:
    text = (GOLDEN / "clean" / "summary.json").read_text("utf-8")
    path = tmp_path / "nan.json"
    path.write_text(text.replace('"duration_s": ', '"duration_s": NaN, "x": ', 1), "utf-8")
    status, _, stderr = run_cli("report", str(path))
    assert status == ExitStatus.FATAL and "not JSON" in stderr


def test_unwritable_junit_is_fatal_but_the_summary_is_written(tmp_path: pathlib.Path) -> None:
    summary = tmp_path / "run.json"
    status, _, stderr = run_cli(
        "-sn", "uac", "-peer", "uas", "-m", "2", "-r", "50", "-nostdin", "-i", "127.0.0.1",
        "-p", str(free_udp_port()), "-summary_json", str(summary), "-gate", "total_calls==2",
        "-junit", str(tmp_path / "missing" / "junit.xml"),
    )  # fmt: skip
    assert status == ExitStatus.FATAL
    assert stderr.splitlines()[-1].startswith("gossipper: error: -junit ")
    assert json.loads(summary.read_text("utf-8"))["gates"][0]["passed"] is True


def test_real_media_run_report_shows_its_media(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real loopback run with media (tests/interop/data/uac_rtp_stream.xml against
    gossipper's uas with -rtp_echo, in another process) writes a report whose media table
    shows the run's summary figures, with the MOS chart's holder and its distribution."""
    from tests.interop.harness import wait_for_udp_listener
    from tests.interop.media import free_udp_port_block, write_ulaw_tone

    monkeypatch.chdir(tmp_path)
    write_ulaw_tone(tmp_path / "media_tone.ulaw", 0.5)  # rtp_stream finds it in the cwd
    scenario = pathlib.Path(__file__).resolve().parents[1] / "interop/data/uac_rtp_stream.xml"
    port, block, calls = free_udp_port(), free_udp_port_block(20), 3
    uas = subprocess.Popen(
        [
            sys.executable, "-m", "gossipper", "-sn", "uas", "-rtp_echo", "-i", "127.0.0.1",
            "-p", str(port), "-nostdin", "-m", str(calls),
            "-min_rtp_port", str(block), "-max_rtp_port", str(block + 9),
        ],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_udp_listener(port, uas)  # type: ignore[arg-type]
        summary, page = tmp_path / "media.json", tmp_path / "media.html"
        status, _, stderr = run_cli(
            "-sf", str(scenario), f"127.0.0.1:{port}", "-i", "127.0.0.1", "-nostdin",
            "-m", str(calls), "-r", "10", "-d", "600",
            "-min_rtp_port", str(block + 10), "-max_rtp_port", str(block + 19),
            "-summary_json", str(summary), "-report_html", str(page), "-trace_media",
        )  # fmt: skip
    finally:
        if uas.poll() is None:
            uas.terminate()
        uas.communicate(timeout=20)
    assert status == ExitStatus.SUCCESS, stderr
    doc = json.loads(summary.read_text("utf-8"))
    validate(doc)
    media = doc["media"]
    assert media["streams"] == calls and media["packets"]["received"] > 0, media
    assert media["mos"]["count"] == calls, media
    reader = read_page(page.read_text("utf-8"))
    data = embedded_data(reader)
    assert data["runs"][0]["summary"]["media"] == media
    assert "chart-mos" in reader.ids and "chart-media" in reader.ids
    # The run's -trace_media file, read at the end of the run: every stream in its windows.
    (part,) = data["runs"][0]["media_over_time"]
    assert sum(part["streams"]) == calls and part["path"].endswith("_media.csv")
    metrics = summary_metrics(doc)
    shown = {
        attributes["data-metric"]: (text, attributes["data-value"])
        for attributes, text in reader.cells
        if attributes.get("data-metric", "").startswith("media_")
    }
    # Every row of the media table, each the summary's figure.
    assert sorted(shown) == sorted(MEDIA_METRICS)
    for metric, (text, value) in shown.items():
        expected = metrics[metric]
        assert value == ("" if expected is None else repr(float(expected))), (metric, value)
        if expected is not None:
            assert float(text.replace(",", "")) == pytest.approx(expected, abs=0.01)
