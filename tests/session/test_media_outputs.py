"""A simulated run whose RunStats receives media records (as the media layer will hand them over
at call end): the -trace_media CSV, the summary's media section and the screens' media block come
out of the real session wiring."""

from __future__ import annotations

import contextlib
import pathlib

import trio
import trio.testing

from gossipper.session import Run, open_run
from gossipper.sim import SimNetwork
from gossipper.stats.media import MEDIA_CSV_COLUMNS
from tests.engine._harness import builtin, make_plan
from tests.stats._media_samples import stream

EPOCH_S = 1_800_000_000.0


def _run(directory: pathlib.Path, **options: object) -> tuple[str, dict[str, object], Run]:
    out: dict[str, object] = {}

    async def main() -> None:
        network = SimNetwork(3)
        async with trio.open_nursery() as nursery, contextlib.AsyncExitStack() as stack:
            await nursery.start(network.run)
            server = await stack.enter_async_context(
                open_run(
                    make_plan(
                        network, builtin("uas"), host="10.0.0.2", role="uas", remote=None,
                        pid=4002,
                    )
                )
            )  # fmt: skip
            nursery.start_soon(server.run)
            client = await stack.enter_async_context(
                open_run(
                    make_plan(
                        network, builtin("uac"), host="10.0.0.1", role="uac",
                        remote=("10.0.0.2", 5060), pid=4001, directory=directory,
                        max_calls=4, rate=10, **options,
                    )
                )
            )  # fmt: skip
            stats = client.engine.stats

            async def media_layer() -> None:
                # Two calls' media close at one instant, in the "wrong" order; one more later.
                await trio.sleep(0.15)
                stats.media_stream_ended(stream(call_id="2-x", call_number=2, mos=3.9))
                stats.media_stream_ended(stream(call_id="1-x", call_number=1))
                await trio.sleep(0.1)
                stats.media_stream_ended(stream(call_id="3-x", call_number=3, rtt_ms=None))

            nursery.start_soon(media_layer)
            result = await client.run()
            report = client.finish(result)
            out["screens"] = report.exit_screens
            out["summary"] = client.summary_document(result, "0.1.0")
            out["client"] = client
            server.engine.interrupt()
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    client = out["client"]
    assert isinstance(client, Run)
    return str(out["screens"]), out, client


def test_media_csv_summary_and_screens(tmp_path: pathlib.Path) -> None:
    screens, out, _ = _run(tmp_path, trace_media=True)
    lines = (tmp_path / "uac_4001_media.csv").read_text().splitlines()
    assert lines[0].split(";") == list(MEDIA_CSV_COLUMNS)
    rows = [line.split(";") for line in lines[1:]]
    # Rows of one instant sorted by call number; the later row last.
    assert [row[1] for row in rows] == ["1-x", "2-x", "3-x"]
    assert rows[0][0] == f"{EPOCH_S + 0.15:.6f}" and rows[2][0] == f"{EPOCH_S + 0.25:.6f}"
    assert rows[1][MEDIA_CSV_COLUMNS.index("mos")] == "3.90"
    assert rows[2][MEDIA_CSV_COLUMNS.index("rtt_ms")] == ""
    assert rows[0][MEDIA_CSV_COLUMNS.index("loss_pct")] == "1.000"
    summary = out["summary"]
    assert isinstance(summary, dict)
    assert summary["media"]["streams"] == 3
    assert summary["media"]["mos"]["min"] == 3.9
    assert "RTP streams            |                           |        3" in screens
    assert "MOS mean / min         |                           | 4.17 / 3.90" in screens


def test_no_media_file_without_the_option(tmp_path: pathlib.Path) -> None:
    _, out, client = _run(tmp_path, trace_stat=True)
    assert not list(tmp_path.glob("*media*"))
    # Without -trace_media and -hep_addr nothing is registered as a sink.
    assert client.engine.stats.media_sinks == []
    summary = out["summary"]
    assert isinstance(summary, dict) and summary["media"]["streams"] == 3
