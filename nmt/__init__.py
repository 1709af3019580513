"""nmt: English-French RNN neural machine translation.

The public API, what front ends (the service, scripts) import; everything else is internal:

    from nmt import load_translator, SearchOptions

    translator = load_translator("models/en-fr-base", device="cpu")
    options = translator.description.search_defaults.merged(beam_size=5, n_best=2)
    [translation] = translator.translate(["Where is the station?"], options)
    print(translation.text, translation.alternatives)

Names load on first use (PEP 562), so `import nmt` stays light: the model stack (torch)
is imported only when a name that needs it is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    # loading a model, and what a translator is and says about itself
    "load_translator": "nmt.translator",
    "resolve_checkpoint": "nmt.translator",
    "shipped_model_dir": "nmt.translator",
    "Translator": "nmt.translator",
    "ModelDescription": "nmt.translator",
    "verify_bundle": "nmt.checkpoint",
    # what it returns
    "Translation": "nmt.translation",
    "Alternative": "nmt.translation",
    "Link": "nmt.translation",
    "EOS_PIECE": "nmt.translation",
    # how it searches
    "SearchOptions": "nmt.decoding.types",
    "MAX_BEAM_SIZE": "nmt.config",
    "Quantization": "nmt.config",
    # errors: NmtError and its kinds are the user's to fix
    "NmtError": "nmt.errors",
    "CheckpointError": "nmt.errors",
    "DataError": "nmt.errors",
    "SearchOptionsError": "nmt.errors",
    # the text boundary: documents into sentences (plain text or HTML) and back
    "split_sentences": "nmt.text",
    "split_html": "nmt.text",
    "Template": "nmt.text",
    "MarkupTemplate": "nmt.text",
}

__all__ = [  # what `from nmt import *` gives: the keys of _EXPORTS, and the version
    "__version__",
    "Alternative",
    "CheckpointError",
    "DataError",
    "EOS_PIECE",
    "Link",
    "MAX_BEAM_SIZE",
    "MarkupTemplate",
    "ModelDescription",
    "NmtError",
    "Quantization",
    "SearchOptions",
    "SearchOptionsError",
    "Template",
    "Translation",
    "Translator",
    "load_translator",
    "resolve_checkpoint",
    "shipped_model_dir",
    "split_html",
    "split_sentences",
    "verify_bundle",
]

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from nmt.checkpoint import verify_bundle
    from nmt.config import MAX_BEAM_SIZE, Quantization
    from nmt.decoding.types import SearchOptions
    from nmt.errors import CheckpointError, DataError, NmtError, SearchOptionsError
    from nmt.text import MarkupTemplate, Template, split_html, split_sentences
    from nmt.translation import EOS_PIECE, Alternative, Link, Translation
    from nmt.translator import (
        ModelDescription,
        Translator,
        load_translator,
        resolve_checkpoint,
        shipped_model_dir,
    )


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nmt' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
