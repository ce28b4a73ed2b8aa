"""Build the default demo app: `python build.py [--serve] [-o dist] ...`.

A thin wrapper over `staticml build app/`; every option of that command works here.
"""

import sys
from pathlib import Path

from staticml.cli import main

if __name__ == "__main__":
    main(["build", str(Path(__file__).parent / "app"), *sys.argv[1:]])
