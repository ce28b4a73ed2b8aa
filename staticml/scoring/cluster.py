"""The same scoring on a Dask cluster (dask.distributed).

The client reads the input and cuts it into the same chunks as a single-process run; each
chunk is one task, a pure function of (bundle, chunk), so a task lost with a worker is simply
run again elsewhere (Dask's `allowed-failures`) and its result is the same. Results are taken
back in chunk order, each exactly once, with a bounded number of tasks in flight. The bundle
travels once per worker, as a worker plugin that hands it to the tasks by release id.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from distributed import Client, KilledWorker, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin

from staticml.errors import ScoringError
from staticml.scoring.bundle import Bundle
from staticml.scoring.scorer import Chunk, Scored, Scorer, open_scorer, score_chunk

LOCAL = "local"
LOCAL_WORKERS = 2
CONNECT_SECONDS = 30


@contextmanager
def connect(cluster: str | Client) -> Iterator[Client]:
    """A client for `cluster`: "local" (a LocalCluster on 127.0.0.1, closed afterwards), a
    scheduler address (tcp://HOST:PORT), or a `distributed.Client` you already have."""
    if isinstance(cluster, Client):
        yield cluster
    elif cluster == LOCAL:
        with (
            LocalCluster(
                n_workers=LOCAL_WORKERS,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",  # its HTTP server runs anyway: keep it local
            ) as local,
            Client(local) as client,
        ):
            yield client
    elif "://" in cluster:
        with _remote(cluster) as client:
            yield client
    else:
        raise ScoringError(
            f"--cluster {cluster!r} is neither 'local' nor a scheduler address: give "
            "tcp://HOST:PORT (the address `dask scheduler` prints)."
        )


@contextmanager
def _remote(address: str) -> Iterator[Client]:
    try:
        client = Client(address, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ScoringError(
            f"cannot reach the Dask scheduler at {address} ({exc}): start one with `dask scheduler` "
            f"and workers with `dask worker {address}`, or use --cluster local."
        ) from exc
    with client:
        yield client


@contextmanager
def cluster_scoring(
    client: Client, bundle: Bundle
) -> Iterator[Callable[[Iterable[Chunk]], Iterator[Scored]]]:
    """A function scoring chunks on the cluster, yielding results in chunk order."""
    plugin = BundlePlugin(bundle)
    client.register_plugin(plugin, name=plugin.name)
    try:
        yield lambda chunks: _in_order(client, bundle, chunks)
    finally:
        client.unregister_worker_plugin(plugin.name)


def _in_order(client: Client, bundle: Bundle, chunks: Iterable[Chunk]) -> Iterator[Scored]:
    job = uuid.uuid4().hex[:12]
    window = max(2, 2 * sum(client.nthreads().values()))
    pending: dict[int, Any] = {}
    source = iter(chunks)

    def submit() -> None:
        chunk = next(source, None)
        if chunk is not None:
            key = f"staticml-score-{bundle.release}-{job}-{chunk.index}"
            pending[chunk.index] = client.submit(
                score_partition, bundle.release, chunk, key=key, pure=False
            )

    for _ in range(window):
        submit()
    index = 0
    while pending:
        future = pending.pop(index)
        try:
            scored = future.result()
        except KilledWorker as exc:
            raise ScoringError(
                f"chunk {index} was lost with a worker every time it ran ({exc}): the workers may "
                "run out of memory; use fewer rows per chunk (--chunk-rows) or bigger workers."
            ) from exc
        finally:
            future.release()
        submit()
        yield scored
        index += 1


class BundlePlugin(WorkerPlugin):
    """Installs a bundle in each worker process once; tasks find it by release id."""

    idempotent = True

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.name = f"staticml-bundle-{bundle.release}"

    def setup(self, worker: Any) -> None:
        _WORKER.install(self.bundle)

    def teardown(self, worker: Any) -> None:
        _WORKER.remove(self.bundle.release)


def score_partition(release: str, chunk: Chunk) -> Scored:
    """Runs on a worker: the chunk scored with the installed bundle."""
    with _WORKER.scorer(release) as scorer:
        return score_chunk(scorer, chunk)


class _WorkerBundles:
    """A worker process's bundles; one at a time has its code imported (two bundles may ship
    packages of the same name), and tasks use it one at a time."""

    def __init__(self) -> None:
        self._bundles: dict[str, Bundle] = {}
        self._lock = threading.Lock()
        self._open: tuple[str, Scorer, ExitStack] | None = None

    def install(self, bundle: Bundle) -> None:
        self._bundles[bundle.release] = bundle

    def remove(self, release: str) -> None:
        with self._lock:
            self._bundles.pop(release, None)
            if self._open and self._open[0] == release:
                self._close()

    @contextmanager
    def scorer(self, release: str) -> Iterator[Scorer]:
        with self._lock:
            if self._open is None or self._open[0] != release:
                self._close()
                self._open = (release, *self._opened(release))
            yield self._open[1]

    def _opened(self, release: str) -> tuple[Scorer, ExitStack]:
        bundle = self._bundles.get(release)
        if bundle is None:
            raise ScoringError(
                f"bundle {release} is not installed on this worker; run the job again."
            )
        stack = ExitStack()
        return stack.enter_context(open_scorer(bundle)), stack

    def _close(self) -> None:
        if self._open is not None:
            self._open[2].close()
            self._open = None


_WORKER = _WorkerBundles()
