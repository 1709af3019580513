"""Double quotes: taken out of the model's input, put back as French guillemets.

Tatoeba has few quotes (281 of 160,600 training sources) and its French side writes them
both ways (183 of those targets use « », 88 ASCII "). Shown quotes, the model mixes the
two styles, drops one of a pair ("Are those your books?" "No." -> `« Est-ce tes livres ?
« Non. »`) and garbles the word a quote is glued to ("Look," she said. -> `"Leok, » a
dit.`). Without them it translates the words well ("Regarde, elle a dit."). So:
- `without_quotes`: well-formed pairs of double quotes are taken out of the model's input;
- `french_quotes`: after decoding, a translation with as many well-formed pairs as the
  source keeps the model's places; otherwise its double quotes are taken out and each
  source pair is put back around the whole words aligned to what it quotes, pairs side by
  side in source order (a pair whose words the translation lacks is left out). Either way
  they are written `« ` and ` »`; a placed quote opening on a capital in the source opens
  on one here, and the comma introducing it becomes French's colon.
Sources without paired double quotes are left as they are; a " after a digit is an inch
mark (`5'10"`), not a quote.
Single quotes are left alone: in both languages they are mostly apostrophes.
"""

from __future__ import annotations

from collections.abc import Sequence

from nmt.text.edits import EditBuilder, Edited
from nmt.text.markup import proportional_links
from nmt.translation import Link

OPENING, CLOSING = "«", "»"
_OPENERS = "«“„"
_CLOSERS = "»”"
_DOUBLE = '"' + _OPENERS + _CLOSERS
_BEFORE_OPENING = "([{—–-"

Edit = tuple[int, int, str]  # replace text[start:end] by the string


def quote_pairs(text: str) -> list[tuple[int, int]] | None:
    """(opening, closing) character index of each pair of double quotes, in order of opening.

    An ASCII " opens after whitespace or a bracket (or at the start) when a non-space
    follows, and closes otherwise. None when the quotes do not pair up (a closing one with
    none open, one left open); [] when there are none.
    """
    pairs: list[tuple[int, int]] = []
    open_at: list[int] = []
    for index, char in enumerate(text):
        if char not in _DOUBLE or _inch_mark(text, index):
            continue
        if _opens(text, index, text[open_at[-1]] if open_at else None):
            open_at.append(index)
        elif open_at:
            pairs.append((open_at.pop(), index))
        else:
            return None
    return None if open_at else sorted(pairs)


def without_quotes(text: Edited) -> Edited:
    """`text` without its paired double quotes (unchanged unless they pair up), each space
    they leave doubled or at an end taken out too; origins are kept."""
    pairs = quote_pairs(text.text)
    if not pairs:
        return text
    quotes = {index for pair in pairs for index in pair}
    builder = EditBuilder(len(text.text))
    for index, char in enumerate(text.text):
        if index in quotes:
            continue
        if char.isspace() and builder.last_char() in ("", " "):
            continue
        builder.copy(char, index)
    if builder.last_char() == " ":
        builder.drop_last()
    return text.then(builder.build())


def _inch_mark(text: str, index: int) -> bool:
    """Whether the character at `index` is a " after a digit: inches (`5'10"`), no quote."""
    return text[index] == '"' and index > 0 and text[index - 1].isdigit()


def _opens(text: str, index: int, inside: str | None) -> bool:
    """Whether the quote at `index` opens; `inside`: the quote open around it, if any."""
    char = text[index]
    if char == "“" and inside == "„":  # German quotes: „...“
        return False
    if char != '"':
        return char in _OPENERS
    after_space = index == 0 or text[index - 1].isspace() or text[index - 1] in _BEFORE_OPENING
    before_space = index + 1 == len(text) or text[index + 1].isspace()
    if after_space and before_space:  # a quote standing alone: it closes an open one
        return not inside
    return after_space


