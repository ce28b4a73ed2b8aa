"""Releases and rollout from static files: a site of immutable releases, the routing plan
pages read (`manifest.json`), and the bandit that adjusts it. See docs/rollout.md."""

from staticml.rollout.site import Site

__all__ = ["Site"]
