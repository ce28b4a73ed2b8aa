"""The drift collector: receives summaries (docs/summaries.md), stores them, reports drift."""
