"""The text boundary: every string the library reads or writes goes through here.

Guarantees (each one tested, `tests/text/`):
- **Never raises on content.** Any Python `str` (lone surrogates, control characters,
  zero-width and bidi marks, any newline) and any bytes (decoded as UTF-8, invalid
  sequences becoming U+FFFD) are accepted by every function of this package and by
  `NeuralTranslator.translate`.
- **Deterministic cleaning** (`clean.sanitize`): what the model sees is NFC text on one
  line, format characters and controls removed, whitespace runs one space.
- **One line in, one line out** (`lines`): a line ends at "\\n" only; N rows are written
  as N lines; a translation never holds a line break.
- **Nothing invented**: a text with no letter outside protected spans (punctuation,
  emoji, symbols, numbers, URLs...) comes back as it is (`clean.tidy`).
- **Verbatim spans**: URLs, e-mail addresses, phone numbers, times, prices, numbers,
  entities, over-long tokens and characters the tokenizer does not know come out exactly
  as they came in, once each
  (`spans`, `restore`), placed by the model's attention.
- **Counts read as words**: a count from 1 to 20 in digits, followed by the word it
  counts, reaches the model as its English word and comes back as the same digits
  (`numbers`).
- **Rare names kept**: capitalised words the training source holds at most once come out
  as written (`names`), when the model gives its source word counts.
- **Case patterns kept**: ALL-CAPS and Title-Case input are translated in sentence case
  and the output given the same pattern (`casing`).
- **Nothing cut off**: texts over the model's length limit are split at clause
  punctuation, then whitespace, and each part translated (`chunks`).
- **Markup kept** (`html`, `markup`): block structure, attributes, entities between
  sentences and the content of script/style/pre/code stay as written; inline tags do not
  split sentences and are placed on the aligned target words.
- **Sentences** (`sentences`): paragraphs split into sentences with the exact
  whitespace between them kept; the translator gives each sentence of a text to the
  model on its own (`pipeline`).
- **Quotes as pairs** (`quotes`): a source's paired double quotes come back as French
  guillemets, one pair per pair, around the words aligned to what they quoted.

Modules here import neither torch nor the model; `pipeline` is what the translator runs.
"""

from nmt.text.clean import decode_utf8, has_letters, sanitize, tidy
from nmt.text.html import MarkupTemplate, split_html
from nmt.text.lines import format_lines, read_lines, split_lines, write_lines
from nmt.text.sentences import Template, sentence_ranges, split_sentences

__all__ = [
    "MarkupTemplate",
    "Template",
    "decode_utf8",
    "format_lines",
    "has_letters",
    "read_lines",
    "sanitize",
    "sentence_ranges",
    "split_html",
    "split_lines",
    "split_sentences",
    "tidy",
    "write_lines",
]
