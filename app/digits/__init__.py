"""Preprocessing of the digits demo: pure Python, runs unchanged in CPython and in Pyodide."""
