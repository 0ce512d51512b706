#!/usr/bin/env python3
"""Load-test the web service under gunicorn: a hello-world endpoint against QR-token
verification of a real issued document, measured in the same run.

    .venv/bin/python scripts/bench_web.py
    .venv/bin/python scripts/bench_web.py --connections 20 --duration 15 --workers 2 --threads 4
    .venv/bin/python scripts/bench_web.py --postgres postgresql://postgres@127.0.0.1/test

It builds a bureau with the demo (keys, trust list, a batch of signed documents, the
transparency log) in a temporary folder (SQLite; with --postgres a throwaway database on that
server, dropped afterwards), starts gunicorn with the deployment's settings
(``deploy/gunicorn.conf.py``: gthread workers) on a free 127.0.0.1 port with rate limits off,
and runs ``wrk`` (``apt-get install wrk``; the setup script installs it) for a bounded time
against ``/healthz`` (hello world), the API's token verification and the QR landing page, each
request verifying the next of the issued documents' tokens in turn (a wrk Lua script), so that
nothing is answered from a cache. For each it prints requests per second, p50 and p99 latency
and errors (non-2xx answers and socket errors), then the ratio of token verification to hello
world. The three are measured in turn ``--rounds`` times (a shared machine's speed drifts over
minutes, so each ratio compares loads run a minute apart) and the median ratio is printed last.
Targets (issue 6): ratio at least 50%, p99 under 50 ms, no errors.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click
from benchlib import throwaway_postgres
from sqlmodel import col, select

from certsvc.cli.context import CliContext
from certsvc.config import Settings
from certsvc.demo import run_demo
from certsvc.issuance.models import Document, DocumentStatus

ROOT = Path(__file__).resolve().parent.parent
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Load:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    def line(self) -> str:
        return (
            f"{self.name:<22} {self.requests_per_second:>9,.0f} req/s   p50 {self.p50_ms:6.2f} ms"
            f"   p99 {self.p99_ms:6.2f} ms   {self.requests:>7,} requests   "
            f"errors {self.errors} (non-2xx {self.non_2xx}, socket {self.socket_errors})"
        )


def _milliseconds(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"wrk printed a latency {text!r} this script cannot read")
    return float(match[1]) * _UNITS[match[2]]


def parse_wrk(name: str, output: str) -> Load:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output)
        if match is None:
            raise RuntimeError(f"wrk's output has no {pattern!r}:\n{output}")
        return match

    socket_errors = 0
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors is not None:
        socket_errors = sum(int(value) for value in errors.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Load(
        name=name,
        requests_per_second=float(find(r"Requests/sec:\s+([0-9.]+)")[1]),
        p50_ms=_milliseconds(find(r"\s50%\s+([0-9.]+\w+)")[1]),
        p99_ms=_milliseconds(find(r"\s99%\s+([0-9.]+\w+)")[1]),
        requests=int(find(r"(\d+) requests in")[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=socket_errors,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def prepare(folder: Path, database_url: str, rows: int) -> tuple[dict[str, str], list[str]]:
    """Issue the demo's documents; the environment for gunicorn and every issued token."""
    environment = {
        "CERTSVC_DATA_DIR": str(folder / "data"),
        "CERTSVC_KEY_DIR": str(folder / "keys"),
        "CERTSVC_DATABASE_URL": database_url,
        "CERTSVC_ACTOR": "bench",
    }
    settings = Settings.from_env(environment)
    ctx = CliContext(settings=settings, actor_override="bench")
    run_demo(ctx, rows=rows, seed=7)
    with ctx.db.session() as session:
        tokens = [
            token
            for token in session.exec(
                select(Document.token)
                .where(Document.status == DocumentStatus.ISSUED)
                .order_by(col(Document.id))
            )
            if token
        ]
    ctx.db.dispose()
    if not tokens:
        raise RuntimeError("the demo issued no document")
    return environment, tokens


def rotation_script(folder: Path, name: str, prefix: str, tokens: list[str]) -> Path:
    """A wrk Lua script asking for ``prefix + token`` for each token in turn, so that every
    request verifies a different document than the one before (no answer is reused)."""
    paths = ",\n".join(f'  "{prefix}{token}"' for token in tokens)
    script = folder / f"{name}.lua"
    script.write_text(
        f"local paths = {{\n{paths}\n}}\n"
        "local counter = 0\n"
        "request = function()\n"
        "  counter = counter + 1\n"
        '  return wrk.format("GET", paths[(counter % #paths) + 1])\n'
        "end\n",
        encoding="utf-8",
    )
    return script


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - our own server
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} within {seconds:.0f} s")


def wrk(
    name: str,
    url: str,
    *,
    connections: int,
    threads: int,
    duration: int,
    warmup: int,
    script: Path | None = None,
) -> Load:
    base = ["wrk", f"-t{threads}", f"-c{connections}", "--latency", "--timeout", "5s"]
    if script is not None:
        base += ["-s", str(script)]
    if warmup:
        subprocess.run([*base, f"-d{warmup}s", url], check=True, capture_output=True)  # noqa: S603
    done = subprocess.run(  # noqa: S603
        [*base, f"-d{duration}s", url], check=True, capture_output=True, text=True
    )
    return parse_wrk(name, done.stdout)


