"""What staticml is: its version and the folder it is installed in. Apart from the package's
`__init__`, so that the build stages can read them without importing the public API, which
imports the stages."""

from pathlib import Path

__version__ = "0.1.0"
PACKAGE = Path(__file__).resolve().parent
