"""A real `staticml beacon` on 127.0.0.1, and `staticml drift` as a command.

What crosses a socket or a process boundary is tested here: durability across SIGKILL, the
body limit on a live connection, the absence of an access log, startup errors and exit codes.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from staticml.collector.stores import open_store
from staticml.collector.validate import parse_summary
from tests.support import free_port, get_json
from tests.support.beacon import beacon
from tests.support.collector import RELEASE, body, wine_baseline, wine_summary, write_bundle
from tests.support.postgres import postgres_database


def current_hour() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H")


@pytest.fixture
def bundle(tmp_path) -> Path:
    return write_bundle(tmp_path / "site", wine_baseline())


def send(url: str, data: bytes, content_type: str = "text/plain;charset=UTF-8") -> int:
    request = urllib.request.Request(
        url + "v1/summaries", data=data, headers={"Content-Type": content_type}, method="POST"
    )
    return status_of(request)


def status_of(request: urllib.request.Request) -> int:
    """The HTTP status the collector answers `request` with, errors included."""
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'beacon.db'}"
        return
    with postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url


def test_a_collector_killed_right_after_acknowledging_keeps_every_summary(bundle, any_db):
    hour = current_hour()
    with beacon(bundle, any_db) as first:
        for seed in range(20):
            assert send(first.url, body(wine_summary(rows=25, seed=seed, hour=hour))) == 202
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        assert first.process.returncode == -signal.SIGKILL
    with beacon(bundle, any_db) as second:
        report = get_json(second.url + f"v1/drift?release={RELEASE}&window=24h")
    assert (report["current"]["summaries"], report["current"]["n"]) == (20, 500)


def test_rejected_summaries_leave_nothing_behind(bundle, tmp_path):
    db = f"sqlite:///{tmp_path / 'beacon.db'}"
    with beacon(bundle, db) as running:
        assert send(running.url, body({**wine_summary(), "ip": "198.51.100.7"})) == 422
        assert send(running.url, body(wine_summary()) + b" " * 70_000) == 413
        assert send(running.url, b"\x00" * 10) == 422
        assert send(running.url, body(wine_summary()), "multipart/form-data") == 415
        report = get_json(running.url + f"v1/drift?release={RELEASE}")
    assert report["current"]["summaries"] == 0
    store = open_store(db)
    try:
        assert store.read(RELEASE, "2000-01-01T00", "2100-01-01T00") == []
    finally:
        store.close()


def test_an_endless_body_is_cut_off_while_it_arrives(bundle, tmp_path):
    with beacon(bundle, f"sqlite:///{tmp_path / 'beacon.db'}") as running:
        port = int(running.url.rsplit(":", 1)[1].strip("/"))
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(
                b"POST /v1/summaries HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"%x\r\n%s\r\n" % (4096, b" " * 4096)
            with contextlib.suppress(OSError):  # the collector may close before we stop
                for _ in range(20):  # 80 KiB, never terminated: only a streaming check answers
                    sock.sendall(chunk)
            reply = sock.recv(200)
    assert reply.startswith(b"HTTP/1.1 413 ")


def test_the_collector_logs_no_request(bundle, tmp_path):
    with beacon(bundle, f"sqlite:///{tmp_path / 'beacon.db'}") as running:
        assert send(running.url, body(wine_summary(hour=current_hour()))) == 202
        assert send(running.url, b"{}") == 422
        running.process.terminate()
        running.process.wait(timeout=10)
        output = running.output()
    assert "Collecting summaries for" in output
    assert "/v1/summaries" not in output and "HTTP/1.1" not in output
    assert output.count("127.0.0.1") == 1  # only the listening address in the start-up line


def test_no_address_user_agent_or_cookie_is_stored_or_logged(bundle, tmp_path):
    marks = {
        "User-Agent": "Mozilla/5.0 UA-MARK-7f3a",
        "Cookie": "session=COOKIE-MARK-91c2",
        "X-Forwarded-For": "203.0.113.77",
        "Referer": "https://REFERER-MARK.example/page",
    }
    database = tmp_path / "beacon.db"
    with beacon(bundle, f"sqlite:///{database}") as running:
        for data in (body(wine_summary(hour=current_hour())), b"{}", b"[" * 5000):
            request = urllib.request.Request(
                running.url + "v1/summaries",
                data=data,
                headers={**marks, "Content-Type": "text/plain"},
                method="POST",
            )
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(request, timeout=30).close()
        running.process.terminate()
        running.process.wait(timeout=10)
        output = running.output()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("beacon.db*"))
    store = open_store(f"sqlite:///{database}")
    assert sum(t.summaries for t in store.read(RELEASE, "0000", "9999")) == 1
    store.close()
    for value in [*marks.values(), "UA-MARK", "COOKIE-MARK", "REFERER-MARK", "203.0.113"]:
        assert value not in output, value
        assert value.encode() not in stored, value


def test_the_collector_saves_the_baselines_for_the_drift_command(bundle, tmp_path):
    db = f"sqlite:///{tmp_path / 'beacon.db'}"
    with beacon(bundle, db):
        pass
    store = open_store(db)
    try:
        assert json.loads(store.baselines()[RELEASE])["rows"] == 2000
    finally:
        store.close()


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "staticml", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--allow-origin", "https://wine.example/"], "is not an origin"),
        (["--db", "mysql://x/y"], "is not supported"),
    ],
)
def test_startup_errors_are_messages(bundle, args, message):
    result = run("beacon", "--bundle", str(bundle), "--port", str(free_port()), *args)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bundle_without_baseline_is_refused(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "bundle.json").write_text(json.dumps({"release": "abc", "assets": {}}))
    result = run("beacon", "--bundle", str(site), "--port", str(free_port()))
    assert result.returncode == 1
    assert "lists 0 baseline assets" in result.stderr


def test_no_bundle_is_refused():
    result = run("beacon", "--port", str(free_port()))
    assert result.returncode == 1 and "No bundle given" in result.stderr


# --- staticml drift ----------------------------------------------------------------------------


def filled_db(tmp_path: Path, summaries: int, shift: float) -> str:
    db = f"sqlite:///{tmp_path / 'drift.db'}"
    store = open_store(db)
    try:
        for seed in range(summaries):
            sent = wine_summary(rows=50, seed=seed, shift=shift, hour=current_hour())
            store.add(parse_summary(body(sent), {RELEASE: wine_baseline()}, datetime.now(UTC)))
    finally:
        store.close()
    return db


def drift(db: str, bundle: Path, *args: str) -> subprocess.CompletedProcess:
    return run("drift", "--db", db, "--release", RELEASE, "--bundle", str(bundle), *args)


def test_drift_exits_3_when_a_threshold_is_crossed(tmp_path, bundle):
    result = drift(filled_db(tmp_path, 40, shift=1.5), bundle, "--fail-on", "skew.psi>0.2")
    assert result.returncode == 3, result.stderr
    assert "crossed: skew psi of feature alcohol" in result.stdout
    assert "acidity" in result.stdout and "label (output)" in result.stdout


def test_drift_exits_0_when_nothing_is_crossed(tmp_path, bundle):
    result = drift(filled_db(tmp_path, 40, shift=0.0), bundle, "--fail-on", "psi>0.2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no --fail-on condition crossed" in result.stdout


def test_drift_with_too_little_data_says_so_and_passes(tmp_path, bundle):
    result = drift(filled_db(tmp_path, 2, shift=3.0), bundle)
    assert result.returncode == 0, result.stderr
    assert "not enough data, fewer than 200 predictions" in result.stdout


def test_drift_as_json(tmp_path, bundle):
    result = drift(filled_db(tmp_path, 40, shift=1.5), bundle, "--json", "--window", "2h")
    assert result.returncode == 3  # the default condition is psi>=0.2
    report = json.loads(result.stdout)
    assert report["window"] == "2h" and report["verdict"] == "alert"
    assert any("alcohol" in line for line in report["crossed"])


def test_drift_finds_the_baseline_the_collector_saved(tmp_path, bundle):
    db = filled_db(tmp_path, 40, shift=1.5)
    store = open_store(db)
    try:
        store.save_baseline(
            RELEASE, (bundle / next((bundle / "data").iterdir()).relative_to(bundle)).read_text()
        )
    finally:
        store.close()
    result = run("drift", "--db", db, "--release", RELEASE)
    assert result.returncode == 3, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-on", "psi=0.2"], "is not a condition"),
        (["--window", "1w"], "window: is '1w'"),
        (["--release", "nope"], "No baseline for release 'nope'"),
    ],
)
def test_drift_errors_are_messages(tmp_path, bundle, args, message):
    result = drift(filled_db(tmp_path, 1, shift=0.0), bundle, *args)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def get_status(url: str, **headers: str) -> int:
    return status_of(urllib.request.Request(url, headers=headers))


def test_a_collector_without_allowed_origins_warns_at_start(bundle, tmp_path):
    db = f"sqlite:///{tmp_path / 'beacon.db'}"
    with beacon(bundle, db) as bare:
        bare.process.terminate()
        bare.process.wait(timeout=10)
        assert "warning: no --allow-origin" in bare.output()
    with beacon(bundle, db, "--allow-origin", "http://127.0.0.1:8000") as configured:
        configured.process.terminate()
        configured.process.wait(timeout=10)
        assert "warning" not in configured.output()


def test_reports_answer_only_for_the_collector_s_own_names(bundle, tmp_path):
    with beacon(bundle, f"sqlite:///{tmp_path / 'beacon.db'}") as running:
        drift = running.url + f"v1/drift?release={RELEASE}"
        assert get_status(drift, Host="attacker.example") == 400
        assert get_status(drift.replace("127.0.0.1", "localhost")) == 200
        assert send(running.url.replace("127.0.0.1", "localhost"), body(wine_summary())) == 202


def test_the_report_token_comes_from_the_environment(bundle, tmp_path, monkeypatch):
    token = "env-report-token-0123456789"
    monkeypatch.setenv("STATICML_REPORT_TOKEN", token)
    with beacon(bundle, f"sqlite:///{tmp_path / 'beacon.db'}") as running:
        drift = running.url + f"v1/drift?release={RELEASE}"
        assert get_status(drift) == 401
        assert get_status(drift, Authorization=f"Bearer {token}") == 200
        assert send(running.url, body(wine_summary())) == 202
        running.process.terminate()
        running.process.wait(timeout=10)
        assert token not in running.output()
