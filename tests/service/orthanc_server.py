"""Start and stop a private Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) for a test.

Orthanc runs as a child process, never as the system service, with a configuration
generated into a temporary directory: HTTP on a free loopback port, the DICOM server
off, no remote access, no authentication, its storage in that directory and the
DICOMweb plugin loaded. Its output goes to a log file whose tail is shown on failure.
``scripts/install-system-deps`` installs both packages.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

_PLUGIN_NAME = "libOrthancDicomWeb.so"
_PLUGIN_DIRS = (Path("/usr/share/orthanc/plugins"), Path("/usr/lib/orthanc"))
# Proxy variables would send Orthanc's (libcurl) and our own loopback calls elsewhere.
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY")


class OrthancError(RuntimeError):
    """Orthanc did not start or misbehaved; the message ends with its log's tail."""


def find_orthanc() -> str | None:
    """The Orthanc executable (``/usr/sbin`` is not on every user's PATH)."""
    found = shutil.which("Orthanc")
    if found:
        return found
    fallback = Path("/usr/sbin/Orthanc")
    return str(fallback) if fallback.is_file() and os.access(fallback, os.X_OK) else None


def find_dicomweb_plugin() -> Path | None:
    """The DICOMweb plugin's shared object, as ``dpkg -L orthanc-dicomweb`` lists it."""
    dpkg = shutil.which("dpkg")
    if dpkg:
        listing = subprocess.run(
            [dpkg, "-L", "orthanc-dicomweb"], capture_output=True, text=True, check=False
        )
        candidates = [
            Path(line)
            for line in listing.stdout.splitlines()
            if "OrthancDicomWeb" in line and ".so" in line
        ]
        # Prefer the plugin folder's link, then any real file.
        candidates.sort(key=lambda path: (path.name != _PLUGIN_NAME, str(path)))
        for path in candidates:
            if path.is_file():
                return path
    for folder in _PLUGIN_DIRS:
        if (folder / _PLUGIN_NAME).is_file():
            return folder / _PLUGIN_NAME
    return None


def free_port() -> int:
    """A free loopback TCP port (free now; Orthanc binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def loopback_env() -> dict[str, str]:
    """This process's environment without proxy settings, so loopback stays loopback."""
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARIABLES}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


@dataclass
class OrthancServer:
    """A running Orthanc: its REST base URL, process and log."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    http: httpx.Client

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no Orthanc log)"
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, message: str) -> OrthancError:
        """An error whose message carries the tail of Orthanc's log."""
        return OrthancError(f"{message}\n--- Orthanc log (tail) ---\n{self.log_tail()}")


def orthanc_config(
    workdir: Path, *, http_port: int, plugin: Path, dicomweb_servers: dict[str, Any]
) -> dict[str, Any]:
    """A minimal private configuration: loopback HTTP only, no DICOM server, no auth."""
    storage = workdir / "storage"
    return {
        "Name": "ANONYMIZER-TEST",
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "StorageCompression": False,
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "SslEnabled": False,
        "DicomServerEnabled": False,
        "DicomPort": free_port(),
        "HttpTimeout": 60,
        "HttpsVerifyPeers": False,
        "HttpProxy": "",
        "SaveJobs": False,
        "ConcurrentJobs": 1,
        "Plugins": [str(plugin)],
        "DicomWeb": {
            "Enable": True,
            "Root": "/dicom-web/",
            "EnableWado": False,
            "Servers": dicomweb_servers,
        },
    }


@contextmanager
def running_orthanc(
    workdir: Path, *, dicomweb_servers: dict[str, Any], startup_timeout: float = 60.0
) -> Iterator[OrthancServer]:
    """Start Orthanc in ``workdir``, wait for ``/system``, and always stop it afterwards."""
    executable = find_orthanc()
    plugin = find_dicomweb_plugin()
    if executable is None or plugin is None:
        raise OrthancError("Orthanc or its DICOMweb plugin is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config_path = workdir / "orthanc.json"
    config = orthanc_config(
        workdir, http_port=port, plugin=plugin, dicomweb_servers=dicomweb_servers
    )
    config_path.write_text(json.dumps(config, indent=2))
    log_path = workdir / "orthanc.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [executable, "--verbose", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=loopback_env(),
            start_new_session=True,  # its own process group: stopped whole, signals stay ours
        )
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0, trust_env=False)
    server = OrthancServer(
        url=f"http://127.0.0.1:{port}", process=process, log_path=log_path, http=http
    )
    try:
        _wait_until_up(server, startup_timeout)
        yield server
    finally:
        http.close()
        _stop(process)


def _wait_until_up(server: OrthancServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise server.fail(f"Orthanc exited during start-up (code {server.process.returncode})")
        try:
            if server.http.get("/system", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise server.fail(f"Orthanc did not answer /system within {timeout:.0f} s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after a grace period; reap the process in all cases."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
