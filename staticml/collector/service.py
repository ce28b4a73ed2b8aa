"""What `staticml beacon` and `staticml drift` do, as library functions."""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from staticml.baseline import Baseline
from staticml.collector.alerts import DEFAULT_CONDITION, EXIT_CROSSED, crossed, parse_condition
from staticml.collector.app import check_hosts, check_origins, check_token, create_collector_app
from staticml.collector.connections import ConnectionGuard, guarded_protocol
from staticml.collector.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_CONNECTIONS,
)
from staticml.collector.live import LiveReleases
from staticml.collector.ratelimit import DEFAULT_PER_MINUTE, RateLimiter
from staticml.collector.releases import load_bundles, parse_baselines
from staticml.collector.report import DriftReport, drift_report, parse_window
from staticml.collector.storage import Store
from staticml.collector.stores import open_store
from staticml.errors import CollectorError

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")


def check_proxies(proxies: Sequence[str], given_as: str = "The trusted proxy") -> list[str]:
    """The addresses (or networks) whose X-Forwarded-For is believed, else a CollectorError
    that names each as the caller's user gave it (`given_as`: the CLI's option, say)."""
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise CollectorError(
                f"{given_as} {proxy!r} is not an IP address or network: give the address "
                "your reverse proxy connects from, e.g. 127.0.0.1 or 10.0.0.0/8."
            ) from None
    return list(proxies)


def default_hosts(host: str) -> tuple[str, ...]:
    """The host names the reports answer for when no --allowed-host is given."""
    return tuple(dict.fromkeys([*([] if host in WILDCARDS else [host]), *LOCAL_NAMES]))


@dataclass
class Collector:
    """A collector ready to serve: its app, over an open store, for these releases."""

    app: Any
    store: Store
    releases: tuple[str, ...]
    proxies: list[str]
    guard: ConnectionGuard

    def config(self, host: str, port: int) -> Any:
        """uvicorn's settings for this collector: guarded connections, no access log."""
        import uvicorn

        # No access log: it would record the address and time of every visitor's summary.
        # X-Forwarded-For is read only from the trusted proxies (uvicorn's default
        # trusts 127.0.0.1, which lets any local client name itself anything).
        return uvicorn.Config(
            self.app,
            host=host,
            port=port,
            http=guarded_protocol(self.guard),
            proxy_headers=bool(self.proxies),
            forwarded_allow_ips=self.proxies,
            log_level="warning",
            access_log=False,
        )

    def serve(self, host: str, port: int) -> None:
        """Serve until interrupted, then close the store."""
        self._run(self.config(host, port), None)

    def serve_socket(self, sock: socket.socket) -> None:
        """Serve on a bound socket (a worker of `staticml beacon --workers`) until
        interrupted, then close the store."""
        host, port = sock.getsockname()[:2]
        self._run(self.config(host, port), [sock])

    def _run(self, config: Any, sockets: list[socket.socket] | None) -> None:
        import uvicorn

        server = uvicorn.Server(config)
        try:
            server.run(sockets=sockets)
        except KeyboardInterrupt:
            pass
        finally:
            self.store.close()
        if not server.started:
            sys.exit(1)  # uvicorn has logged why (the port in use, say)


def prepare_collector(
    bundles: Sequence[Path],
    db: str,
    *,
    host: str = "127.0.0.1",
    allow_origins: Sequence[str] = (),
    rate_limit: int = DEFAULT_PER_MINUTE,
    trusted_proxies: Sequence[str] = (),
    allowed_hosts: Sequence[str] = (),
    report_token: str | None = None,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    max_batch: int = DEFAULT_MAX_BATCH,
    site_releases: Path | None = None,
) -> Collector:
    """The collector for the releases in `bundles` and in the folder `site_releases` (a site's
    releases, read again when a release is added), their baselines saved in the store."""
    if not bundles and site_releases is None:
        raise CollectorError(
            "No bundle given: the collector needs the folder of every release it accepts."
        )
    texts = load_bundles(bundles)
    parse_baselines(texts)
    origins = check_origins(allow_origins)
    proxies = check_proxies(trusted_proxies)
    hosts = check_hosts(allowed_hosts or default_hosts(host))
    token = check_token(report_token)
    store = open_store(db)
    try:
        for release, text in texts.items():
            store.save_baseline(release, text)
        baselines = LiveReleases(parse_baselines(texts), site_releases, store.save_baseline)
        app = create_collector_app(
            baselines,
            store,
            allow_origins=origins,
            limiter=RateLimiter(rate_limit),
            allowed_hosts=hosts,
            report_token=token,
            body_timeout=body_timeout,
            max_batch=max_batch,
        )
    except BaseException:
        store.close()
        raise
    guard = ConnectionGuard(max_connections, header_timeout)
    return Collector(app, store, tuple(sorted(baselines)), proxies, guard)


@dataclass(frozen=True)
class DriftCheck:
    report: DriftReport
    failures: list[str]  # the conditions crossed, described

    @property
    def exit_status(self) -> int:
        """3 when a condition is crossed (`staticml drift` exits with it), else 0."""
        return EXIT_CROSSED if self.failures else 0

    def to_json(self) -> dict[str, Any]:
        return {**self.report.to_json(), "crossed": self.failures}


def drift_check(
    db: str,
    release: str,
    window: str,
    *,
    fail_on: Sequence[str] | None = None,
    bundles: Sequence[Path] = (),
    now: datetime | None = None,
) -> DriftCheck:
    """The drift report of `release` and the conditions of `fail_on` it crosses (by default
    `DEFAULT_CONDITION`; none when `fail_on` is empty)."""
    chosen = (DEFAULT_CONDITION,) if fail_on is None else fail_on
    conditions = [parse_condition(text) for text in chosen]
    parse_window(window)
    store = open_store(db)
    try:
        baseline = _baseline(store.baselines(), bundles, release)
        report = drift_report(store, release, baseline, window, now=now)
    finally:
        store.close()
    return DriftCheck(report, crossed(report, conditions))


def _baseline(saved: dict[str, str], bundles: Sequence[Path], release: str) -> Baseline:
    texts = {**saved, **load_bundles(bundles)}
    if release not in texts:
        known = ", ".join(sorted(texts)) or "none"
        raise CollectorError(
            f"No baseline for release {release!r} (known: {known}): run the collector with its "
            "bundle first, or give its bundle."
        )
    return parse_baselines({release: texts[release]})[release]
