from __future__ import annotations

import dataclasses
import html
import json
import os
import re

import jinja2
import pytest

from staticml.config import load_config
from staticml.errors import AssetError
from staticml.hashing import integrity
from staticml.importmap import import_maps_in, script_hash
from staticml.site import site_root
from staticml.stages import assets as make
from staticml.stages.limits import split
from staticml.stages.page import page_config, page_import_map, render_page, template_app
from tests.support import APP_DIR

LOGICAL = [
    "pyodide/pyodide.mjs",
    "pyodide/pyodide.asm.mjs",
    "pyodide/pyodide.asm.wasm",
    "pyodide/python_stdlib.zip",
    "pyodide/pyodide-lock.json",
    "ort/ort.wasm.min.mjs",
    "ort/ort-wasm-simd-threaded.mjs",
    "ort/ort-wasm-simd-threaded.wasm",
    "wheel/000",
    "wheel/001",
    "model.onnx",
    "samples.json",
    "wasm/worker.mjs",
    "wasm/batch.mjs",
    "wasm/python.mjs",
    "wasm/model.mjs",
    "static/app.js",
    "static/checked-fetch.js",
    "static/rollout.js",
    "static/style.css",
    "static/icon.svg",
    "manifest.webmanifest",
    "pyodide/snapshot",
]


@pytest.fixture
def named():
    folders = {"pyodide": "runtime/pyodide-aaa/", "ort": "runtime/ort-bbb/"}
    out = {}
    for name in LOGICAL:
        prefix, _, file = name.partition("/")
        path = folders[prefix] + file if prefix in folders else f"x/{name}"
        out[name] = make.from_bytes(path, name.encode(), "test", hashed=False)
    return out


def test_page_config_points_at_the_built_assets(named, demo_model):
    config = page_config(load_config(APP_DIR), demo_model, named, "r1").to_json()
    runtime = config["runtime"]
    assert runtime["pyodide"]["indexURL"] == "runtime/pyodide-aaa/"
    assert runtime["ort"]["wasmPaths"] == "runtime/ort-bbb/"
    assert runtime["wheels"] == ["x/wheel/000", "x/wheel/001"]
    assert runtime["python"]["entry"] == "digits.preprocess:features"
    assert runtime["model"]["classes"] == [str(d) for d in range(10)]
    assert runtime["assets"]["runtime/ort-bbb/ort-wasm-simd-threaded.wasm"] == {
        "size": len(b"ort/ort-wasm-simd-threaded.wasm"),
        "integrity": integrity(named["ort/ort-wasm-simd-threaded.wasm"].sha256),
    }
    assert config["bootTimeoutMs"] == 60_000 and config["release"] == "r1"
    assert runtime["pyodide"]["snapshot"] == "runtime/pyodide-aaa/snapshot"
    assert runtime["assets"]["runtime/pyodide-aaa/snapshot"]["integrity"] == integrity(
        named["pyodide/snapshot"].sha256
    )
    assert config["serviceWorker"] == "sw.js"
    assert config["rollout"] == "x/static/rollout.js"


def test_every_file_the_page_or_worker_loads_has_its_hash_in_the_config(named, demo_model):
    config = page_config(load_config(APP_DIR), demo_model, named, "r1").to_json()
    # The worker checks these before using them, modules before importing them.
    worker_loads = {
        named[name].path: integrity(named[name].sha256)
        for name in LOGICAL
        if name.startswith(("pyodide/", "ort/", "wheel/"))
        or name in ("model.onnx", "static/checked-fetch.js", "samples.json")
        or (name.startswith("wasm/") and name != "wasm/worker.mjs")
    }
    assert {url: meta["integrity"] for url, meta in config["runtime"]["assets"].items()} == (
        worker_loads
    )
    # The page checks the worker script, the rollout module and the samples itself.
    assert config["integrity"] == {
        named[name].path: integrity(named[name].sha256)
        for name in ("wasm/worker.mjs", "static/rollout.js", "samples.json")
    }
    assert config["runtime"]["pyodide"]["asm"] == "runtime/pyodide-aaa/pyodide.asm.mjs"
    assert config["runtime"]["ort"]["glue"] == "runtime/ort-bbb/ort-wasm-simd-threaded.mjs"


def test_the_page_escapes_app_text_in_html_and_in_the_config(named, demo_model):
    config = load_config(APP_DIR)
    hostile = "</script><script>alert(1)</script>"
    config = dataclasses.replace(
        config, app=dataclasses.replace(config.app, title=hostile, description=hostile)
    )
    page = page_config(config, demo_model, named, "r1")
    html = render_page(config, page, named, site_root()).decode()
    assert "<script>alert(1)" not in html
    block = re.search(r'id="staticml-config">(.*?)</script>', html, re.S).group(1)
    assert json.loads(block)["app"]["title"] == hostile
    assert f'src="x/static/app.js" integrity="{integrity(named["static/app.js"].sha256)}"' in html
    rollout = integrity(named["static/rollout.js"].sha256)
    assert f'<link rel="modulepreload" href="x/static/rollout.js" integrity="{rollout}">' in html
    assert '<link rel="manifest" href="x/manifest.webmanifest">' in html


def test_a_page_template_sees_the_app_as_before():
    """`app` in a template keeps `name`, `title`, `description` and `fields` (with `minimum` and
    `maximum`), and has the tables."""
    config = load_config(APP_DIR)
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        "{{ app.name }}|{{ app.title }}|{{ app.description != '' }}|"
        "{{ app.fields | map(attribute='name') | join(',') }}|{{ app.model.opset }}|"
        "{% for f in app.fields %}{{ f.minimum }} {{ f.maximum }} {{ f.canvas_size }}{% endfor %}"
    )
    assert template.render(app=template_app(config)) == (
        f"digits|{config.app.title}|True|image|{config.model.opset}|None None 280"
    )
    with pytest.raises(jinja2.UndefinedError):
        jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
            "{{ app.nothing }}"
        ).render(app=template_app(config))


