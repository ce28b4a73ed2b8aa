"""Group commit: what arrives during a commit forms the next batch; a failed batch fails all."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from staticml.collector.batching import GroupCommit
from staticml.collector.errors import StorageUnavailable


class HeldCommits:
    """A commit function that records each batch and holds the first until released."""

    def __init__(self, fail_first: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()
        self.fail_first = fail_first

    def __call__(self, items):
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.release.wait(10)
            if self.fail_first:
                raise StorageUnavailable("The database failed: disk I/O error.")
        return [not item.startswith("seen") for item in items]


def run(coroutine):
    """`asyncio.run` on a thread of its own: the suite's Playwright keeps a loop running on
    the main thread, where asyncio.run refuses to start another."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


async def arrive(committer, names, commits: HeldCommits):
    """The first name alone, the rest while its commit is held; every answer, or its error."""
    first = asyncio.ensure_future(committer.add(names[0]))
    while not commits.batches:
        await asyncio.sleep(0.001)
    rest = [asyncio.ensure_future(committer.add(name)) for name in names[1:]]
    await asyncio.sleep(0.01)
    commits.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_what_arrives_during_a_commit_is_committed_together_next():
    commits = HeldCommits()
    names = ["a", "b", "seen-c", "d"]
    answers = run(arrive(GroupCommit(commits), names, commits))
    assert commits.batches == [["a"], ["b", "seen-c", "d"]]
    assert answers == [True, True, False, True]


def test_a_batch_holds_at_most_max_batch():
    commits = HeldCommits()
    names = [f"s{i}" for i in range(8)]
    run(arrive(GroupCommit(commits, max_batch=3), names, commits))
    assert commits.batches == [["s0"], ["s1", "s2", "s3"], ["s4", "s5", "s6"], ["s7"]]


def test_max_batch_one_commits_each_alone():
    commits = HeldCommits()
    run(arrive(GroupCommit(commits, max_batch=1), ["a", "b", "c"], commits))
    assert commits.batches == [["a"], ["b"], ["c"]]


def test_a_failed_batch_fails_each_of_its_summaries_and_the_next_batch_still_commits():
    commits = HeldCommits(fail_first=True)
    committer = GroupCommit(commits)

    async def scenario():
        first = asyncio.ensure_future(committer.add("a"))
        second = asyncio.ensure_future(committer.add("b"))
        while not commits.batches:
            await asyncio.sleep(0.001)
        third = asyncio.ensure_future(committer.add("c"))
        await asyncio.sleep(0.01)
        commits.release.set()
        return await asyncio.gather(first, second, third, return_exceptions=True)

    a, b, c = run(scenario())
    assert commits.batches == [["a", "b"], ["c"]]
    assert isinstance(a, StorageUnavailable) and isinstance(b, StorageUnavailable)
    assert c is True


def test_with_two_commits_at_once_a_summary_need_not_wait_for_the_one_in_progress():
    commits = HeldCommits()
    committer = GroupCommit(commits, commits=2)

    async def scenario():
        first = asyncio.ensure_future(committer.add("a"))
        while not commits.batches:
            await asyncio.sleep(0.001)
        second = await asyncio.wait_for(committer.add("seen-b"), 10)
        first_was_held = not first.done()
        commits.release.set()
        return await first, second, first_was_held

    assert run(scenario()) == (True, False, True)
    assert commits.batches == [["a"], ["seen-b"]]


@pytest.mark.parametrize("option", ["max_batch", "commits"])
def test_max_batch_and_commits_must_be_positive(option):
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(HeldCommits(), **{option: 0})
