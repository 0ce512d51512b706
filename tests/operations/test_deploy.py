"""The files under ``deploy/``: each checked by the tool that will read it, when installed."""

from __future__ import annotations

import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import pytest

from certsvc.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
GUNICORN_CONF = DEPLOY / "gunicorn.conf.py"
NGINX_CONF = DEPLOY / "nginx" / "certsvc.conf"
UNITS = DEPLOY / "systemd"
VENV_BIN = "/opt/certsvc/.venv/bin/"


def gunicorn(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,  # a gunicorn that does not stop is a failure, not a hang
    )


def test_gunicorn_accepts_the_configuration_and_loads_the_app(tmp_path: Path) -> None:
    env = {"CERTSVC_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    done = gunicorn(
        "--check-config", "-c", str(GUNICORN_CONF), "certsvc.web:create_app()", env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    printed = gunicorn("--print-config", "-c", str(GUNICORN_CONF), env=env, cwd=ROOT)
    assert re.search(
        r"^worker_class\s+= certsvc.web.gunicorn_worker.ThreadWorker$", printed.stdout, re.M
    )
    assert re.search(r"^preload_app\s+= False$", printed.stdout, re.M)
    assert re.search(r"^accesslog\s+= None$", printed.stdout, re.M)
    assert re.search(r"^reuse_port\s+= True$", printed.stdout, re.M)
    for hook in ("on_starting", "post_worker_init", "child_exit"):
        assert re.search(rf"^{hook}\s+= <{hook}\(\)>$", printed.stdout, re.M), hook

    configured = gunicorn(
        "--print-config",
        "-c",
        str(GUNICORN_CONF),
        env={
            **env,
            "CERTSVC_GUNICORN_WORKERS": "3",
            "CERTSVC_GUNICORN_THREADS": "8",
            "CERTSVC_GUNICORN_BIND": "127.0.0.1:8100, 10.0.1.11:8100",
        },
        cwd=ROOT,
    )
    assert re.search(r"^workers\s+= 3$", configured.stdout, re.M)
    assert re.search(r"^threads\s+= 8$", configured.stdout, re.M)
    assert "['127.0.0.1:8100', '10.0.1.11:8100']" in configured.stdout


@pytest.mark.parametrize(
    ("name", "value", "phrase"),
    [
        ("CERTSVC_GUNICORN_WORKERS", "two", "CERTSVC_GUNICORN_WORKERS='two' is not a whole number"),
        ("CERTSVC_GUNICORN_THREADS", "0", "CERTSVC_GUNICORN_THREADS must be at least 1"),
    ],
)
def test_a_bad_gunicorn_setting_is_named(
    tmp_path: Path, name: str, value: str, phrase: str
) -> None:
    env = {"CERTSVC_DATA_DIR": str(tmp_path / "data"), name: value}
    done = gunicorn("--check-config", "-c", str(GUNICORN_CONF), env=env, cwd=ROOT)
    assert done.returncode != 0
    assert phrase in done.stdout + done.stderr


def test_the_example_environment_is_valid_and_holds_no_secret() -> None:
    lines = (DEPLOY / "certsvc.env.example").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    known = {f"CERTSVC_{f.name.upper()}" for f in fields(Settings)}
    for name in env:
        if name.startswith("CERTSVC_") and not name.startswith("CERTSVC_GUNICORN_"):
            assert name in known, name
    settings = Settings.from_env(env)  # every value passes the checks
    assert settings.metrics_enabled and settings.log_format == "json"
    assert settings.web_proxy_hops == 1
    for name, value in env.items():
        assert not re.search(r"(PASS|TOKEN|SECRET|PIN|KEY)$", name), name
        assert not re.search(r"://[^/@]*:[^/@]*@", value), name  # no password in a URL


def _nginx_directives(location: str) -> str:
    text = NGINX_CONF.read_text()
    match = re.search(r"location " + re.escape(location) + r" \{(.*?)\}", text, re.S)
    assert match is not None, location
    return match.group(1)


def test_nginx_limits_bodies_like_the_app_and_never_passes_metrics_on() -> None:
    text = NGINX_CONF.read_text()
    size = re.search(r"client_max_body_size (\d+)m;", text)
    assert size is not None and int(size[1]) * 1024 * 1024 == Settings().web_max_upload_bytes
    metrics = _nginx_directives("^~ /metrics")
    assert "return 404;" in metrics and "proxy_pass" not in metrics
    for location in ("~ ^/(v|V)/", "= /verify", "= /lookup", "/api/"):
        assert "limit_req zone=certsvc_verify" in _nginx_directives(location), location
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
    # the access log: no URL (a QR token), query string (a name) or client address
    log_format = text[text.index("log_format") : text.index("server {")]
    for harmless in ("$request_method", "$request_time", "$request_id"):
        log_format = log_format.replace(harmless, "")
    for leaky in ("$request", "$uri", "$args", "$query_string", "$remote_addr", "$http_"):
        assert leaky not in log_format, leaky


def nginx_prefix(folder: Path, *, replace: dict[str, str] | None = None) -> Path:
    """An nginx prefix in ``folder``: the deploy config with its placeholders pointing there,
    a throw-away certificate, and a main file that includes it; the main file's path."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem"),
         "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    text = NGINX_CONF.read_text()
    text = text.replace("/etc/ssl/certsvc/", f"{folder}/").replace("/var/log/nginx/", f"{folder}/")
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    (folder / "certsvc.conf").write_text(text)
    main = folder / "nginx.conf"
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers reach the test folder
    main.write_text(
        f"{user}pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {folder}/body;\n  proxy_temp_path {folder}/proxy;\n"
        f"  include {folder}/certsvc.conf;\n}}\n"
    )
    return main


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (scripts/setup.sh installs it: apt nginx)")
    main = nginx_prefix(tmp_path)
    done = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (it comes with systemd)")
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "gunicorn").exists() or not (bin_dir / "certsvc").exists():
        pytest.skip(f"gunicorn and certsvc are not installed beside {sys.executable}")
    names = []
    for unit in UNITS.iterdir():
        text = unit.read_text().replace(VENV_BIN, f"{bin_dir}/")
        name = unit.name.replace("@.", "@1.")  # a template is checked as an instance
        (tmp_path / name).write_text(text)
        names.append(str(tmp_path / name))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(names)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # unknown keys are only warnings: none


def test_the_units_run_what_the_layout_says() -> None:
    web = (UNITS / "certsvc-web.service").read_text()
    assert f"ExecStart={VENV_BIN}gunicorn -c /opt/certsvc/deploy/gunicorn.conf.py" in web
    assert "Environment=PROMETHEUS_MULTIPROC_DIR=/run/certsvc-web" in web
    assert "RuntimeDirectory=certsvc-web" in web  # emptied at each start
    assert "InaccessiblePaths=-/etc/certsvc/keys" in web  # the web never holds keys
    worker = (UNITS / "certsvc-worker@.service").read_text()
    assert re.search(r"^ExecStart=\S+/certsvc .*\bworker\b.*--passphrase-file %d/", worker, re.M)
    assert "LoadCredential=signer.pass:" in worker
    assert not re.search(r"^Environment=.*(PASS|PIN)", worker, re.M)
    publish = (UNITS / "certsvc-status-publish.service").read_text()
    assert re.search(r"^ExecStart=\S+/certsvc .*status publish --if-due", publish, re.M)
    assert "Type=oneshot" in publish
    timer = (UNITS / "certsvc-status-publish.timer").read_text()
    assert "OnCalendar=hourly" in timer and "Persistent=true" in timer


def test_setup_installs_nginx() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    packages = setup[setup.index("SYSTEM_PACKAGES=(") : setup.index(")", setup.index("SYSTEM_"))]
    assert re.search(r"\bnginx\b", packages)


def test_a_taken_address_stops_gunicorn_with_its_name(tmp_path: Path) -> None:
    """With reuse_port the workers bind, not the master: a taken port must stop the master at
    once, naming the address, not leave workers failing and restarting for ever."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {
            "CERTSVC_DATA_DIR": str(tmp_path / "data"),
            "PYTHONPATH": str(ROOT),
            "CERTSVC_GUNICORN_BIND": f"127.0.0.1:{port}",
        }
        done = gunicorn("-c", str(GUNICORN_CONF), env=env, cwd=ROOT)
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port} (CERTSVC_GUNICORN_BIND)" in done.stdout + done.stderr


