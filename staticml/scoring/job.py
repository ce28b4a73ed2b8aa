"""One batch job: a bundle, an input table, an output table and an errors file.

The input is cut into chunks of `chunk_rows` rows, scored in this process or on a Dask
cluster (the same chunks either way, so the same results), and written in order as they come;
every input row is in the output, with its prediction or the reason it has none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from staticml.errors import ScoringError
from staticml.progress import Reporter, SilentReporter
from staticml.runtime.table import TableError, check_header
from staticml.scoring import DEFAULT_CHUNK_ROWS
from staticml.scoring.bundle import Bundle, load_bundle
from staticml.scoring.reading import TableSource, open_table, read_chunks
from staticml.scoring.scorer import Chunk, Scored, open_scorer, prediction_fields, score_chunk
from staticml.scoring.writing import default_errors_path, open_errors, open_sink, output_format

ChunkScoring = Callable[[Iterable[Chunk]], Iterator[Scored]]


@dataclass(frozen=True)
class BatchResult:
    output: Path
    errors: Path
    release: str
    rows: int
    scored: int
    failed: int
    seconds: float
    cluster: str | None = None

    def describe(self) -> str:
        where = f" on {self.cluster}" if self.cluster else ""
        rate = self.rows / self.seconds if self.seconds else 0.0
        return (
            f"{self.rows:,} rows: {self.scored:,} scored, {self.failed:,} with errors "
            f"(listed in {self.errors}). Wrote {self.output} in {self.seconds:.1f} s{where} "
            f"({rate:,.0f} rows/s)."
        )


@dataclass(frozen=True)
class BatchJob:
    bundle: Path
    input: Path
    output: Path
    errors: Path | None = None
    format: str | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    cluster: Any = None  # "local", "tcp://HOST:PORT" or a distributed.Client


def run_batch(job: BatchJob, reporter: Reporter | None = None) -> BatchResult:
    """Score `job.input` with the bundle into `job.output` and the errors file."""
    report = reporter or SilentReporter()
    try:
        return _run(job, report)
    finally:
        report.finish()


def _run(job: BatchJob, report: Reporter) -> BatchResult:
    began = time.perf_counter()
    kind = output_format(job.output, job.format)
    errors_path = job.errors or default_errors_path(job.output)
    _check_job(job, errors_path)
    bundle = load_bundle(job.bundle)
    rows = failed = progress = 0
    with open_table(job.input) as source, _scoring(bundle, job.cluster) as score:
        schema, numbers = _output_schema(bundle, source)
        report.stage(f"Scoring {job.input.name} ({source.unit})", total=source.total)
        with (
            open_sink(job.output, kind, schema, numbers) as sink,
            open_errors(errors_path) as errors,
        ):
            for scored in score(read_chunks(source, job.chunk_rows)):
                sink.write(scored.table)
                errors.writerows(scored.errors)
                rows, failed = rows + scored.table.num_rows, failed + len(scored.errors)
                report.advance(source.done() - progress)
                progress = source.done()
    seconds = time.perf_counter() - began
    return BatchResult(
        job.output,
        errors_path,
        bundle.release,
        rows,
        rows - failed,
        failed,
        seconds,
        _cluster_name(job.cluster),
    )


def _output_schema(bundle: Bundle, source: TableSource) -> tuple[pa.Schema, list[str]]:
    """The input's columns plus the prediction's, and which of those are numbers."""
    try:
        check_header(bundle.fields, source.schema.names)
    except TableError as exc:
        raise ScoringError(f"the input {source.path} cannot be scored: {exc}.") from exc
    added = prediction_fields(source.schema.names, bundle.output)
    numbers = [f.name for f in added if not pa.types.is_string(f.type)]
    schema = source.schema.remove_metadata()
    for column in added:
        schema = schema.append(column)
    return schema, numbers


@contextmanager
def _scoring(bundle: Bundle, cluster: Any) -> Iterator[ChunkScoring]:
    if cluster is None:
        with open_scorer(bundle) as scorer:
            yield lambda chunks: (score_chunk(scorer, chunk) for chunk in chunks)
        return
    try:
        from staticml.scoring.cluster import cluster_scoring, connect
    except ImportError as exc:
        raise ScoringError(
            f"--cluster runs on Dask, which is not installed ({exc}): "
            "pip install 'staticml[dask]' (here and on the workers)."
        ) from exc
    with connect(cluster) as client, cluster_scoring(client, bundle) as score:
        yield score


def _check_job(job: BatchJob, errors: Path) -> None:
    if job.chunk_rows < 1:
        raise ScoringError(f"chunk_rows must be at least 1, got {job.chunk_rows}.")
    for path in (job.output, errors):
        if path.resolve() == job.input.resolve():
            raise ScoringError(f"{path} is the input file: write the output and errors elsewhere.")
    if job.output.resolve() == errors.resolve():
        raise ScoringError(f"{errors} cannot be both the output and the errors file.")


def _cluster_name(cluster: Any) -> str | None:
    if cluster is None or isinstance(cluster, str):
        return cluster
    return str(cluster.scheduler.address)  # a distributed.Client
