"""Where LocalCluster looks for its binaries, what it says when one is missing, and how it reads
its audit log (no cluster is started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubescale.testing import LocalCluster, MissingBinaryError


def test_missing_binary_names_it_and_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path / "assets"))
    monkeypatch.setenv("KUBESCALE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(MissingBinaryError) as err:
        LocalCluster().start()
    assert "etcd not found" in str(err.value)
    assert "scripts/install-control-plane.sh" in str(err.value)
    assert isinstance(err.value, FileNotFoundError)


def test_kubebuilder_assets_come_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubescale.testing import find_binary

    fake = tmp_path / "etcd"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    assert find_binary("etcd") == str(fake)


def test_audit_entries_leave_an_entry_still_being_written(tmp_path: Path) -> None:
    cluster = LocalCluster()
    cluster.dir = tmp_path
    (tmp_path / "audit.log").write_text('{"verb": "patch"}\n{"verb": "get"}\n{"verb": "up')
    assert cluster.audit_entries() == [{"verb": "patch"}, {"verb": "get"}]
    (tmp_path / "audit.log").write_text('{"verb": "patch"}\n{"verb": "get"}\n{"verb": "update"}\n')
    assert [e["verb"] for e in cluster.audit_entries()] == ["patch", "get", "update"]
