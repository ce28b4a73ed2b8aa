"""Stage: pack the app's preprocessing and staticml's browser runtime as pure-Python wheels
(written reproducibly by `staticml.packaging`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from staticml.config import AppConfig
from staticml.errors import BuildError
from staticml.packaging import Wheel, dist_name, make_wheel, package_sources, runtime_wheel


@dataclass(frozen=True)
class Wheels:
    app: Wheel | None  # None: no preprocessing, the model takes the record's fields
    runtime: Wheel
    dependencies: tuple[Wheel, ...] = ()

    def all(self) -> tuple[Wheel, ...]:
        """In install order: staticml's runtime, the app's dependencies, the app."""
        return (self.runtime, *self.dependencies, *([self.app] if self.app else []))

    def importable(self) -> set[str]:
        """Top-level names the app's browser code may import besides the standard library."""
        shipped = (*([self.app] if self.app else []), *self.dependencies)
        return {name for wheel in shipped for name in wheel.top_level}

    @property
    def app_sources(self) -> tuple[Path, ...]:
        return self.app.sources if self.app else ()


def pack_wheels(config: AppConfig, dependencies: tuple[Wheel, ...] = ()) -> Wheels:
    return Wheels(app=app_wheel(config), runtime=runtime_wheel(), dependencies=dependencies)


def app_wheel(config: AppConfig) -> Wheel | None:
    """The top-level package (or module) holding the preprocessing entry point, if any."""
    top = config.preprocess.package
    if top is None:
        return None
    package_dir, module_file = config.app_dir / top, config.app_dir / f"{top}.py"
    if package_dir.is_dir():
        sources = package_sources(package_dir)
        files = {f"{top}/{p.relative_to(package_dir).as_posix()}": p.read_bytes() for p in sources}
    elif module_file.is_file():
        sources = [module_file]
        files = {module_file.name: module_file.read_bytes()}
    else:
        raise BuildError(
            f"preprocess.entry is {config.preprocess.entry}, but neither {package_dir}/ nor {module_file} "
            f"exists in {config.app_dir}. Put the preprocessing package in the app directory."
        )
    return Wheel(
        filename=f"{dist_name(top)}-0.0.0-py3-none-any.whl",
        data=make_wheel(dist_name(top), "0.0.0", files),
        top_level=(top,),
        sources=tuple(sources),
    )
