"""deploy/: the Kubernetes manifests validate against the API schemas, the Indexed Job maps
JOB_COMPLETION_INDEX to -segment, and deploy/run-segments-local.sh runs the same N segments as
local processes against a local UAS and merges them (docs/kubernetes.md)."""

from __future__ import annotations

import copy
import csv
import json
import os
import pathlib
import socket
import subprocess
import sys
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
KUBERNETES_VERSION = "1.33.0"
"""The API version the manifests are written for (Indexed Jobs are GA since 1.24)."""


def _documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                found.append((path.name, document))
    return found


def _by_kind() -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for _, d in _documents()}


def test_every_manifest_validates_against_the_kubernetes_schemas() -> None:
    documents = _documents()
    assert {d["kind"] for _, d in documents} >= {
        "Job",
        "Deployment",
        "Service",
        "PersistentVolumeClaim",
    }
    for name, document in documents:
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {exc}")


def test_the_validator_rejects_a_broken_manifest() -> None:
    job = copy.deepcopy(_by_kind()[("Job", "gossipper-uac")])
    job["spec"]["completionMode"] = 4  # must be a string
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    job = copy.deepcopy(_by_kind()[("Job", "gossipper-uac")])
    job["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []  # misspelt field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)


def test_the_indexed_job_runs_one_segment_per_completion_index_into_the_shared_volume() -> None:
    kinds = _by_kind()
    job = kinds[("Job", "gossipper-uac")]
    spec = job["spec"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    segments = {e["name"]: e["value"] for e in container["env"]}["SEGMENTS"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == int(segments)
    script = " ".join(container["args"])
    assert "-segment ${JOB_COMPLETION_INDEX}/${SEGMENTS}" in script
    assert "cd /results/segment-${JOB_COMPLETION_INDEX}" in script
    assert "gossipper-uas:5060" in script
    claim = kinds[("PersistentVolumeClaim", "gossipper-results")]["metadata"]["name"]
    for name in ("gossipper-uac", "gossipper-merge"):
        volumes = kinds[("Job", name)]["spec"]["template"]["spec"]["volumes"]
        assert volumes[0]["persistentVolumeClaim"]["claimName"] == claim
    merge = " ".join(
        kinds[("Job", "gossipper-merge")]["spec"]["template"]["spec"]["containers"][0]["args"]
    )
    assert "gossipper merge /results/segment-* -o /results/merged" in merge
    service = kinds[("Service", "gossipper-uas")]
    deployment = kinds[("Deployment", "gossipper-uas")]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_containerfile_builds_from_the_repository() -> None:
    # No image is built here (no container engine); the instructions are checked.
    lines = [
        line.strip()
        for line in (ROOT / "Containerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    known = {"FROM", "ENV", "WORKDIR", "COPY", "RUN", "USER", "EXPOSE", "ENTRYPOINT", "CMD"}
    instructions = [line.split()[0] for line in lines if not line.startswith(("&&", "PYTHON"))]
    assert instructions[0] == "FROM" and lines[0] == "FROM python:3.11-slim"
    assert set(instructions) <= known, instructions
    assert "COPY . /src" in lines
    assert any("pip install --no-cache-dir ." in line for line in lines)
    (entrypoint,) = [line for line in lines if line.startswith("ENTRYPOINT")]
    assert json.loads(entrypoint.split(None, 1)[1]) == ["gossipper"]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_local_script_runs_the_segments_against_a_uas_and_merges_them(
    tmp_path: pathlib.Path,
) -> None:
    script = ROOT / "deploy" / "run-segments-local.sh"
    subprocess.run(["sh", "-n", str(script)], check=True, timeout=30)
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        SEGMENTS="3",
        CALLS="31",
        RATE="40",
        PORT=str(_free_udp_port()),
        GOSSIPPER=f"{sys.executable} -m gossipper",
        # Each segment ends by itself even if the UAS stops answering.
        EXTRA="-timeout 60s",
    )
    done = subprocess.run(
        ["sh", str(script), str(tmp_path / "results")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    results = tmp_path / "results"
    shares = []
    for index in range(3):
        summary = json.loads((results / f"segment-{index}" / "summary.json").read_text())
        shares.append(summary["calls"]["total"])
    assert shares == [11, 10, 10]
    merged = json.loads((results / "merged" / "summary.json").read_text())
    assert merged["calls"]["total"] == merged["calls"]["successful"] == 31
    assert merged["exit_code"] == 0
    assert merged["rate"]["target_cps"] == pytest.approx(40.0)
    (stat,) = (results / "merged").glob("uac_*_.csv")
    rows = list(csv.reader(stat.read_text().splitlines(), delimiter=";"))
    header, last = rows[0], rows[-1]
    assert last[header.index("TotalCallCreated")] == "31"
    assert last[header.index("SuccessfulCall(C)")] == "31"
