"""gunicorn with ``deploy/gunicorn.conf.py`` and two workers, and nginx in front when installed:
metrics added up over the workers, JSON logs, request ids, and what the proxy keeps out."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from certsvc.bootstrap import initialise
from certsvc.config import Settings
from certsvc.db.database import Database
from tests.operations.test_deploy import GUNICORN_CONF, ROOT, nginx_prefix

# a token that cannot be one (it starts with 0): refused before verification, and counted
REFUSED = "/v/0" + "7" * 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> Answer:
    request = urllib.request.Request(url, headers=headers or {}, data=data)  # noqa: S310
    context = ssl._create_unverified_context()  # noqa: S323 - the test's own certificate
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as answer:  # noqa: S310
            return Answer(answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


def wait_for(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(600):  # each try waits for a refused connect or a sleep: a bounded loop
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            fetch(url)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Served:
    base: str
    port: int
    log: Path
    multiproc: Path
    process: subprocess.Popen[bytes]

    def log_lines(self) -> list[str]:
        """The complete lines written so far (a line being written is left out)."""
        text = self.log.read_text()
        complete = text[: text.rfind("\n") + 1]
        return [line for line in complete.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{folder / 'certsvc.sqlite3'}"
    settings = Settings.from_env({}, data_dir=folder / "data", database_url=url)
    db = Database(url)
    initialise(db, settings, actor="test")
    db.dispose()
    port = free_port()
    multiproc = folder / "prometheus"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CERTSVC_DATA_DIR": str(folder / "data"),
        "CERTSVC_DATABASE_URL": url,
        "CERTSVC_GUNICORN_BIND": f"127.0.0.1:{port}",
        "CERTSVC_GUNICORN_WORKERS": "2",
        "CERTSVC_GUNICORN_THREADS": "2",
        "CERTSVC_LOG_FORMAT": "json",
        "CERTSVC_METRICS_ENABLED": "true",
        "CERTSVC_WEB_PROXY_HOPS": "1",
        "CERTSVC_WEB_RATE_LIMITS": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    multiproc.mkdir()
    (multiproc / "counter_1.db").write_bytes(b"stale")  # a former master's: removed at start
    log = folder / "gunicorn.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)],
            env=env,
            cwd=folder,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz", process, "gunicorn")
        yield Served(base, port, log, multiproc, process)
    finally:
        stop(process)


def worker_pids(folder: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[1] for path in folder.glob("*.db")}


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = fetch(f"{base}/metrics")
    assert answer.status == 200, answer.status
    found = {}
    for family in text_string_to_metric_families(answer.body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_add_up_over_both_workers(served: Served) -> None:
    assert "1" not in worker_pids(served.multiproc)  # the stale file went at start
    sent = 0

    def send(count: int) -> None:
        nonlocal sent
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda _: fetch(served.base + REFUSED), range(count)))
        assert {answer.status for answer in answers} == {400}
        sent += count

    send(12)
    first = worker_pids(served.multiproc)
    if len(first) == 1:
        # one worker took every connection: pause it, and the other must answer
        (paused,) = first
        os.kill(int(paused), signal.SIGSTOP)
        try:
            send(12)
        finally:
            os.kill(int(paused), signal.SIGCONT)
    send(12)
    pids = worker_pids(served.multiproc)
    assert len(pids) == 2, pids
    found = scrape(served.base)
    page = (("endpoint", "pages.token_page"), ("status", "400"))
    assert found[("certsvc_http_responses_total", page)] == sent
    refused = (("channel", "token"), ("verdict", "refused"))
    assert found[("certsvc_verifications_total", refused)] == sent
    latency = (("endpoint", "pages.token_page"), ("method", "GET"))
    assert found[("certsvc_http_request_duration_seconds_count", latency)] == sent
    # the same sum whichever worker answers the scrape
    assert all(
        scrape(served.base)[("certsvc_verifications_total", refused)] == sent for _ in range(4)
    )


def test_metrics_are_refused_to_a_client_behind_the_proxy(served: Served) -> None:
    forwarded = fetch(f"{served.base}/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status == 404 and b"certsvc_" not in forwarded.body


def test_every_line_is_json_with_request_ids_and_no_token(served: Served) -> None:
    answer = fetch(served.base + REFUSED, headers={"X-Request-ID": "probe-42"})
    assert answer.headers["X-Request-ID"] == "probe-42"
    made = fetch(f"{served.base}/healthz").headers["X-Request-ID"]
    for _ in range(600):  # the lines are written by the workers: wait until ours is there
        if "probe-42" in served.log.read_text() and made in served.log.read_text():
            break
        time.sleep(0.05)
    lines = [json.loads(line) for line in served.log_lines()]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["logger"] == "gunicorn.error" for line in lines)  # gunicorn's own, too
    assert not [line for line in lines if line["logger"].startswith("alembic")]
    probe = [line for line in lines if line.get("request_id") == "probe-42"]
    assert [(p["endpoint"], p["status"], p["method"]) for p in probe] == [
        ("pages.token_page", 400, "GET")
    ]
    assert "7777777777" not in served.log.read_text()


def test_nginx_in_front(served: Served, tmp_path: Path) -> None:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (scripts/setup.sh installs it: apt nginx)")
    https, plain = free_port(), free_port()
    main = nginx_prefix(
        tmp_path,
        replace={
            "    listen 443 ssl http2;\n    listen [::]:443 ssl http2;\n": (
                f"    listen 127.0.0.1:{https} ssl;\n"
            ),
            "    listen 80;\n    listen [::]:80;\n": f"    listen 127.0.0.1:{plain};\n",
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{served.port};",
            "client_max_body_size 5m;": "client_max_body_size 1m;",
        },
    )
    nginx = subprocess.Popen(
        ["nginx", "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log"),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    edge = f"https://127.0.0.1:{https}"
    try:
        wait_for(f"{edge}/healthz", nginx, "nginx")
        # /metrics: gunicorn would serve it to 127.0.0.1, but nginx never passes it on
        assert fetch(f"{served.base}/metrics").status == 200
        assert fetch(f"{edge}/metrics").status == 404
        assert fetch(f"{edge}/metrics/").status == 404
        # the page through the proxy; the request id nginx made comes back from the app
        page = fetch(edge + REFUSED)
        assert page.status == 400 and len(page.headers["X-Request-ID"]) == 32
        kept = fetch(edge + REFUSED, headers={"X-Request-ID": "edge-7"})
        assert kept.headers["X-Request-ID"] == "edge-7"
        # a body over the limit is refused by nginx before gunicorn sees it
        big = fetch(f"{edge}/api/v1/verify/pdf", data=b"%PDF-" + b"0" * (1024 * 1024 + 1))
        assert big.status == 413
        found = scrape(served.base)
        assert not [key for key in found if ("endpoint", "api.verify_pdf") in key[1]]
        access = (tmp_path / "certsvc.access.log").read_text().splitlines()
        entries = [json.loads(line) for line in access]
        assert entries and all(entry["method"] in ("GET", "POST") for entry in entries)
        assert [e["status"] for e in entries if e["request_id"] == "edge-7"] == [400]
        assert "7777777777" not in "\n".join(access)
    finally:
        stop(nginx)


def _sockets(pid: int) -> int:
    """How many sockets process ``pid`` holds open."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except FileNotFoundError:  # closed while counted
            continue
    return count


