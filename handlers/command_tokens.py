"""A `/parthenon` command line cut into tokens: words, or quoted texts (straight or curly, double
or single quotes) that keep their spaces; each token knows where it stands in the line, so free
text can be taken back raw, spacing and quotes kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.slack.errors import GrammarError

__all__ = ["Token", "rest_of_line", "span", "tokenize", "unescape"]

_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019"}


@dataclass(frozen=True)
class Token:
    value: str
    start: int  # offsets of the token in the text, quotes included
    end: int
    quoted: bool = False


def unescape(text: str) -> str:
    """Slack sends &, <, > of a command's text as entities; the grammar sees what was typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        closing = _QUOTES.get(text[i])
        if closing is not None:
            end = text.find(closing, i + 1)
            if end == -1:
                raise GrammarError(f"a quote opened at character {i + 1} is never closed")
            tokens.append(Token(text[i + 1 : end], start, end + 1, quoted=True))
            i = end + 1
            continue
        while i < n and not text[i].isspace():
            i += 1
        tokens.append(Token(text[start:i], start, i))
    return tokens


def rest_of_line(text: str, tokens: list[Token], index: int) -> str:
    """The raw text from token ``index`` to the end (free text keeps its spacing and quotes)."""
    if index >= len(tokens):
        return ""
    rest = text[tokens[index].start :].strip()
    if len(tokens) - index == 1:
        return tokens[index].value.strip()
    return rest


def span(text: str, tokens: list[Token], part: list[Token]) -> str:
    """The raw text of ``part`` (spacing kept) unless other tokens sit between its tokens."""
    inside = [t for t in tokens if part[0].start <= t.start < part[-1].end]
    if len(inside) == len(part):
        return text[part[0].start : part[-1].end]
    return " ".join(text[t.start : t.end] for t in part)