def test_a_stopping_worker_closes_its_listening_sockets_at_once() -> None:
    """The worker leaves the port's SO_REUSEPORT group as soon as it stops accepting, so new
    connections go to the workers that stay; while it runs, a pause in accepting (at its
    connection limit) closes nothing."""
    from certsvc.web.gunicorn_worker import ThreadWorker

    def worker(alive: bool) -> tuple[ThreadWorker, socket.socket]:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        made = ThreadWorker.__new__(ThreadWorker)
        made.alive = alive
        made.cfg = SimpleNamespace(reuse_port=True)
        made.sockets = [listener]
        made.poller = selectors.DefaultSelector()
        made._accepting = False
        made.set_accept_enabled(True)
        return made, listener

    running, kept = worker(alive=True)
    running.set_accept_enabled(False)
    assert kept.fileno() != -1
    kept.close()
    stopping, closed = worker(alive=False)
    stopping.set_accept_enabled(False)
    assert closed.fileno() == -1


def test_the_address_check_names_a_taken_one_and_skips_what_it_cannot_bind() -> None:
    from certsvc.web.gunicorn_worker import check_free

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        check_free(["unix:/run/certsvc/web.sock", "fd://3", f"127.0.0.1:{free}"])  # no error
        with pytest.raises(SystemExit, match=f"cannot listen on 127.0.0.1:{taken} "):
            check_free([f"127.0.0.1:{free}", f"127.0.0.1:{taken}"])