def french_quotes(
    source: str, text: str, alignment: Sequence[Link] | None
) -> tuple[str, list[Link] | None]:
    """`text` (a translation of `source`) with its double quotes as the module docstring says,
    and `alignment` moved with the characters (None stays None; links are then guessed by
    relative position to place quotes).
    """
    wanted = quote_pairs(source)
    if not wanted:
        return text, None if alignment is None else list(alignment)
    found = quote_pairs(text)
    if found is not None and len(found) == len(wanted):
        edits = [edit for pair in found for edit in _restyled(text, *pair)]
        return _apply(text, edits, alignment)
    stripped, links = _apply(text, _without_quotes(text), alignment)
    guessed = links if links is not None else proportional_links(source, stripped)
    edits: list[Edit] = []
    floor = 0  # pairs are placed in source order, side by side, never nested
    for pair in wanted:
        stretch = _aligned_stretch(guessed, pair, stripped, floor)
        if stretch is None:  # nothing the pair quoted is in the translation
            continue
        start, end = stretch
        space = "" if start == 0 or stripped[start - 1].isspace() else " "
        edits.append((start, start, space + OPENING + " "))
        edits.extend(_speech_opening(source, stripped, start, pair[0]))
        edits.append((end, end, " " + CLOSING))
        floor = end
    return _apply(stripped, sorted(edits, key=lambda edit: (edit[0], edit[1])), links)


def _aligned_stretch(
    links: Sequence[Link], pair: tuple[int, int], text: str, floor: int
) -> tuple[int, int] | None:
    """[start, end) of the target words aligned inside the source pair, widened to whole
    words and starting at `floor` or later; None when no word is aligned there."""
    opening, closing = pair
    inside = [
        link
        for link in links
        if link.target_start < link.target_end
        and link.source_start < closing
        and opening < link.source_end
        and opening <= link.source_start
    ]
    if not inside:
        return None
    start = max(min(link.target_start for link in inside), floor)
    end = max(link.target_end for link in inside)
    while start > floor and _in_word(text[start - 1]):
        start -= 1
    while end < len(text) and _in_word(text[end]):
        end += 1
    return (start, end) if start < end else None


def _in_word(char: str) -> bool:
    return char.isalnum() or char in "'’-"


def _speech_opening(source: str, text: str, position: int, opening: int) -> list[Edit]:
    """Edits for the guillemet placed at `position` for the source quote at `opening`: the
    first letter capitalised and a comma before it made a colon, where that quote opens
    on a capital or after a comma or colon."""
    edits: list[Edit] = []
    if source[opening + 1 : opening + 2].isupper() and text[position : position + 1].islower():
        edits.append((position, position + 1, text[position].upper()))
    introduced = source[max(0, opening - 2) : opening].rstrip().endswith((",", ":"))
    if introduced and text[max(0, position - 2) : position] == ", ":
        spaced = text[max(0, position - 3) : position - 2] == " "  # "dit , « ..." already
        edits.append((position - 2, position - 1, ":" if spaced else " :"))
    return edits


def _restyled(text: str, opening: int, closing: int) -> list[Edit]:
    """Edits making one pair `« ... »`: guillemets, one space inside each."""
    after = opening + 1
    while after < closing and text[after].isspace():
        after += 1
    before = closing
    while before > after and text[before - 1].isspace():
        before -= 1
    return [(opening, after, OPENING + " "), (before, closing + 1, " " + CLOSING)]


def _without_quotes(text: str) -> list[Edit]:
    """Edits taking out every double quote, and a space it would leave doubled or leading."""
    edits: list[Edit] = []
    for index, char in enumerate(text):
        if char not in _DOUBLE or _inch_mark(text, index):
            continue
        end = index + 1
        space_before = index == 0 or text[index - 1].isspace()
        if space_before and end < len(text) and text[end].isspace():
            end += 1
        edits.append((index, end, ""))
    return edits


def _apply(
    text: str, edits: Sequence[Edit], links: Sequence[Link] | None
) -> tuple[str, list[Link] | None]:
    """`text` with non-overlapping `edits` made, and each link's target range moved along."""
    edits = sorted(edits)
    pieces, position = [], 0
    for start, end, replacement in edits:
        pieces.append(text[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(text[position:])
    new_text = "".join(pieces).strip()
    lead = len("".join(pieces)) - len("".join(pieces).lstrip())
    if links is None:
        return new_text, None

    def moved(offset: int, is_end: bool) -> int:
        shift = 0
        for start, end, replacement in edits:
            if end < offset or (end == offset and (start < end or not is_end)):
                shift += len(replacement) - (end - start)
            elif start < offset:  # inside a deleted stretch: to where it was
                return max(0, start + shift - lead)
        return max(0, min(offset + shift - lead, len(new_text)))

    out = []
    for link in links:
        end = moved(link.target_end, True)
        start = min(moved(link.target_start, False), end)  # an empty link stays empty
        out.append(Link(link.source_start, link.source_end, start, end))
    return new_text, out
