"""Progress on stderr: plain lines when stderr is not a terminal (a CI log, a pipe)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

from staticml.progress import PlainReporter

ROOT = Path(__file__).resolve().parents[1]
WINE = ROOT / "examples" / "wine"


def test_plain_lines_name_the_stage_and_every_tenth_of_its_count():
    stream = io.StringIO()
    reporter = PlainReporter(stream)
    reporter.stage("Packing")
    reporter.advance()
    reporter.stage("Scoring rows", total=20)
    for _ in range(20):
        reporter.advance()
    reporter.finish()
    lines = stream.getvalue().splitlines()
    assert lines == [
        "Packing ...",
        "Scoring rows ...",
        *(f"Scoring rows: {n}/20" for n in range(2, 21, 2)),
    ]


def test_a_build_with_stderr_to_a_pipe_prints_lines_not_bars(tmp_path):
    app = tmp_path / "wine"
    shutil.copytree(WINE, app, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [sys.executable, "-m", "staticml", "build", str(app), "-o", str(tmp_path / "site")],
        capture_output=True,  # stderr to a pipe, not a terminal
        text=True,
        cwd=ROOT,  # this checkout's staticml, as `python -m` imports from the current folder
    )
    assert result.returncode == 0, result.stderr
    assert "━" not in result.stderr
    lines = result.stderr.splitlines()
    assert "Precompressing (gzip, brotli) ..." in lines
    counts = [
        line for line in lines if re.fullmatch(r"Precompressing \(gzip, brotli\): \d+/\d+", line)
    ]
    done, total = counts[-1].rsplit(" ", 1)[1].split("/")
    assert done == total and len(counts) <= 10
    assert any(line.startswith("Shipped model: fp32") for line in lines)
    # 120 columns, not 80: the variants' table keeps its cells whole.
    row = next(line.split() for line in lines if line.split()[:1] == ["fp16"])
    assert row[-2:] == ["not", "applicable"]
