"""Batch scoring on a Dask LocalCluster (2 worker processes on 127.0.0.1): the same files."""

from __future__ import annotations

import csv
import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

import staticml
from staticml.scoring.job import BatchJob, run_batch
from tests.support.scoring import (
    BAD_ROWS_CSV,
    DIABETES,
    TARGET,
    WINE,
    assert_matches_expected,
    read_output,
    shipped_samples,
    write_csv,
    write_parquet,
)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    return {
        app.name: staticml.build(app, tmp_path_factory.mktemp(app.name) / "dist").out_dir
        for app in (WINE, DIABETES)
    }


def local_cluster() -> LocalCluster:
    return LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with local_cluster() as cluster, Client(cluster) as connected:
        yield connected


def both_ways(bundle: Path, source: Path, folder: Path, suffix: str, client, chunk_rows: int):
    """The job run in this process and on the cluster: (single, cluster) results."""
    folder.mkdir(exist_ok=True)
    single = run_batch(BatchJob(bundle, source, folder / f"single{suffix}", chunk_rows=chunk_rows))
    on_cluster = run_batch(
        BatchJob(bundle, source, folder / f"cluster{suffix}", chunk_rows=chunk_rows, cluster=client)
    )
    return single, on_cluster


@pytest.mark.parametrize("app", ["wine", "diabetes"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_cluster_writes_the_same_file_with_the_reference_predictions(
    bundles, client, tmp_path, app, suffix
):
    samples = shipped_samples(bundles[app])
    write = write_csv if suffix == ".csv" else write_parquet
    source = write(tmp_path / f"samples{suffix}", [s["record"] for s in samples])
    single, on_cluster = both_ways(bundles[app], source, tmp_path / "out", suffix, client, 3)
    assert on_cluster.output.read_bytes() == single.output.read_bytes()
    assert on_cluster.errors.read_bytes() == single.errors.read_bytes()
    for row, sample in zip(read_output(on_cluster.output), samples, strict=True):
        assert_matches_expected(row, sample["expected"], TARGET)


def test_bad_rows_are_accounted_for_on_the_cluster(bundles, client, tmp_path):
    source = tmp_path / "wines.csv"
    source.write_text(BAD_ROWS_CSV)
    single, on_cluster = both_ways(bundles["wine"], source, tmp_path / "out", ".csv", client, 2)
    assert on_cluster.output.read_bytes() == single.output.read_bytes()
    assert on_cluster.errors.read_bytes() == single.errors.read_bytes()
    assert (on_cluster.rows, on_cluster.scored, on_cluster.failed) == (8, 2, 6)


def test_the_command_starts_and_stops_its_own_local_cluster(bundles, tmp_path):
    source = tmp_path / "wines.csv"
    source.write_text(BAD_ROWS_CSV)
    result = staticml.batch(bundles["wine"], source, tmp_path / "out.csv", cluster="local")
    assert result.cluster == "local" and result.rows == 8
    single = staticml.batch(bundles["wine"], source, tmp_path / "single.csv")
    assert result.output.read_bytes() == single.output.read_bytes()


class KillOneWorker:
    """A progress reporter that, when the first chunk is in, kills (SIGKILL) a worker process
    that has chunks assigned, so they are lost with it and must be run again."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.killed: int | None = None
        self.lost: list[str] = []

    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        deadline = time.monotonic() + 30
        while self.killed is None and time.monotonic() < deadline:
            busy = {a: keys for a, keys in self.client.processing().items() if keys}
            if busy:  # the next chunks are being assigned: wait until a worker has some
                address, self.lost = next(iter(busy.items()))
                self.killed = self.client.run(os.getpid, workers=[address])[address]
                os.kill(self.killed, signal.SIGKILL)
            time.sleep(0.005)

    def finish(self) -> None:
        pass


def wine_rows(path: Path, count: int) -> Path:
    with (WINE / "samples.csv").open(newline="") as handle:
        header, *rows = list(csv.reader(handle))
    generator = random.Random(3)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(generator.choice(rows) for _ in range(count))
    return path


def test_a_worker_killed_mid_job_loses_and_duplicates_no_row(bundles, tmp_path):
    source = wine_rows(tmp_path / "wines.csv", 30_000)
    single = run_batch(BatchJob(bundles["wine"], source, tmp_path / "single.csv", chunk_rows=1000))
    with local_cluster() as cluster, Client(cluster) as connected:
        killer = KillOneWorker(connected)
        job = BatchJob(
            bundles["wine"], source, tmp_path / "cluster.csv", chunk_rows=1000, cluster=connected
        )
        result = run_batch(job, killer)
        assert killer.killed is not None and killer.lost
        assert killer.killed not in connected.run(os.getpid).values()  # it was replaced
    assert result.rows == 30_000
    assert result.output.read_bytes() == single.output.read_bytes()
