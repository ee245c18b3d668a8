"""The service as a real process: STOW-RS throughput against the CLI, and peak RSS on 1 GB.

(a) Throughput. A corpus of small real files (copies of pydicom's bundled test files with
    fake PHI planted and distinct Study/Series/SOP UIDs) goes once through the CLI
    (``anonymizer anonymize SRC DST --profile basic --throwaway-key``, timed from outside,
    so process start-up is included; start-up alone is measured too) and once through the
    service (``anonymizer serve`` in a subprocess, its own data directory, a key made with
    ``anonymizer keys create``), posted by 4 client threads with httpx, 10 instances per
    STOW-RS request. Target: service >= 0.8 x CLI.
(b) Memory. A fresh service process receives one STOW-RS request holding a single
    ~1 GB multi-frame instance, streamed from disk by a generator (the client never
    holds it). The server's own ``VmHWM`` (/proc/<pid>/status) is read after the answer.
    Target: < 300 MB.

Everything is written into one temporary directory, deleted at the end (the 1 GB file
included).

    .venv/bin/python benchmarks/bench_service.py [--copies 40] [--size-mb 1000] [--json out]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pydicom

if __package__ in (None, ""):  # run as a script: import `benchmarks.*` from the repository root
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.bench_memory import pixel_sha256  # noqa: E402
from benchmarks.corpus import MB, fake_phi, plant_phi, testdata, write_multiframe  # noqa: E402

THROUGHPUT_TARGET = 0.8
RSS_TARGET_MB = 300
CLIENTS = 4
BATCH = 10
BOUNDARY = "bench-service-boundary-0123456789"
CONTENT_TYPE = f'multipart/related; type="application/dicom"; boundary="{BOUNDARY}"'
# Small real files of several modalities and transfer syntaxes; all pass the pipeline.
SOURCES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_RLE.dcm",
    "MR_small_bigendian.dcm",
    "JPEG2000.dcm",
    "SC_rgb.dcm",
    "SC_rgb_small_odd.dcm",
    "rtdose.dcm",
    "liver.dcm",
    "emri_small.dcm",
)
_FRAME_BYTES = 512 * 512 * 2
_CHUNK = 1 << 20
_BIN = Path(sys.executable).parent


def anonymizer_command() -> list[str]:
    return [str(_BIN / "anonymizer")]


# -- corpus -------------------------------------------------------------------------------


def build_corpus(folder: Path, *, copies: int, seed: int) -> list[Path]:
    """``copies`` x ``len(SOURCES)`` files; each copy of the set is one study.

    UIDs are derived from ``seed`` and the copy number, so two corpora never share one.
    """
    folder.mkdir(parents=True, exist_ok=True)
    templates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in SOURCES:
            templates.append(pydicom.dcmread(testdata(name)))
    paths = []
    for copy in range(copies):
        study = f"2.25.{seed << 64 | copy}"
        for index, template in enumerate(templates):
            n = copy * len(templates) + index + 1
            ds = template.copy()
            plant_phi(ds, fake_phi(n))
            ds.StudyInstanceUID = study
            ds.SeriesInstanceUID = f"{study}.{index + 1}"
            ds.SOPInstanceUID = f"{study}.{index + 1}.{n}"
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            path = folder / f"{n:05d}_{Path(SOURCES[index]).stem}.dcm"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds.save_as(path)
            paths.append(path)
    return paths


# -- the CLI ------------------------------------------------------------------------------


def run_cli(src: Path, dst: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``anonymizer anonymize`` over ``src``, start-up included."""
    command = [
        *anonymizer_command(),
        "anonymize",
        str(src),
        str(dst),
        "--profile",
        "basic",
        "--throwaway-key",
        "--quiet",
        "--no-resume",
    ]
    before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"CLI failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, _children_cpu() - before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- the service --------------------------------------------------------------------------