def _listening(port: int) -> int:
    """How many sockets listen on 127.0.0.1:``port`` (from /proc/net/tcp)."""
    wanted = f"0100007F:{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1] == wanted and row.split()[3] == "0A")


def test_connections_spread_over_the_workers(served: Served) -> None:
    """Each worker listens on its own socket (SO_REUSEPORT) and the kernel spreads new
    connections over them: 16 connections made at once never all end on one worker (with one
    shared socket, 15 or 16 of them on one worker happened often)."""
    children = Path(f"/proc/{served.process.pid}/task/{served.process.pid}/children")
    if not children.exists():
        pytest.skip("needs Linux's /proc/PID/task/PID/children to find the workers")
    workers = [int(pid) for pid in children.read_text().split()]
    assert len(workers) == 2
    assert _listening(served.port) == 2  # one per worker, none in the master
    before = {pid: _sockets(pid) for pid in workers}
    held = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(16)]
    try:
        deadline = time.monotonic() + 10
        taken: list[int] = []
        while time.monotonic() < deadline:
            taken = sorted(_sockets(pid) - before[pid] for pid in workers)
            if sum(taken) >= 16:
                break
            time.sleep(0.05)
        assert sum(taken) == 16 and min(taken) >= 1, taken  # all 16 on one: p = 2 / 2**16
    finally:
        for connection in held:
            connection.close()