def test_the_worker_imports_its_modules_from_the_config(named, demo_model):
    runtime = page_config(load_config(APP_DIR), demo_model, named, "r1").to_json()["runtime"]
    assert runtime["modules"] == {
        "fetch": "x/static/checked-fetch.js",
        "batch": "x/wasm/batch.mjs",
        "python": "x/wasm/python.mjs",
        "model": "x/wasm/model.mjs",
    }
    assert runtime["samples"] == "x/samples.json"


def test_the_import_map_pins_every_page_module_and_is_the_pages_one_inline_script(
    named, demo_model
):
    config = load_config(APP_DIR)
    html = render_page(config, page_config(config, demo_model, named, "r1"), named, site_root())
    text = html.decode()
    [block] = re.findall(r'<script type="importmap">(.*?)</script>', text, re.S)
    modules = [name for name in LOGICAL if name.startswith("static/") and name.endswith(".js")]
    assert json.loads(block) == {
        "imports": {f"./{name}": f"./{named[name].path}" for name in modules},
        "integrity": {f"./{named[name].path}": integrity(named[name].sha256) for name in modules},
    }
    # Before any module script, so that every module is resolved and checked by it.
    assert text.index('type="importmap"') < text.index('type="module"')
    assert text.index('type="importmap"') < text.index('rel="modulepreload"')
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", text)
    assert sorted(inline) == sorted(
        [' type="importmap"', ' type="application/json" id="staticml-config"']
    )
    assert import_maps_in(text) == [script_hash(page_import_map(named))]


def test_a_template_without_the_import_map_is_refused(named, demo_model, tmp_path):
    template = (site_root() / "index.html").read_text().replace("{{ importmap }}", "")
    (tmp_path / "page.html").write_text(template)
    loaded = load_config(APP_DIR)
    page = dataclasses.replace(loaded.page, template=tmp_path / "page.html")
    config = dataclasses.replace(loaded, page=page)
    with pytest.raises(AssetError, match="importmap"):
        render_page(config, page_config(config, demo_model, named, "r1"), named, site_root())


def test_an_edited_page_template_is_rendered_anew_by_the_same_process(named, demo_model, tmp_path):
    template = (site_root() / "index.html").read_text()
    (tmp_path / "page.html").write_text(template.replace("</body>", "<p>first</p></body>"))
    loaded = load_config(APP_DIR)
    custom = dataclasses.replace(loaded.page, template=tmp_path / "page.html")
    config = dataclasses.replace(loaded, page=custom)
    page = page_config(config, demo_model, named, "r1")
    assert b"<p>first</p>" in render_page(config, page, named, site_root())
    (tmp_path / "page.html").write_text(template.replace("</body>", "<p>second</p></body>"))
    later = os.stat(tmp_path / "page.html").st_mtime_ns + 10**9  # past the mtime's resolution
    os.utime(tmp_path / "page.html", ns=(later, later))
    rendered = render_page(config, page, named, site_root())
    assert b"<p>second</p>" in rendered and b"<p>first</p>" not in rendered


def test_the_page_carries_its_own_policy_before_anything_it_loads(named, demo_model):
    config = load_config(APP_DIR)
    text = render_page(config, page_config(config, demo_model, named, "r1"), named, site_root())
    [policy] = re.findall(
        r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', text.decode()
    )
    directives = dict(d.split(" ", 1) for d in html.unescape(policy).split("; "))
    assert (
        directives["script-src"]
        == f"'self' 'wasm-unsafe-eval' '{import_maps_in(text.decode())[0]}'"
    )
    assert directives["default-src"] == "'none'" and directives["connect-src"] == "'self'"
    assert "frame-ancestors" not in directives  # a <meta> cannot hold it: a header only
    head = text.decode().split("</head>")[0]
    assert head.index("Content-Security-Policy") < min(
        head.index(tag) for tag in ("<link", "<script", "<title")
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace("{{ csp }}", ""),
        lambda t: t.replace("  {{ csp }}\n", "").replace("</head>", "{{ csp }}</head>"),
    ],
    ids=["without", "after-the-scripts"],
)
def test_a_template_without_the_policy_at_the_top_is_refused(named, demo_model, tmp_path, change):
    template = change((site_root() / "index.html").read_text())
    (tmp_path / "page.html").write_text(template)
    loaded = load_config(APP_DIR)
    page = dataclasses.replace(loaded.page, template=tmp_path / "page.html")
    config = dataclasses.replace(loaded, page=page)
    with pytest.raises(AssetError, match=r"must hold \{\{ csp \}\} once, in <head> before"):
        render_page(config, page_config(config, demo_model, named, "r1"), named, site_root())


def test_a_split_file_is_fetched_as_its_parts(named, demo_model):
    whole = named["pyodide/snapshot"]
    parts = split(dataclasses.replace(whole, size=3, data=b"abc"), 2)
    runtime = page_config(
        load_config(APP_DIR), demo_model, named, "r1", parts={whole.path: parts}
    ).to_json()["runtime"]
    assert runtime["pyodide"]["snapshot"] == whole.path
    assert runtime["parts"] == {whole.path: [p.path for p in parts]}
    assert whole.path not in runtime["assets"]
    assert [runtime["assets"][p.path]["size"] for p in parts] == [2, 1]
