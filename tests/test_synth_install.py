"""Tests for qtpe.synth.install: fetching and locating the OSU Liberty and OpenSTA."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from qtpe.synth import install as inst


def test_missing_libraries_parses_ldd() -> None:
    ldd = (
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tlibtcl8.6.so => not found\n"
        "\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f)\n"
        "\tlibreadline.so.8 => not found\n"
    )
    assert inst.missing_libraries(ldd) == ("libtcl8.6.so", "libreadline.so.8")
    assert inst.missing_libraries("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == ()


def test_locate_prefers_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = tmp_path / "my.lib"
    lib.write_text("library(x) {}\n")
    monkeypatch.setenv("QTPE_LIBERTY", str(lib))
    assert inst.liberty_path(tmp_path / "nowhere") == lib


def test_locate_missing_says_make_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QTPE_LIBERTY", raising=False)
    monkeypatch.delenv("QTPE_STA", raising=False)
    with pytest.raises(inst.CollateralMissing, match=r"Liberty file not found.*make setup"):
        inst.liberty_path(tmp_path)
    with pytest.raises(inst.CollateralMissing, match=r"OpenSTA binary.*make setup.*QTPE_STA"):
        inst.sta_path(tmp_path)
    monkeypatch.setenv("QTPE_STA", str(tmp_path / "absent"))
    with pytest.raises(inst.CollateralMissing, match=r"QTPE_STA=.*does not name an existing"):
        inst.sta_path(tmp_path)


class FakeDebian:
    """Stands in for apt-get/dpkg/ldd/sta: no lists at first, OpenSTA's libraries missing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.have_lists = False
        self.have_libs = False

    def __call__(self, argv: Sequence[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
        argv = tuple(argv)
        self.calls.append(argv)
        out, code = "", 0
        if argv[:2] == ("apt-get", "update"):
            self.have_lists = True
        elif argv[:2] == ("apt-get", "download"):
            if not self.have_lists:
                out, code = "E: Unable to locate package qflow-tech-osu018", 100
            else:
                assert cwd is not None
                (cwd / "qflow-tech-osu018_1.3_all.deb").write_text("deb")
                (cwd / "opensta_0~2019_amd64.deb").write_text("deb")
        elif argv[:2] == ("dpkg", "-x"):
            root = Path(argv[3])
            if "qflow" in argv[2]:
                (root / inst.LIBERTY_RELPATH).parent.mkdir(parents=True, exist_ok=True)
                (root / inst.LIBERTY_RELPATH).write_text("library(osu018_stdcells) {}\n")
            else:
                (root / inst.STA_RELPATH).parent.mkdir(parents=True, exist_ok=True)
                (root / inst.STA_RELPATH).write_text("#!/bin/false\n")
        elif argv[:3] == ("apt-get", "install", "-y"):
            self.have_libs = True
        elif argv[0] == "ldd":
            out = "\tlibc.so.6 => /lib/libc.so.6 (0x1)\n"
            if not self.have_libs:
                out += "\tlibtcl8.6.so => not found\n\tlibreadline.so.8 => not found\n"
        elif argv[-1] == "-version":
            out = "2.0.17\n"
        else:
            raise AssertionError(f"unexpected command {argv}")
        return subprocess.CompletedProcess(list(argv), code, out, None)


def test_install_flow_and_idempotence(tmp_path: Path) -> None:
    fake = FakeDebian()
    first = inst.install(tmp_path, run=fake)
    commands = [" ".join(c[:2]) for c in fake.calls]
    # update only after a failed download, then the download again
    assert commands[:3] == ["apt-get download", "apt-get update", "apt-get download"]
    assert ("apt-get", "install", "-y", "--no-install-recommends", "libreadline8", "libtcl8.6") in (
        fake.calls
    )
    assert first.liberty == tmp_path / inst.LIBERTY_RELPATH and first.liberty.is_file()
    assert first.sta == tmp_path / inst.STA_RELPATH and first.sta_version == "2.0.17"
    assert not first.already_installed
    assert (tmp_path / inst.STAMP_NAME).is_file()

    fake.calls.clear()
    second = inst.install(tmp_path, run=fake)
    assert second.already_installed
    assert all(c[0] != "apt-get" and c[0] != "dpkg" for c in fake.calls)


def test_install_failure_quotes_the_command(tmp_path: Path) -> None:
    def broken(argv: Sequence[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(argv), 100, "E: network is down\n", None)

    with pytest.raises(inst.InstallError, match=r"apt-get update failed.*\nE: network is down"):
        inst.install(tmp_path, run=broken)
    assert not (tmp_path / inst.STAMP_NAME).exists()


def test_repository_install_is_fast_when_done(capsys: pytest.CaptureFixture[str]) -> None:
    inst.install()  # what `make setup` does; may fetch on a fresh machine
    start = time.monotonic()
    assert inst.main([]) == 0
    assert time.monotonic() - start < 2.0
    assert "already installed" in capsys.readouterr().out
    assert inst.liberty_path().name == "osu018_stdcells.lib"
