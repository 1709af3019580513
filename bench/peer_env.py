"""OpenNMT-py 3.5.1 in its own virtual environment, on our own PyTorch.

The way ../shared/peers/README.md describes: OpenNMT-py declares torch<2.3 but runs on
newer torch, so it and the packages it imports at start-up (the pins of
../shared/peers/fetch_wheels.sh) are installed with --no-deps; its `import spacy` is served
by the empty stand-in in ../shared/peers/stubs; TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 lets
torch >= 2.6 load its checkpoints. PyTorch, numpy, PyYAML, sacrebleu and sentencepiece come
from the interpreter running this (our .venv): a .pth file in the peer's site-packages
appends ours to its path, so both systems run the very same torch build and its kernels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ONMT_VERSION = "3.5.1"
PINS = (
    f"OpenNMT-py=={ONMT_VERSION}",
    "configargparse==1.9.0",
    "pyonmttok==1.38.1",
    "rapidfuzz==3.14.6",
    "pyahocorasick==2.3.1",
    "fasttext-wheel==0.9.2",
)
PTH_NAME = "zz_nmt_venv.pth"  # read after the peer's own packages
_PROBE = """
import json, sys, torch, onmt, pyonmttok
print(json.dumps({"python": sys.version.split()[0], "torch": torch.__version__,
                  "torch_path": torch.__file__, "onmt": onmt.__version__,
                  "pyonmttok": pyonmttok.__version__, "threads": torch.get_num_threads()}))
"""


class PeerError(RuntimeError):
    """The peer could not be installed, imported or run; the message says why."""


@dataclass(frozen=True)
class PeerEnv:
    """Where the peer lives and the environment its processes get."""

    venv: Path
    stubs: Path  # the folder holding the spaCy stand-in
    threads: int | None = None  # OMP/MKL threads for its processes (None: torch's default)

    @property
    def python(self) -> Path:
        """The peer venv's interpreter."""
        return self.venv / "bin" / "python"

    def variables(self) -> dict[str, str]:
        """The variables set for the peer's processes (on top of this process's)."""
        found = {
            "PYTHONPATH": str(self.stubs),
            "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1",
            "PYTHONUNBUFFERED": "1",
        }
        return found | thread_variables(self.threads)

    def environ(self) -> dict[str, str]:
        """This process's environment with `variables` applied."""
        return {**os.environ, **self.variables()}

    def shell_prefix(self) -> str:
        """`VAR=value ... PYTHON`: the start of a command line that reproduces a peer call."""
        assigned = " ".join(f"{key}={value}" for key, value in self.variables().items())
        return f"{assigned} {self.python}"


def thread_variables(threads: int | None) -> dict[str, str]:
    """OMP_NUM_THREADS and MKL_NUM_THREADS for `threads`, nothing for None."""
    if threads is None:
        return {}
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def probe(env: PeerEnv) -> dict[str, Any]:
    """Versions and thread count seen by the peer's interpreter; PeerError when it fails."""
    if not env.python.is_file():
        raise PeerError(f"no peer interpreter at {env.python}")
    result = subprocess.run(
        [str(env.python), "-c", _PROBE], env=env.environ(), capture_output=True, text=True
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise PeerError(f"OpenNMT-py does not import in {env.venv}: {last}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def install_commands(env: PeerEnv) -> list[list[str]]:
    """The commands that create the venv and install the pins (see the module docstring)."""
    return [
        [sys.executable, "-m", "venv", str(env.venv)],
        [str(env.python), "-m", "pip", "install", "--quiet", "--no-deps", *PINS],
    ]


def ensure_installed(env: PeerEnv, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Install the peer when it does not import yet; returns `probe`'s answer.

    Raises PeerError when an install step fails or OpenNMT-py still does not import.
    """
    try:
        found = probe(env)
        if found.get("onmt") == ONMT_VERSION:
            return found
    except PeerError as error:
        say(f"installing OpenNMT-py {ONMT_VERSION} into {env.venv} ({error})")
    create, install = install_commands(env)
    if not env.python.is_file():
        _run(create)
    _link_our_packages(env)
    _run(install)
    return probe(env)


def _link_our_packages(env: PeerEnv) -> Path:
    """The .pth that appends this interpreter's site-packages to the peer venv's path."""
    result = subprocess.run(
        [str(env.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    pth = Path(result.stdout.strip()) / PTH_NAME
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    pth.write_text("".join(f"{path}\n" for path in sorted(ours)), encoding="utf-8")
    return pth


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise PeerError(f"`{' '.join(command)}` failed ({result.returncode}):\n{tail}")
