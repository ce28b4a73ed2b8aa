"""Python that runs inside Pyodide, in the page's Web Worker.

It is shipped to the browser as its own small wheel and imports nothing from the rest of
staticml: only the standard library. Platform calls live in `_compat`, so every module here
is also tested in CPython.
"""
