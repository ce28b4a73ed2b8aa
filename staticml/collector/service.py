"""What `staticml beacon` and `staticml drift` do, as library functions."""

from __future__ import annotations

import ipaddress
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from staticml.baseline import Baseline
from staticml.collector.alerts import DEFAULT_CONDITION, EXIT_CROSSED, crossed, parse_condition
from staticml.collector.app import check_hosts, check_origins, check_token, create_collector_app
from staticml.collector.connections import ConnectionGuard, guarded_protocol
from staticml.collector.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
)
from staticml.collector.ratelimit import DEFAULT_PER_MINUTE, RateLimiter
from staticml.collector.releases import load_bundles, parse_baselines
from staticml.collector.report import DriftReport, drift_report, parse_window
from staticml.collector.stores import open_store
from staticml.drift import NOT_ENOUGH_DATA, Comparison
from staticml.errors import CollectorError

TOO_FEW = "too few"
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")


def check_proxies(proxies: Sequence[str]) -> list[str]:
    """The addresses (or networks) whose X-Forwarded-For is believed, else a CollectorError."""
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise CollectorError(
                f"--trusted-proxy {proxy!r} is not an IP address or network: give the address "
                "your reverse proxy connects from, e.g. 127.0.0.1 or 10.0.0.0/8."
            ) from None
    return list(proxies)


def default_hosts(host: str) -> tuple[str, ...]:
    """The host names the reports answer for when no --allowed-host is given."""
    return tuple(dict.fromkeys([*([] if host in WILDCARDS else [host]), *LOCAL_NAMES]))


def startup_warnings(
    host: str, allow_origins: Sequence[str], allowed_hosts: Sequence[str]
) -> list[str]:
    warnings = []
    if not allow_origins:
        warnings.append(
            "warning: no --allow-origin given. A page served from another origin can send "
            "summaries but cannot read the replies, so it never learns they were stored and "
            "sends them again (each is merged once, by its id). Pass --allow-origin with the "
            "origin of your site, e.g. --allow-origin https://app.example.com."
        )
    if host in WILDCARDS and not allowed_hosts:
        warnings.append(
            f"warning: listening on {host or 'every address'} with no --allowed-host: the "
            "reports, the dashboard and /healthz answer only to requests for "
            f"{', '.join(LOCAL_NAMES)}. Pass --allowed-host with the name clients use."
        )
    return warnings


def run_collector(
    bundles: Sequence[Path],
    db: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8001,
    allow_origins: Sequence[str] = (),
    rate_limit: int = DEFAULT_PER_MINUTE,
    trusted_proxies: Sequence[str] = (),
    allowed_hosts: Sequence[str] = (),
    report_token: str | None = None,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> None:
    """Serve the collector for the releases in `bundles` until interrupted."""
    import uvicorn

    if not bundles:
        raise CollectorError(
            "No bundle given: pass --bundle DIR for each release to accept, or --site SITE for "
            "every release of a site."
        )
    texts = load_bundles(bundles)
    baselines = parse_baselines(texts)
    origins = check_origins(allow_origins)
    proxies = check_proxies(trusted_proxies)
    hosts = check_hosts(allowed_hosts or default_hosts(host))
    token = check_token(report_token)
    guard = ConnectionGuard(max_connections, header_timeout)
    store = open_store(db)
    try:
        for release, text in texts.items():
            store.save_baseline(release, text)
        app = create_collector_app(
            baselines,
            store,
            allow_origins=origins,
            limiter=RateLimiter(rate_limit),
            allowed_hosts=hosts,
            report_token=token,
            body_timeout=body_timeout,
        )
        for warning in startup_warnings(host, origins, allowed_hosts):
            print(warning, file=sys.stderr, flush=True)
        print(
            f"Collecting summaries for {', '.join(sorted(baselines))} on http://{host}:{port}/ "
            "(Ctrl+C to stop)",
            flush=True,
        )
        # No access log: it would record the address and time of every visitor's summary.
        # X-Forwarded-For is read only from --trusted-proxy addresses (uvicorn's default
        # trusts 127.0.0.1, which lets any local client name itself anything).
        uvicorn.run(
            app,
            host=host,
            port=port,
            http=guarded_protocol(guard),
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies,
            log_level="warning",
            access_log=False,
        )
    finally:
        store.close()


def check_drift(
    db: str,
    release: str,
    window: str,
    *,
    fail_on: Sequence[str] = (),
    bundles: Sequence[Path] = (),
    as_json: bool = False,
    now: datetime | None = None,
) -> int:
    """Print the drift report of `release`; the exit status: 3 when a condition is crossed."""
    conditions = [parse_condition(text) for text in fail_on or (DEFAULT_CONDITION,)]
    parse_window(window)
    store = open_store(db)
    try:
        baseline = _baseline(store.baselines(), bundles, release)
        report = drift_report(store, release, baseline, window, now=now)
    finally:
        store.close()
    failures = crossed(report, conditions)
    if as_json:
        print(json.dumps({**report.to_json(), "crossed": failures}, indent=2))
    else:
        print_report(report, failures)
    return EXIT_CROSSED if failures else 0


def _baseline(saved: dict[str, str], bundles: Sequence[Path], release: str) -> Baseline:
    texts = {**saved, **load_bundles(bundles)}
    if release not in texts:
        known = ", ".join(sorted(texts)) or "none"
        raise CollectorError(
            f"No baseline for release {release!r} (known: {known}): run the collector with its "
            "bundle first, or pass --bundle DIR."
        )
    return parse_baselines({release: texts[release]})[release]


def print_report(
    report: DriftReport, failures: Sequence[str], console: Console | None = None
) -> None:
    # Not a terminal (CI logs, a pipe): wide enough for the whole table rather than 80 columns.
    console = console or Console(file=sys.stdout, width=None if sys.stdout.isatty() else 120)
    current, previous = report.current, report.previous
    table = Table(
        title=f"Release {report.release}: {report.window} to {current.end} UTC, "
        f"{current.n} predictions ({previous.n} in the window before)",
        title_justify="left",
    )
    for column in ("variable", "skew PSI", "JS", "p", "skew", "drift PSI", "JS", "p", "drift"):
        table.add_column(column, justify="left" if column == "variable" else "right")
    for variable in report.variables:
        label = f"{variable.name} (output)" if variable.role == "output" else variable.name
        table.add_row(label, *_cells(variable.skew), *_cells(variable.drift))
    console.print(table)
    if any(
        v.skew.verdict == NOT_ENOUGH_DATA or v.drift.verdict == NOT_ENOUGH_DATA
        for v in report.variables
    ):
        console.print(
            f"{TOO_FEW}: not enough data, fewer than {report.thresholds.min_n} predictions in "
            "the window or the one it is compared with; not judged."
        )
    for line in failures:
        console.print(f"[bold red]crossed:[/bold red] {line}")
    if not failures:
        console.print(f"Verdict: {report.verdict}; no --fail-on condition crossed.")


def _cells(comparison: Comparison) -> list[str]:
    psi, js, p = (
        "–" if v is None else f"{v:{spec}}"
        for v, spec in (
            (comparison.psi, ".3f"),
            (comparison.js, ".3f"),
            (comparison.p_value, ".2g"),
        )
    )
    verdict = TOO_FEW if comparison.verdict == NOT_ENOUGH_DATA else comparison.verdict
    return [psi, js, p, verdict]