@dataclass
class Service:
    url: str
    process: subprocess.Popen[bytes]
    token: str
    log: Path

    def vm(self, field: str) -> float:
        """``VmHWM`` / ``VmRSS`` of the server process in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {field} for pid {self.process.pid}")

    def cpu_seconds(self) -> float:
        """User + system CPU time so far of the server and its worker processes (its
        process group: it runs in a session of its own)."""
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with suppress(OSError):
                fields = stat.read_text().rpartition(")")[2].split()
                if int(fields[2]) == self.process.pid:
                    ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["ANONYMIZER_DATA_DIR"] = str(data_dir)
    return env


@contextmanager
def running_service(data_dir: Path, *, workers: int = 1) -> Iterator[Service]:
    """``anonymizer keys create`` then ``anonymizer serve`` on a free loopback port."""
    env = _env(data_dir)
    made = subprocess.run(
        [*anonymizer_command(), "keys", "create", "--tenant", "bench", "--scopes", "upload"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if made.returncode != 0:
        raise RuntimeError(f"keys create failed: {made.stderr[-2000:]}")
    token = made.stdout.strip().splitlines()[-1]
    port = _free_port()
    log = data_dir.parent / f"serve-{data_dir.name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *anonymizer_command(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    service = Service(url=f"http://127.0.0.1:{port}", process=process, token=token, log=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the service exited: {log.read_text()[-2000:]}")
            with suppress(httpx.TransportError):
                if httpx.get(f"{service.url}/healthz", timeout=2, trust_env=False).is_success:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the service did not start in 60 s")
            time.sleep(0.1)
        yield service
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


def stow_body(paths: list[Path]) -> bytes:
    """A dicomweb-client style body: CRLF before each delimiter, quoted boundary."""
    body = io.BytesIO()
    for path in paths:
        body.write(f"\r\n--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode())
        body.write(path.read_bytes())
    body.write(f"\r\n--{BOUNDARY}--".encode())
    return body.getvalue()


def post_batches(service: Service, batches: list[list[Path]], *, clients: int) -> float:
    """Post every batch with ``clients`` threads (one httpx client each); seconds taken."""
    local = threading.local()
    headers = {"Authorization": f"Bearer {service.token}", "Content-Type": CONTENT_TYPE}

    def post(batch: list[Path]) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=300, trust_env=False)
        response = client.post(
            f"{service.url}/dicomweb/studies", content=stow_body(batch), headers=headers
        )
        if response.status_code != 200:
            raise RuntimeError(f"STOW-RS answered {response.status_code}: {response.text[:500]}")
        stored = len(response.json()["00081199"]["Value"])
        if stored != len(batch):
            raise RuntimeError(f"{stored} of {len(batch)} instances stored")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(post, batches))
    return time.perf_counter() - started


def _service_round(
    work: Path, files: list[Path], warmup: list[Path], name: str, *, workers: int = 1
) -> tuple[float, float]:
    """A fresh service (new data directory), one warm-up request, then the timed posts.

    Returns the wall seconds of the posts and the server's CPU seconds meanwhile.
    """
    batches = [files[i : i + BATCH] for i in range(0, len(files), BATCH)]
    with running_service(work / name, workers=workers) as service:
        # The first request of each worker builds its anonymizer.
        post_batches(service, [warmup] * (2 * workers), clients=workers)
        cpu = service.cpu_seconds()
        seconds = post_batches(service, batches, clients=CLIENTS)
        cpu = service.cpu_seconds() - cpu
        stored = sum(1 for path in (work / name / "objects").rglob("*.dcm") if path.is_file())
    if stored != len(files) + len(warmup):
        raise RuntimeError(f"{stored} objects stored, {len(files) + len(warmup)} expected")
    shutil.rmtree(work / name)
    return seconds, cpu


def throughput(work: Path, *, copies: int, rounds: int, workers: int = 1) -> dict[str, Any]:
    """CLI and service in alternating order, ``rounds`` times each; medians compared."""
    files = build_corpus(work / "corpus", copies=copies, seed=0x5E41)
    warmup = build_corpus(work / "warmup", copies=1, seed=0x3A7)
    size = sum(path.stat().st_size for path in files)
    print(f"corpus: {len(files)} files, {size / MB:.1f} MB; {rounds} rounds")

    # CLI start-up alone: one file, after a first run has warmed the caches.
    one = work / "one"
    one.mkdir()
    shutil.copy(warmup[0], one / warmup[0].name)
    run_cli(one, work / "cli-one")
    startup, startup_cpu = run_cli(one, work / "cli-one-again")

    cli_times: list[float] = []
    cli_cpu: list[float] = []
    service_times: list[float] = []
    service_cpu: list[float] = []
    for number in range(rounds):

        def cli_round(number: int = number) -> None:
            seconds, cpu = run_cli(work / "corpus", work / f"cli-out-{number}")
            cli_times.append(seconds)
            cli_cpu.append(cpu)
            shutil.rmtree(work / f"cli-out-{number}")

        def service_round(number: int = number) -> None:
            seconds, cpu = _service_round(work, files, warmup, f"service-{number}", workers=workers)
            service_times.append(seconds)
            service_cpu.append(cpu)

        order = (cli_round, service_round) if number % 2 == 0 else (service_round, cli_round)
        for run in order:
            run()
        print(
            f"round {number + 1}: CLI {len(files) / cli_times[-1]:.1f} files/s "
            f"({1000 * cli_cpu[-1] / len(files):.1f} ms CPU per file, start-up included), "
            f"service {len(files) / service_times[-1]:.1f} instances/s "
            f"({1000 * service_cpu[-1] / len(files):.1f} ms server CPU per instance)"
        )
    cli_seconds = statistics.median(cli_times)
    seconds = statistics.median(service_times)
    cli_rate = len(files) / cli_seconds
    cli_net = len(files) / max(cli_seconds - startup, 1e-9)
    rate = len(files) / seconds
    return {
        "files": len(files),
        "megabytes": size / MB,
        "rounds": rounds,
        "cli_seconds": cli_times,
        "cli_startup_seconds": startup,
        "cli_startup_cpu_seconds": startup_cpu,
        "cli_cpu_seconds": cli_cpu,
        "service_cpu_seconds": service_cpu,
        "cli_cpu_ms_per_file": 1000 * statistics.median(cli_cpu) / len(files),
        "cli_cpu_ms_per_file_without_startup": 1000
        * (statistics.median(cli_cpu) - startup_cpu)
        / len(files),
        "service_cpu_ms_per_instance": 1000 * statistics.median(service_cpu) / len(files),
        "cli_files_per_s": cli_rate,
        "cli_files_per_s_without_startup": cli_net,
        "service_seconds": service_times,
        "service_instances_per_s": rate,
        "clients": CLIENTS,
        "batch": BATCH,
        "ratio": rate / cli_rate,
        "ratio_without_cli_startup": rate / cli_net,
    }


# -- memory -------------------------------------------------------------------------------


def large_body(path: Path) -> tuple[Iterator[bytes], int]:
    """One part holding the file at ``path``, read from disk 1 MiB at a time."""
    head = f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)

    def chunks() -> Iterator[bytes]:
        yield head
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk
        yield tail

    return chunks(), length


def _stored_pixels(data_dir: Path, length: int) -> str | None:
    stored = [path for path in (data_dir / "objects").rglob("*.dcm") if path.is_file()]
    if len(stored) != 1:
        raise RuntimeError(f"{len(stored)} objects stored, 1 expected")
    return pixel_sha256(stored[0], length)


def _large_round(work: Path, source: Path, *, chunked: bool, name: str) -> dict[str, Any]:
    """One fresh service, one STOW-RS request with the large file; the server's peak RSS."""
    with running_service(work / name) as service:
        before = service.vm("VmHWM")
        chunks, length = large_body(source)
        headers = {"Authorization": f"Bearer {service.token}", "Content-Type": CONTENT_TYPE}
        if not chunked:
            headers["Content-Length"] = str(length)
        started = time.perf_counter()
        with httpx.Client(timeout=600, trust_env=False) as client:
            response = client.post(
                f"{service.url}/dicomweb/studies", content=chunks, headers=headers
            )
        seconds = time.perf_counter() - started
        peak = service.vm("VmHWM")
        now = service.vm("VmRSS")
    if response.status_code != 200:
        raise RuntimeError(f"STOW-RS answered {response.status_code}: {response.text[:500]}")
    return {
        "transfer": "chunked" if chunked else "content-length",
        "seconds": seconds,
        "vmhwm_before_mb": before,
        "vmhwm_after_mb": peak,
        "vmrss_after_mb": now,
    }


