"""`staticml serve` on a site: what revalidates, what is cached forever, where pages may send."""

from __future__ import annotations

import html
import re

from starlette.testclient import TestClient

from staticml.headers import meta_policy
from staticml.importmap import import_maps_in
from staticml.serve import create_app


def test_the_plan_revalidates_and_content_addressed_files_are_immutable(site):
    release = site.releases()[0]
    folder = site.root / "releases" / release
    hashed = next(
        p for p in (folder / "static").iterdir() if p.name.startswith("app.") and p.suffix == ".js"
    )
    runtime = next((site.root / "runtime").glob("pyodide-*/pyodide.mjs"))
    router = next(site.root.glob("router.*.js"))
    with TestClient(create_app(site.root)) as client:
        cache = {
            path: client.get(path).headers["cache-control"]
            for path in (
                "/",
                "/manifest.json",
                "/history.json",
                f"/releases/{release}/",
                f"/releases/{release}/config.json",
                f"/releases/{release}/static/{hashed.name}",
                f"/{runtime.relative_to(site.root).as_posix()}",
                f"/{router.name}",
            )
        }
        page = client.get(f"/releases/{release}/")
    revalidated = [
        "/",
        "/manifest.json",
        "/history.json",
        f"/releases/{release}/",
        f"/releases/{release}/config.json",
    ]
    assert {cache[p] for p in revalidated} == {"no-cache"}
    assert all("immutable" in cache[p] for p in cache if p not in revalidated)
    assert 'id="staticml-config"' in page.text  # the release page, not the router
    csp = page.headers["content-security-policy"]
    assert "connect-src 'self' http://127.0.0.1:" in csp  # the releases' collector


def test_the_router_page_loads_only_its_script(site):
    with TestClient(create_app(site.root)) as client:
        page = client.get("/").text
        script = next(site.root.glob("router.*.js")).name
        assert f'src="{script}" integrity="sha256-' in page
        assert client.get(f"/{script}").headers["content-type"].startswith("text/javascript")


def test_the_router_page_carries_its_own_policy_for_hosts_without_headers(site):
    page = (site.root / "index.html").read_text()
    [policy] = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert html.unescape(policy) == meta_policy(scripts=import_maps_in(page))
    assert page.index("Content-Security-Policy") < page.index("<script")
