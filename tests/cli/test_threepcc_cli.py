"""3PCC from the command line: -3pcc/-master/-slave/-slave_cfg errors, and an extended-mode
master with two slaves as real processes over loopback TCP."""

from __future__ import annotations

import io
import json
import pathlib

from gossipper.cli.main import raw_main
from tests.engine.test_threepcc import _MASTER, _SLAVE
from tests.interop.harness import (
    LOOPBACK,
    finish,
    free_tcp_port,
    free_udp_port,
    gossipper_command,
    start,
    wait_for_tcp_listener,
)


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    status = raw_main(argv, stdout=io.StringIO(), stderr=err)
    return status, err.getvalue()


def test_a_bad_slave_cfg_line_is_one_error_naming_file_and_line(tmp_path: pathlib.Path) -> None:
    (tmp_path / "m.xml").write_text(_MASTER.replace("[$sender]", "m"))
    cfg = tmp_path / "peers.cfg"
    cfg.write_text("m;127.0.0.1:7000\ns1 127.0.0.1:7001\n")
    status, err = _run(
        ["-sf", str(tmp_path / "m.xml"), "-master", "m", "-slave_cfg", str(cfg), "127.0.0.1:9"]
    )
    assert status == 1
    assert err == (
        f"gossipper: error: -slave_cfg {cfg}:2: expected 'name;host:port'"
        " (e.g. s1;127.0.0.1:8080), got 's1 127.0.0.1:7001'\n"
    )


def test_a_missing_slave_cfg_file_is_one_error(tmp_path: pathlib.Path) -> None:
    (tmp_path / "m.xml").write_text(_MASTER.replace("[$sender]", "m"))
    cfg = tmp_path / "none.cfg"
    status, err = _run(
        ["-sf", str(tmp_path / "m.xml"), "-master", "m", "-slave_cfg", str(cfg), "127.0.0.1:9"]
    )
    assert status == 1
    assert err.startswith(f"gossipper: error: -slave_cfg {cfg}: cannot read it")
    assert err.count("\n") == 1


def test_a_peer_missing_from_the_address_book_is_named(tmp_path: pathlib.Path) -> None:
    (tmp_path / "m.xml").write_text(_MASTER.replace("[$sender]", "m"))
    cfg = tmp_path / "peers.cfg"
    cfg.write_text("m;127.0.0.1:7000\ns1;127.0.0.1:7001\n")
    status, err = _run(
        ["-sf", str(tmp_path / "m.xml"), "-master", "m", "-slave_cfg", str(cfg), "127.0.0.1:9"]
    )
    assert status == 1
    assert "dest='s2' is not in -slave_cfg" in err
    assert err.count("\n") == 1


def test_a_3pcc_scenario_without_3pcc_options_is_refused(tmp_path: pathlib.Path) -> None:
    status, err = _run(["-sn", "3pcc-C-A", "127.0.0.1:9", "-m", "1"])
    assert status == 1
    assert "<sendCmd> needs a 3PCC command channel: add -3pcc host:port" in err


def test_master_and_two_slaves_over_loopback(tmp_path: pathlib.Path) -> None:
    ports = {name: free_tcp_port() for name in ("m", "s1", "s2")}
    cfg = tmp_path / "peers.cfg"
    cfg.write_text("".join(f"{name};{LOOPBACK}:{port}\n" for name, port in ports.items()))
    (tmp_path / "m.xml").write_text(_MASTER.replace("[$sender]", "m"))
    slaves = []
    for name in ("s1", "s2"):
        (tmp_path / f"{name}.xml").write_text(_SLAVE.replace("NAME", name))
        slave = start(
            gossipper_command(
                "-sf", f"{name}.xml", "-slave", name, "-slave_cfg", "peers.cfg",
                f"{LOOPBACK}:9", "-i", LOOPBACK, "-p", str(free_udp_port()), "-nostdin",
                "-summary_json", f"{name}.json",
            ),
            tmp_path,
        )  # fmt: skip
        wait_for_tcp_listener(ports[name], slave)
        slaves.append(slave)
    master = start(
        gossipper_command(
            "-sf", "m.xml", "-master", "m", "-slave_cfg", "peers.cfg", f"{LOOPBACK}:9",
            "-i", LOOPBACK, "-p", str(free_udp_port()), "-nostdin", "-m", "4", "-r", "10",
            "-summary_json", "m.json", "-trace_logs",
        ),
        tmp_path,
    )  # fmt: skip
    rc, out, err = finish(master, timeout_s=60)
    assert rc == 0, out[-2000:] + err[-2000:]
    for slave in slaves:
        # A slave ends by itself once the master has gone.
        slave_rc, slave_out, slave_err = finish(slave, timeout_s=30)
        assert slave_rc == 0, slave_out[-2000:] + slave_err[-2000:]
    for name in ("m", "s1", "s2"):
        calls = json.loads((tmp_path / f"{name}.json").read_text())["calls"]
        assert (calls["total"], calls["successful"], calls["failed"]) == (4, 4, 0), name
    (log,) = tmp_path.glob("m_*_logs.log")
    # Each slave answered with its own name, what it was asked, and the hop line.
    assert "s1-one-Hop: one s2-two s1-one-Hop: one-Hop: two s1-one-Hop: one" in log.read_text()
