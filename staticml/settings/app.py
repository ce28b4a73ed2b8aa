"""`AppConfig`: one app's whole `staticml.toml`, validated, with typed access to every setting.

Each `[table]` is the `AppConfig` attribute of the same name, holding the frozen dataclass that
declares the table's settings (`.building`, `.learning`): `[build] brotli_quality` is
`config.build.brotli_quality`. `SETTINGS` lists them all in this order, the order of the
settings table in docs/configuration.md.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path

from staticml.runtime.contract import OutputSpec, PredictSpec
from staticml.settings.building import (
    AppSettings,
    BuildSettings,
    CompressSettings,
    ModelSettings,
    OutputSettings,
    PageSettings,
    PreprocessSettings,
    RuntimeSettings,
    SamplesSettings,
)
from staticml.settings.declare import Setting, declared
from staticml.settings.fields import Field
from staticml.settings.learning import MonitorSettings, RetrainSettings, TrainSettings
from staticml.settings.lines import line_of


@dataclass(frozen=True)
class AppConfig:
    """Everything a build needs to know about one app, validated.

    Besides the tables: `[[input]]` is `input`, one `Field` per table, and `text` is the file
    as read, in which `line` finds where a key is written.
    """

    app_dir: Path
    source: Path
    text: str = dataclasses.field(repr=False)
    app: AppSettings
    model: ModelSettings
    output: OutputSettings
    preprocess: PreprocessSettings
    samples: SamplesSettings
    page: PageSettings
    monitor: MonitorSettings
    runtime: RuntimeSettings
    compress: CompressSettings
    train: TrainSettings
    retrain: RetrainSettings
    build: BuildSettings
    input: tuple[Field, ...]

    def runtime_spec(self, model: OutputSpec) -> PredictSpec:
        """What `staticml.runtime.engine.Predictor` needs, in the browser and at build time,
        to feed `model`."""
        entry = self.preprocess.entry
        return PredictSpec(
            entry=str(entry) if entry else None,
            batch=str(self.preprocess.batch) if self.preprocess.batch else None,
            n_features=model.n_features,
            fields=tuple(f.spec() for f in self.input),
            inputs=model.inputs,
        )

    def line(self, key: str) -> int | None:
        """The line of `staticml.toml` that sets `key` (`model.train`, `input[1].type`)."""
        return line_of(self.text, key)


def _tables() -> tuple[tuple[str, type], ...]:
    hints = typing.get_type_hints(AppConfig)
    return tuple(
        (field.name, hints[field.name])
        for field in dataclasses.fields(AppConfig)
        if dataclasses.is_dataclass(hints[field.name])
    )


TABLES: tuple[tuple[str, type], ...] = _tables()
"""Each table's name and the dataclass of its settings, in order."""

SETTINGS: tuple[Setting, ...] = tuple(
    setting for name, cls in TABLES for setting in declared(cls, f"{name}.")
)
