"""A built bundle, loaded to run outside the browser: exactly the files its page runs.

`bundle.json`'s `"predict"` names the wheels (in install order), the preprocessing spec and
the model; every one of those files is read once and checked against the sha256 the manifest
lists, so batch scoring can only run what the browser runs.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticml.errors import ScoringError
from staticml.hashing import sha256_hex
from staticml.packaging import RUNTIME_DIST, Wheel, runtime_wheel
from staticml.runtime.contract import (
    MANIFEST,
    BundleManifest,
    ListedAsset,
    OutputSpec,
    PredictSpec,
    ShownOutput,
)


@dataclass(frozen=True)
class Bundle:
    directory: Path
    manifest: BundleManifest
    wheels: tuple[Wheel, ...]
    model: bytes

    @property
    def release(self) -> str:
        return self.manifest.release

    @property
    def generator(self) -> str:
        return self.manifest.generator

    @property
    def python(self) -> PredictSpec:
        return self.manifest.predict.python

    @property
    def spec(self) -> OutputSpec:
        """The model's outputs, as every path turns them into predictions."""
        return self.manifest.predict.model.spec

    @property
    def output(self) -> ShownOutput:
        """The outputs and how the page shows them (target, unit), as its CSV scorer does."""
        return self.python.output or ShownOutput(self.spec)

    @property
    def fields(self) -> list[Mapping[str, Any]]:
        return list(self.python.fields)


def load_bundle(directory: Path | str) -> Bundle:
    """The bundle in `directory` (or the `bundle.json` given), its files verified."""
    folder = Path(directory)
    if folder.name == MANIFEST and folder.is_file():
        folder = folder.parent
    manifest_path = folder / MANIFEST
    document = _manifest(manifest_path)
    generator = str(document.get("generator", "an unknown staticml"))
    if not isinstance(document.get("predict"), dict):
        raise ScoringError(
            f"{manifest_path} has no 'predict' section (it was written by {generator}): "
            "rebuild the app with this staticml to score with it outside the browser."
        )
    try:
        manifest = BundleManifest.from_json(document)
    except (KeyError, TypeError, ValueError) as exc:
        raise ScoringError(
            f"{manifest_path}: the manifest is incomplete (no {exc}); rebuild the bundle."
        ) from exc
    assets, predict = manifest.assets, manifest.predict
    wheels = tuple(_wheel(path, _verified(folder, path, assets)) for path in predict.wheels)
    model = _verified(folder, predict.model.url, assets)
    return Bundle(folder, manifest, wheels, model)


def check_runtime(bundle: Bundle) -> None:
    """Refuse a bundle whose browser runtime is not the one this process runs.

    The runtime wheel is staticml's own `staticml.runtime`, which this process has already
    imported; it runs that copy only when it is byte-for-byte the bundle's (wheels are
    reproducible), so validation and the CSV shape cannot differ from the page's.
    """
    shipped = [w for w in bundle.wheels if w.filename.startswith(f"{RUNTIME_DIST}-")]
    ours = runtime_wheel()
    if len(shipped) != 1 or sha256_hex(shipped[0].data) != sha256_hex(ours.data):
        raise ScoringError(
            f"bundle {bundle.directory} was built by {bundle.generator} with a browser runtime "
            f"other than this staticml's ({ours.filename}): batch scoring runs the bundle's own "
            "code, so score it with the staticml that built it, or rebuild the bundle with this one."
        )


def _manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScoringError(
            f"{path} does not exist: give the folder `staticml build` wrote (it holds {MANIFEST})."
        ) from None
    except (OSError, ValueError) as exc:
        raise ScoringError(
            f"{path} is not a staticml manifest ({exc}); rebuild the bundle."
        ) from exc
    if not isinstance(manifest, dict):
        raise ScoringError(f"{path} is not a staticml manifest; rebuild the bundle.")
    return manifest


def _verified(folder: Path, relative: str, assets: Mapping[str, ListedAsset]) -> bytes:
    """The file's bytes, when they are the ones the manifest lists."""
    path = folder / relative
    listed = assets.get(relative)
    if listed is None or not path.resolve().is_relative_to(folder.resolve()):
        raise ScoringError(
            f"{folder / MANIFEST} names {relative} to run the bundle but does not list it "
            "among its assets: the manifest was edited or damaged; rebuild the bundle."
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScoringError(
            f"{path} cannot be read ({exc}): copy the whole bundle folder, or rebuild it."
        ) from exc
    if sha256_hex(data) != listed.sha256:
        raise ScoringError(
            f"{path} does not match the sha256 {MANIFEST} lists for it: it changed after the "
            "build, so it is not what the browser runs. Restore it from the build or rebuild."
        )
    return data


def _wheel(relative: str, data: bytes) -> Wheel:
    name = relative.rsplit("/", 1)[-1]
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            listed = [n for n in archive.namelist() if n.endswith(".dist-info/top_level.txt")]
            top = archive.read(listed[0]).decode("utf-8").split() if listed else []
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise ScoringError(
            f"wheel {relative} is not a valid wheel ({exc}); rebuild the bundle."
        ) from exc
    return Wheel(filename=name, data=data, top_level=tuple(top), sources=())
