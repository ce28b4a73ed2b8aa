"""Every setting of `staticml.toml`, each declared once, as a field of a frozen dataclass.

- `declare`: how a setting is declared (`setting()`), and what a declaration gives;
- `parsers`: the parsers that check a value and say what is wrong with it;
- `building`, `learning`: the tables the build reads, and those for monitoring and retraining;
- `fields`: an `[[input]]` table, one field of a record;
- `app`: `AppConfig`, every table together, and `SETTINGS`, every setting in order;
- `lines`: where a key is written in the file.

`staticml.config` reads a file into an `AppConfig` with these declarations.
"""

from __future__ import annotations

from staticml.settings.app import SETTINGS, TABLES, AppConfig
from staticml.settings.declare import REQUIRED, Setting
from staticml.settings.fields import FIELD_SETTINGS, Field
from staticml.settings.parsers import EntryPoint

__all__ = [
    "FIELD_SETTINGS",
    "REQUIRED",
    "SETTINGS",
    "TABLES",
    "AppConfig",
    "EntryPoint",
    "Field",
    "Setting",
]