@click.command()
@click.option("--connections", default=20, show_default=True, help="wrk connections")
@click.option("--duration", default=15, show_default=True, help="seconds per measurement")
@click.option("--warmup", default=3, show_default=True, help="seconds of load before each")
@click.option("--wrk-threads", default=2, show_default=True)
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes")
@click.option("--threads", default=4, show_default=True, help="threads per gunicorn worker")
@click.option("--rows", default=30, show_default=True, help="roster rows the demo issues")
@click.option("--postgres", default="", help="PostgreSQL server URL (default: SQLite)")
@click.option(
    "--rounds",
    default=3,
    show_default=True,
    help="hello, API, page measured in turn this many times (a shared machine drifts)",
)
def main(
    connections: int,
    duration: int,
    warmup: int,
    wrk_threads: int,
    workers: int,
    threads: int,
    rows: int,
    postgres: str,
    rounds: int,
) -> None:
    if shutil.which("wrk") is None:
        raise click.ClickException("wrk is not installed: run scripts/setup.sh (apt wrk)")
    with tempfile.TemporaryDirectory(prefix="certsvc-bench-web-") as temporary:
        folder = Path(temporary)
        with (
            throwaway_postgres(postgres)
            if postgres
            else _nothing(f"sqlite:///{folder / 'certsvc.sqlite3'}") as database_url
        ):
            environment, tokens = prepare(folder, database_url, rows)
            scripts = {
                "api": rotation_script(folder, "api", "/api/v1/verify/token/", tokens),
                "page": rotation_script(folder, "page", "/V/", tokens),
            }
            print(f"{len(tokens)} issued documents; each request verifies the next one's token")
            run(
                environment,
                tokens[0],
                scripts,
                connections,
                duration,
                warmup,
                wrk_threads,
                workers,
                threads,
                rounds,
            )


@contextmanager
def _nothing(value: str) -> Iterator[str]:
    yield value


def run(
    environment: dict[str, str],
    token: str,
    scripts: dict[str, Path],
    connections: int,
    duration: int,
    warmup: int,
    wrk_threads: int,
    workers: int,
    threads: int,
    rounds: int,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **environment,
        "CERTSVC_PUBLIC_BASE_URL": base,
        "CERTSVC_WEB_RATE_LIMITS": "false",  # the load comes from one address
        "CERTSVC_LOG_REQUESTS": "false",  # no line per request on this terminal
    }
    env.update(
        CERTSVC_GUNICORN_BIND=f"127.0.0.1:{port}",
        CERTSVC_GUNICORN_WORKERS=str(workers),
        CERTSVC_GUNICORN_THREADS=str(threads),
        CERTSVC_LOG_LEVEL="WARNING",
    )
    # the settings a deployment runs with (deploy/gunicorn.conf.py: gthread, gc.freeze, …)
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    server = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603
    try:
        wait_until_up(f"{base}/healthz", server)
        with urllib.request.urlopen(f"{base}/api/v1/verify/token/{token}") as answer:  # noqa: S310
            verdict = answer.read().decode()
        if '"verdict":"genuine"' not in verdict:
            raise RuntimeError(f"the token does not verify as genuine: {verdict[:300]}")
        print(
            f"gunicorn -c deploy/gunicorn.conf.py (gthread, {workers} workers × {threads} threads, "
            f"a listening socket each); wrk -t{wrk_threads} "
            f"-c{connections} -d{duration}s (after {warmup} s warm-up); {os.cpu_count()} CPUs"
        )
        options: dict[str, int] = {
            "connections": connections,
            "threads": wrk_threads,
            "duration": duration,
            "warmup": warmup,
        }
        ratios: dict[str, list[float]] = {"api": [], "page": []}
        for round_number in range(1, rounds + 1):
            if rounds > 1:
                print(f"round {round_number} of {rounds}")
            hello = wrk("hello (/healthz)", f"{base}/healthz", script=None, **options)
            print(hello.line())
            loads = {
                "api": wrk("token, API (JSON)", base, script=scripts["api"], **options),
                "page": wrk("token, page (/V/…)", base, script=scripts["page"], **options),
            }
            for key, load in loads.items():
                print(load.line())
                ratios[key].append(load.requests_per_second / hello.requests_per_second)
            for load in loads.values():
                ratio = load.requests_per_second / hello.requests_per_second
                verdicts = [
                    f"ratio {ratio:.0%} {'≥' if ratio >= 0.5 else '<'} 50%",
                    f"p99 {load.p99_ms:.1f} ms {'<' if load.p99_ms < 50 else '≥'} 50 ms",
                    f"errors {load.errors}",
                ]
                print(f"{load.name:<22} vs hello: " + ", ".join(verdicts))
        if rounds > 1:
            for key, name in (("api", "token, API (JSON)"), ("page", "token, page (/V/…)")):
                found = ", ".join(f"{ratio:.0%}" for ratio in ratios[key])
                print(
                    f"{name:<22} ratio to hello, median of {rounds} rounds: "
                    f"{statistics.median(ratios[key]):.0%} (rounds: {found})"
                )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
