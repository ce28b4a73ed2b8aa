"""The one exception family users see.

Every message names the thing that is wrong, the problem, and how to fix it. These are raised
by the library and caught only at the edges (the CLI, HTTP handlers), never printed and ignored.
"""

from __future__ import annotations


class StaticMLError(Exception):
    """A problem the user can fix; the message is written for a person."""


class ConfigError(StaticMLError):
    """`staticml.toml` (or an option) is missing, malformed or inconsistent."""


class BuildError(StaticMLError):
    """A build stage could not produce its output from valid configuration."""


class AssetError(StaticMLError):
    """A file the build needs (a runtime, a template, app code) is missing or unusable."""


class CollectorError(StaticMLError):
    """The drift collector cannot start or answer: a bundle, database or request is unusable."""


class RolloutError(StaticMLError):
    """A site, release or rollout step (promote, canary, shadow, bandit) cannot be done."""


class ScoringError(StaticMLError):
    """Batch scoring cannot run: the bundle, the input or output file, or the cluster is unusable."""
