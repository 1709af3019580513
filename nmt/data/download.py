"""Locate the corpus: a local file, the NMT_DATA variable, or a resume-safe HTTP download."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from tqdm import tqdm

from nmt.errors import DataError
from nmt.fileio import sha256_file

DEFAULT_URL = "https://www.manythings.org/anki/fra-eng.zip"
ENV_VAR = "NMT_DATA"
# sha256 of releases we know; a download is verified only when its URL is listed here.
KNOWN_SHA256 = {
    DEFAULT_URL: "161c93f18da3a7e6df611ed961426613260de8af06ccf8c79c977afe5135ac44",
}
_CHUNK = 1 << 16


def is_url(source: str) -> bool:
    """True for http(s) URLs."""
    return urlparse(source).scheme in ("http", "https")


def resolve_source(source: str | None) -> str:
    """The corpus location to use: the given one, else $NMT_DATA, else the manythings URL."""
    if source:
        return source
    return os.environ.get(ENV_VAR) or DEFAULT_URL


def _fetch(url: str, part: Path, progress: bool, timeout: float) -> None:
    """Download url into part, continuing a partial file when the server supports ranges."""
    done = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "nmt-data/1"})
    if done:
        request.add_header("Range", f"bytes={done}-")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if done and response.status != 206:  # server ignored the range: start again
            done = 0
        length = response.headers.get("Content-Length")
        total = done + int(length) if length else None
        mode = "ab" if done else "wb"
        with (
            open(part, mode) as out,
            tqdm(total=total, initial=done, unit="B", unit_scale=True, disable=not progress) as bar,
        ):
            bar.set_description(Path(urlparse(url).path).name or "download")
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                bar.update(len(chunk))


def download(
    url: str,
    dest_dir: Path,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download url into dest_dir (via a .part file renamed at the end) and return its path.

    An existing complete file is reused when it matches sha256 (or when no hash is known).
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / (Path(urlparse(url).path).name or "corpus.zip")
    if target.exists() and (sha256 is None or sha256_file(target) == sha256):
        return target
    part = target.with_name(target.name + ".part")
    try:
        _fetch(url, part, progress, timeout)
    except urllib.error.HTTPError as exc:
        if not (exc.code == 416 and part.exists()):  # 416: the .part is already complete
            raise DataError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DataError(
            f"could not download {url} ({exc}). If this machine is offline, pass a local "
            f"copy with --source PATH or set {ENV_VAR}=PATH."
        ) from exc
    if sha256 is not None:
        got = sha256_file(part)
        if got != sha256:
            part.unlink()
            raise DataError(f"checksum mismatch for {url}: expected {sha256}, got {got}")
    os.replace(part, target)
    return target


def fetch_source(source: str, download_dir: Path, progress: bool = True) -> Path:
    """A local path for the corpus: the file itself, or a download of a URL into download_dir."""
    if is_url(source):
        return download(source, download_dir, KNOWN_SHA256.get(source), progress=progress)
    path = Path(source).expanduser()
    if not path.is_file():
        raise DataError(f"corpus file not found: {path} (give a .zip or .txt, or an http(s) URL)")
    return path
