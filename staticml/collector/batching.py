"""Group commit: summaries that arrive together share one transaction and one fsync.

A request hands its summary over and waits for the commit of the batch it joined, so a 202
still means "committed". While `commits` batches commit, the summaries that arrive meanwhile
queue and form the next one (at most `max_batch`), so no summary waits longer than a commit in
progress plus its own, and a lone summary is committed at once. A batch that fails fails every
one of its requests with the store's error (503 with Retry-After): none is acknowledged without
its commit.

With one commit at a time, a batch holds only the clients that were not waiting on the one
before: they alternate, each batch about half of them, and a commit's fsync bounds the rate.
A store with several connections (PostgreSQL) commits several batches at once: the database
groups their WAL flushes, and each batch takes whoever arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from staticml.collector.limits import DEFAULT_MAX_BATCH

Item = TypeVar("Item")


class GroupCommit(Generic[Item]):
    """Batches `commit(items) -> [was new, ...]` calls made concurrently on one event loop,
    with at most `commits` of them running at once, on threads of its own (not the shared
    pool, whose bookkeeping per call cost more than a summary's validation)."""

    def __init__(
        self,
        commit: Callable[[Sequence[Item]], list[bool]],
        max_batch: int = DEFAULT_MAX_BATCH,
        commits: int = 1,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if commits < 1:
            raise ValueError(f"commits must be at least 1, got {commits}")
        self._commit = commit
        self.max_batch = max_batch
        self.commits = commits
        self._pending: list[tuple[Item, asyncio.Future[bool]]] = []
        self._draining: set[asyncio.Task[None]] = set()
        self._threads = ThreadPoolExecutor(commits, thread_name_prefix="staticml-commit")

    async def add(self, item: Item) -> bool:
        """Once `item`'s batch is committed: whether it was new (not merged before)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._pending.append((item, future))
        self._draining = {task for task in self._draining if not task.done()}
        if len(self._draining) < self.commits:
            self._draining.add(loop.create_task(self._drain()))
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                items = [item for item, _ in batch]
                loop = asyncio.get_running_loop()
                results = await loop.run_in_executor(self._threads, self._commit, items)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
