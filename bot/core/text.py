"""Text that reaches a Discord channel from outside the bot (prompts, the API's error messages), made safe to show.

Pure functions, no Discord: the renderer adds Discord's own markdown and mention escaping on top.
"""

from __future__ import annotations

import re
import unicodedata

# Unicode "format" characters (category Cf) include the bidi overrides and isolates (U+202A-U+202E, U+2066-U+2069)
# that can make a prompt read backwards or hide text, and the zero-width characters; control characters (Cc)
# include NUL, escape sequences and carriage returns. Whitespace controls are kept as spaces.
_KEEP_AS_SPACE = {"\n", "\t", "\r", "\x0b", "\x0c"}

_MENTION = re.compile(r"<(?:@[!&]?|#|/[^:>]{1,32}:)\d{1,20}>")
_EVERYONE = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
_URL_QUERY = re.compile(r"(https?://[^\s?#]+)[?#]\S*")
# Anything that looks like a credential: a long run of key characters (API keys, tokens, signatures).
_KEY_LIKE = re.compile(r"(?<![A-Za-z0-9_\-.])[A-Za-z0-9_\-.]{32,}")
_BEARER = re.compile(r"\b(?:bearer|bot|x-api-key|api[_ -]?key|token|key)\s*[:=]?\s*\S{6,}", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def strip_invisible(text: str) -> str:
    """`text` without control and format characters (bidi overrides, zero-width, NUL...); line breaks become
    spaces."""
    out = []
    for ch in text:
        if ch in _KEEP_AS_SPACE:
            out.append(" ")
            continue
        if unicodedata.category(ch) in ("Cc", "Cf"):
            continue
        out.append(ch)
    return "".join(out)


def clean_api_text(text: str, limit: int = 200) -> str:
    """An error message that came from the API, fit to show in public: its first sentence, with no mentions, no
    control or bidi characters, no URL query strings and nothing that looks like a key, at most `limit`
    characters."""
    text = " ".join(strip_invisible(text or "").split())
    if not text:
        return ""
    first = _SENTENCE_END.split(text, maxsplit=1)[0]
    first = _URL_QUERY.sub(r"\1", first)
    first = _BEARER.sub("[redacted]", first)
    first = _KEY_LIKE.sub("[redacted]", first)
    first = _MENTION.sub("[mention]", first)
    first = _EVERYONE.sub(lambda m: m.group(1), first)
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"
