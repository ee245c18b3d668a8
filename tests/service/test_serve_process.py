"""``anonymizer serve`` as the quick start runs it: a real process on a loopback port.

One process, and ``--workers 2`` (uvicorn's worker processes): the banner says where data
goes and how to make the first key, a key made meanwhile with ``anonymizer keys create``
works, an upload is stored, the request log lines are JSON with request ids and without
the upload's identifying values, and SIGTERM stops it cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from privacy_helpers import ct

pytestmark = pytest.mark.integration

ANONYMIZER = str(Path(sys.executable).parent / "anonymizer")
RAW_ID = "FAKE-SERVE-PROCESS-0001"


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    env: dict[str, str]
    stdout: Path
    stderr: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(params=[1, 2], ids=["one-process", "two-workers"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["ANONYMIZER_DATA_DIR"] = str(tmp_path / "data")
    port = _free_port()
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    command = [ANONYMIZER, "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(request.param)]
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            command, stdout=out, stderr=err, env=env, text=True, start_new_session=True
        )
    served = Served(f"http://127.0.0.1:{port}", process, env, stdout, stderr)
    try:
        _wait_until_healthy(served)
        yield served
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _wait_until_healthy(served: Served) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            pytest.fail(f"serve exited early: {served.stderr.read_text()[-2000:]}")
        try:
            if httpx.get(f"{served.url}/healthz", timeout=2, trust_env=False).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("serve did not answer /healthz within 60 s")


def test_serve_starts_stores_logs_json_and_stops(served: Served) -> None:
    banner = served.stdout.read_text()
    assert f"data directory: {served.env['ANONYMIZER_DATA_DIR']}" in banner
    assert "no API key yet: anonymizer keys create" in banner

    made = subprocess.run(  # noqa: S603
        [ANONYMIZER, "keys", "create", "--tenant", "clinic-a", "--scopes", "upload,read"],
        env=served.env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = made.stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=served.url, trust_env=False, timeout=60) as client:
        assert client.post("/v1/uploads").status_code == 401
        stored = client.post(
            "/v1/uploads",
            files=[("files", ("scan.dcm", ct(patient_id=RAW_ID, study="7", sop="71")))],
            headers={"Authorization": f"Bearer {token}"},
        )
    assert stored.status_code == 201, stored.text
    result = stored.json()["files"][0]
    assert result["status"] == "stored"
    objects = Path(served.env["ANONYMIZER_DATA_DIR"]) / "objects"
    assert (objects / result["key"]).is_file()

    served.process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal (one process) or exits 0.
    assert served.process.wait(timeout=30) in (0, -signal.SIGTERM)
    lines = [json.loads(line) for line in served.stderr.read_text().splitlines() if line]
    requests = [line for line in lines if line["logger"] == "app.access"]
    assert any(line["message"].startswith("POST /v1/uploads 201") for line in requests)
    assert all(len(line.get("request_id", "")) == 16 for line in requests)
    assert any(line["message"].startswith("Finished server process") for line in lines)
    assert RAW_ID not in served.stderr.read_text() + served.stdout.read_text()
