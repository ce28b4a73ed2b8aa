"""The rollout commands: thin layers over `staticml.rollout.Site`, errors as `Error: ...`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from staticml.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_a_canary_from_the_command_line(tmp_path, wine_releases):
    site = str(tmp_path / "site")
    first = run("release", str(wine_releases.a), "--site", site)
    assert first.exit_code == 0, first.output
    assert "stable (manifest serial 1)" in first.output
    second = run("release", str(wine_releases.b), "--site", site)
    b = second.output.split()[1]
    assert run("canary", b, "--percent", "5", "--site", site).output.startswith("canary")
    assert "30.0%" in run("canary", b, "--percent", "30", "--site", site).output
    assert run("promote", b, "--site", site).output.startswith(f"stable (manifest serial 4): {b}")
    rolled = run("rollback", "--site", site)
    assert rolled.exit_code == 0 and b not in rolled.output.split(":")[1]
    status = json.loads(run("status", "--site", site, "--json").output)
    assert [e["action"] for e in status["history"]] == [
        "release", "release", "canary", "canary", "promote", "rollback",
    ]  # fmt: skip
    a = first.output.split()[1]
    history = run("status", "--site", site).output.split("History")[1].splitlines()[1:]
    traffic = [line.split("traffic: ")[1] for line in history]
    assert traffic == [
        f"{a} 100.0%",
        f"{a} 100.0%",
        f"{b} 5.0%, {a} 95.0%",
        f"{b} 30.0%, {a} 70.0%",
        f"{b} 100.0%",
        f"{a} 100.0%",
    ]
    assert history[2].split()[1:3] == ["canary", b]


def test_mistakes_say_what_to_do(tmp_path, wine_releases):
    site = str(tmp_path / "site")
    empty = run("rollback", "--site", site)
    assert empty.exit_code == 1
    assert empty.output.startswith(f"Error: {site} has no release yet: run `staticml release")
    run("release", str(wine_releases.a), "--site", site)
    unknown = run("canary", "abcdefabcdef", "--percent", "10", "--site", site)
    assert unknown.exit_code == 1
    assert (
        "Release abcdefabcdef is not in" in unknown.output and "staticml release" in unknown.output
    )
    both = run("shadow", "abcdefabcdef", "--stop", "--site", site)
    assert both.exit_code == 1 and "or --stop (not both)" in both.output