def memory(work: Path, *, size_mb: int) -> dict[str, Any]:
    frames = max(1, size_mb * MB // _FRAME_BYTES)
    source = work / "large" / "large.dcm"
    length = write_multiframe(source, frames=frames, values=fake_phi(9001))
    size = source.stat().st_size
    print(f"large instance: {frames} frames, {size / MB:.0f} MB")
    rounds = []
    try:
        expected = pixel_sha256(source, length)
        for chunked in (False, True):
            name = f"memory-{'chunked' if chunked else 'length'}"
            result = _large_round(work, source, chunked=chunked, name=name)
            result["pixels_intact"] = _stored_pixels(work / name, length) == expected
            shutil.rmtree(work / name)
            rounds.append(result)
            print(
                f"{size / MB:.0f} MB STOW-RS ({result['transfer']}): {result['seconds']:.1f} s, "
                f"server VmHWM {result['vmhwm_before_mb']:.0f} MiB before, "
                f"{result['vmhwm_after_mb']:.0f} MiB after; pixel data intact: "
                f"{result['pixels_intact']}"
            )
    finally:
        source.unlink(missing_ok=True)
    return {"bytes": size, "frames": frames, "rounds": rounds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=40, help="copies of the source set")
    parser.add_argument("--rounds", type=int, default=3, help="CLI and service runs each")
    parser.add_argument("--size-mb", type=int, default=1000, help="size of the large instance")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--workers", type=int, default=1, help="service worker processes (throughput run)"
    )
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-service-"))
    results: dict[str, Any] = {"cpus": os.cpu_count()}
    try:
        if not args.skip_throughput:
            results["throughput"] = throughput(
                work, copies=args.copies, rounds=args.rounds, workers=args.workers
            )
        if not args.skip_memory:
            results["memory"] = memory(work, size_mb=args.size_mb)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print("| measure | result | target | met |")
    print("| --- | --- | --- | --- |")
    if "throughput" in results:
        t = results["throughput"]
        print(
            f"| STOW-RS, {t['clients']} clients x {t['batch']} per request | "
            f"{t['service_instances_per_s']:.1f} instances/s | "
            f">= {THROUGHPUT_TARGET} x CLI | {'yes' if t['ratio'] >= THROUGHPUT_TARGET else 'no'} |"
        )
        print(
            f"| CLI `anonymize --profile basic` ({t['files']} files) | "
            f"{t['cli_files_per_s']:.1f} files/s ({t['cli_files_per_s_without_startup']:.1f} "
            f"without start-up) | | |"
        )
        print(
            f"| CPU per object | service {t['service_cpu_ms_per_instance']:.1f} ms, "
            f"CLI {t['cli_cpu_ms_per_file']:.1f} ms "
            f"({t['cli_cpu_ms_per_file_without_startup']:.1f} without start-up) | | |"
        )
        print(
            f"| service / CLI | {t['ratio']:.2f} "
            f"({t['ratio_without_cli_startup']:.2f} against the CLI without start-up) | "
            f">= {THROUGHPUT_TARGET} | |"
        )
    if "memory" in results:
        m = results["memory"]
        for r in m["rounds"]:
            met = r["vmhwm_after_mb"] < RSS_TARGET_MB and r["pixels_intact"]
            print(
                f"| server VmHWM, one {m['bytes'] / MB:.0f} MB instance ({r['transfer']}) | "
                f"{r['vmhwm_after_mb']:.0f} MiB ({r['seconds']:.1f} s) | "
                f"< {RSS_TARGET_MB} MB | {'yes' if met else 'no'} |"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
