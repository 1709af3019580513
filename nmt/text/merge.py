"""Translations of the parts of one text (split for length) joined into one `Translation`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from nmt.translation import EOS_PIECE, Alternative, Link, Translation


def shift_links(links: Sequence[Link], target_offset: int) -> list[Link]:
    """Links with their target ranges moved right by `target_offset` characters."""
    return [
        Link(
            link.source_start,
            link.source_end,
            link.target_start + target_offset,
            link.target_end + target_offset,
        )
        for link in links
    ]


def _without_eos(pieces: list[str]) -> list[str]:
    return pieces[:-1] if pieces and pieces[-1] == EOS_PIECE else pieces


def merged_attention(parts: Sequence[Translation]) -> list[list[float]] | None:
    """Block-diagonal attention of the parts: (all target pieces + eos) x (all source + eos).

    Each part's rows keep their weights on its own source pieces; the eos rows and
    columns of all but the last part are left out, so those rows sum to less than one.
    """
    if any(part.attention is None for part in parts):
        return None
    sources = [len(_without_eos(part.source_pieces)) for part in parts]
    width = sum(sources) + 1
    rows: list[list[float]] = []
    column = 0
    for index, (part, count) in enumerate(zip(parts, sources, strict=True)):
        attention = part.attention or []
        targets = len(_without_eos(part.target_pieces))
        last = index == len(parts) - 1
        for row_index, row in enumerate(attention):
            if row_index >= targets and not last:
                break
            padded = [0.0] * width
            padded[column : column + count] = row[:count]
            if last and len(row) > count:
                padded[-1] = row[count]
            rows.append(padded)
        column += count
    return rows


def merged_alternatives(
    parts: Sequence[Translation], texts: Sequence[Sequence[str]]
) -> list[Alternative]:
    """The k-th alternative of the whole: each part's k-th (its best where it has fewer).

    `texts[p][k]` is the restored text of part p's k-th alternative.
    """
    count = max((len(part.alternatives) for part in parts), default=0)
    out = []
    for k in range(count):
        chosen, score = [], 0.0
        for part, restored in zip(parts, texts, strict=True):
            if k < len(part.alternatives):
                chosen.append(restored[k])
                score += part.alternatives[k].score
            else:
                chosen.append(part.text)
                score += part.score
        out.append(Alternative(" ".join(text for text in chosen if text), score))
    return out


def merge_parts(
    source: str, parts: Sequence[Translation], alternative_texts: Sequence[Sequence[str]]
) -> Translation:
    """One Translation of `source` from the translations of its parts, in order.

    Each part's `text` and `alignment` are final (in `source`'s terms); texts are joined
    with one space.
    """
    if len(parts) == 1:
        only = parts[0]
        alternatives = [
            Alternative(text, alt.score)
            for text, alt in zip(alternative_texts[0], only.alternatives, strict=True)
        ]
        return dataclasses.replace(only, source=source, alternatives=alternatives)
    texts, links, offset = [], [], 0
    for part in parts:
        if not part.text:
            continue
        links.extend(shift_links(part.alignment or [], offset))
        texts.append(part.text)
        offset += len(part.text) + 1
    last_pieces = parts[-1].target_pieces
    copy = [p for part in parts for p in (part.copy_probability or [])]
    return Translation(
        source=source,
        text=" ".join(texts),
        score=sum(part.score for part in parts),
        token_log_probs=[lp for part in parts for lp in part.token_log_probs],
        source_pieces=[p for part in parts for p in _without_eos(part.source_pieces)] + [EOS_PIECE],
        target_pieces=[p for part in parts for p in _without_eos(part.target_pieces)]
        + ([EOS_PIECE] if last_pieces and last_pieces[-1] == EOS_PIECE else []),
        alternatives=merged_alternatives(parts, alternative_texts),
        attention=merged_attention(parts),
        copy_probability=copy if all(part.copy_probability is not None for part in parts) else None,
        alignment=links,
        parts=len(parts),
    )
