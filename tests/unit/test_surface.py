"""The Python surface that needs no cluster: docstrings, the exception hierarchy, the version,
and the one native method per operation behind both handlers."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import kubescale
import kubescale.asyncio

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("cls", [kubescale.ScaleHandler, kubescale.asyncio.ScaleHandler])
def test_every_method_and_constructor_argument_is_documented(cls: type) -> None:
    # help(ScaleHandler) shows the class docstring: it must describe each constructor argument.
    doc = cls.__doc__ or ""
    for name in inspect.signature(cls).parameters:
        assert f"    {name}: " in doc, f"{cls.__name__} does not document {name!r}"
    for name in dir(cls):
        if not name.startswith("_"):
            assert (getattr(cls, name).__doc__ or "").strip(), f"{cls.__name__}.{name} has no docstring"


def test_exception_hierarchy() -> None:
    assert issubclass(kubescale.ForbiddenError, PermissionError)
    assert issubclass(kubescale.ApiUnavailableError, ConnectionError)
    assert issubclass(kubescale.WaitTimeoutError, TimeoutError)
    assert issubclass(kubescale.InvalidTargetError, ValueError)
    for cls in (
        kubescale.NotFoundError,
        kubescale.ConflictError,
        kubescale.UnauthorizedError,
        kubescale.InvalidError,
    ):
        assert issubclass(cls, kubescale.ApiError) and issubclass(cls, kubescale.KubeScaleError)
    e = kubescale.NotFoundError("gone", 404, "NotFound")
    assert (e.status, e.reason, e.message) == (404, "NotFound", "gone")


def test_version_matches_cargo_toml() -> None:
    import re

    cargo = (ROOT / "Cargo.toml").read_text()
    match = re.search(r'^version = "([^"]+)"', cargo, re.M)
    assert match and kubescale.__version__ == match.group(1)


def test_both_handlers_share_one_native_method_per_operation() -> None:
    sync, aio = kubescale.ScaleHandler, kubescale.asyncio.ScaleHandler
    base = sync.__mro__[1]
    assert base is aio.__mro__[1] and base.__name__ == "_Handler"
    for name in ("scale", "get_scale", "wait_for_replicas", "check_and_scale", "run", "release_all"):
        assert name not in vars(sync) and name not in vars(aio) and name in vars(base), name


def test_every_exception_class_is_exported() -> None:
    import inspect

    import kubescale.errors as errors

    classes = {n for n, c in vars(errors).items() if inspect.isclass(c) and issubclass(c, Exception)}
    assert classes <= set(errors.__all__), classes - set(errors.__all__)
    assert "ScalerError" in kubescale.__all__
