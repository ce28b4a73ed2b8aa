"""`staticml build`, `serve` and `verify`: make a site, serve it, check it in Chromium."""

from __future__ import annotations

from pathlib import Path

import click

from staticml.cli.options import DEFAULT_OUT, listen_options, user_errors


@click.command()
@click.argument("app_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Folder to write the site to (replaced atomically).",
)
@click.option(
    "--node-modules",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=(
        "node_modules holding the pinned runtimes (default: $STATICML_NODE_MODULES, else "
        "./node_modules or the checkout's when they hold the pinned versions, else staticml's "
        "runtime cache, downloaded on first need); its files must match the pinned digests."
    ),
)
@click.option(
    "--verify",
    is_flag=True,
    help="Run the built site in headless Chromium: the runtime must start and every sample "
    "must match its CPython reference.",
)
@click.option(
    "--compress",
    default=None,
    metavar="off|auto|VARIANT",
    help="Override compress.mode: off ships the model as given, auto the smallest variant that "
    "passes the accuracy gate, a variant name (fp16, int8-dynamic, ...) that one.",
)
@click.option(
    "--no-browser",
    is_flag=True,
    help="Run no step in Chromium: ship the model uncompressed, without the Python snapshot, "
    "unverified (the summary lists what was skipped).",
)
@click.option("--serve", "then_serve", is_flag=True, help="Serve the site after building it.")
@listen_options(" (with --serve)")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def build(
    app_dir: Path,
    out: Path,
    node_modules: Path | None,
    verify: bool,
    compress: str | None,
    no_browser: bool,
    then_serve: bool,
    host: str,
    port: int,
    quiet: bool,
) -> None:
    """Build the app in APP_DIR (it holds staticml.toml) into a static site."""
    from staticml.config import load_config, with_compress_mode

    with user_errors():
        config = with_compress_mode(load_config(app_dir), compress, browser=not no_browser)
        # Imported once the configuration is valid: the stages bring numpy, onnx and more
        # (a second), which a mistake in staticml.toml should not wait for.
        from staticml.cli.render import print_summary
        from staticml.progress import SilentReporter, stderr_reporter
        from staticml.stages import build_app

        reporter = SilentReporter() if quiet else stderr_reporter()
        result = build_app(
            config,
            out,
            node_modules=node_modules,
            reporter=reporter,
            verify=verify,
            browser=not no_browser,
        )
        if not quiet:
            print_summary(result, next_step=None if then_serve else f"staticml serve {out}")
        if then_serve:
            from staticml.serve import serve as run_server

            run_server(result.out_dir, host=host, port=port)


@click.command()
@click.argument("site_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT)
@listen_options()
@click.option(
    "--watch",
    is_flag=True,
    help="The authoring loop: SITE_DIR is an app directory (holding staticml.toml), built, "
    "served, rebuilt when one of its files changes and reloaded in the open pages. A failed "
    "build shows its error in the terminal and the page, and the last good build stays served.",
)
@click.option(
    "--compress",
    default=None,
    metavar="off|auto|VARIANT",
    help="With --watch: override compress.mode, as staticml build --compress does.",
)
def serve(site_dir: Path, host: str, port: int, watch: bool, compress: str | None) -> None:
    """Serve a built site (default: dist) with the headers it needs; with --watch, build the
    app in SITE_DIR and rebuild it on every change."""
    with user_errors():
        if watch:
            from staticml.watch import WatchOptions, serve_watching

            serve_watching(WatchOptions(site_dir, compress=compress), host, port, say=_say)
            return
        if compress is not None:
            raise click.UsageError("--compress needs --watch (or use staticml build --compress).")
        from staticml.serve import serve as run_server

        run_server(site_dir, host=host, port=port)


def _say(line: str) -> None:
    click.echo(line, err=line.startswith("Build failed"))


@click.command()
@click.argument("site_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT)
def verify(site_dir: Path) -> None:
    """Run a built site (default: dist) in headless Chromium and check it against its samples."""
    from staticml.verify import verify_site

    with user_errors():
        click.echo(verify_site(site_dir).describe())


COMMANDS = (build, serve, verify)
