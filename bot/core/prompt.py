"""Midjourney prompt parsing and the checks that run before any credit is spent.

Everything here is pure: no I/O, no Discord, no HTTP.  :func:`check_prompt` refuses a
prompt the Legnext API would reject with a :class:`PromptError` whose ``str()`` is one
polite, member-facing sentence naming the offending flag and the reason.

Parsing follows Midjourney's rules:

* a flag is ``--`` (or an em dash ``—`` / en dash ``–``, which phones type) followed by
  a letter, at the start of the prompt or after whitespace;
* a flag's value is everything up to the next flag, trimmed;
* the prompt text is everything before the first flag.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = [
    "BATCH_SIZES",
    "DEFAULT_VERSION",
    "MOTIONS",
    "SUPPORTED_VERSIONS",
    "VIDEO_FLAGS",
    "Flag",
    "ParsedPrompt",
    "PromptError",
    "apply_defaults",
    "check_prompt",
    "check_video_prompt",
    "follow_up_video_prompt",
    "is_v8",
    "leading_image_url",
    "model_of",
    "parse_prompt",
    "unwrap_link",
]

DEFAULT_VERSION = "7"
NIJI_DEFAULT = "niji 6"
#: Effective models the API accepts for images, in display order.
SUPPORTED_VERSIONS: tuple[str, ...] = ("6", "6.1", "7", "8", "8.1", "niji 6")

_MAX_ECHO = 40


class PromptError(ValueError):
    """A prompt the API would refuse. ``str(e)`` is the member-facing sentence."""

    flag: str | None

    def __init__(self, message: str, flag: str | None = None) -> None:
        super().__init__(message)
        self.flag = flag


# --------------------------------------------------------------------------------------
# Flag vocabulary
# --------------------------------------------------------------------------------------

#: Every name a member may type (lower case) -> canonical long name.
_ALIASES: dict[str, str] = {
    "aspect": "aspect",
    "ar": "aspect",
    "chaos": "chaos",
    "c": "chaos",
    "stylize": "stylize",
    "s": "stylize",
    "weird": "weird",
    "w": "weird",
    "seed": "seed",
    "sameseed": "seed",
    "stop": "stop",
    "iw": "iw",
    "quality": "quality",
    "q": "quality",
    "version": "version",
    "v": "version",
    "niji": "niji",
    "no": "no",
    "cref": "cref",
    "cw": "cw",
    "oref": "oref",
    "ow": "ow",
    "sref": "sref",
    "sw": "sw",
    "sv": "sv",
    "tile": "tile",
    "raw": "raw",
    "style": "style",
    "draft": "draft",
    "hd": "hd",
    "exp": "exp",
    "fast": "fast",
    "turbo": "turbo",
    "relax": "relax",
    "p": "p",
    "personalize": "personalize",
    "motion": "motion",
    "end": "end",
    "loop": "loop",
    "bs": "bs",
    "batchsize": "bs",
    "video": "video",
    "repeat": "repeat",
    "r": "repeat",
    "stealth": "stealth",
    "public": "public",
    # Real Midjourney parameters (mostly legacy) the API does not take.
    "upbeta": "upbeta",
    "uplight": "uplight",
    "upanime": "upanime",
    "test": "test",
    "testp": "testp",
    "creative": "creative",
    "profile": "profile",
    "fullres": "fullres",
}

#: Canonical name -> the form :meth:`ParsedPrompt.render` writes.
_RENDER_NAME: dict[str, str] = {
    "aspect": "ar",
    "quality": "q",
    "version": "v",
}

#: Flags that never take a value.
_NO_VALUE = frozenset({"tile", "raw", "draft", "hd", "fast", "turbo", "relax", "loop", "video", "stealth", "public"})
#: Flags whose value is optional.
_OPTIONAL_VALUE = frozenset({"exp", "p", "niji", "personalize"})

_SPEED_FLAGS = ("fast", "turbo", "relax")
_FALSY = frozenset({"false", "0", "no", "off"})

_VIDEO_ONLY = frozenset({"motion", "end", "loop", "bs"})

_UNSUPPORTED: dict[str, str] = {
    "personalize": "isn't supported by the API; use `--p` (V7 and newer) instead",
    "repeat": "isn't supported by the API; please run the command again instead",
    "video": "isn't available in image prompts; please use /video to make a video",
    "relax": "(relax mode) isn't supported by the API; please use `--fast` or `--turbo` instead",
    "stealth": "isn't supported by the API",
    "public": "isn't supported by the API",
    "upbeta": "isn't supported by the API",
    "uplight": "isn't supported by the API",
    "upanime": "isn't supported by the API",
    "test": "isn't supported by the API",
    "testp": "isn't supported by the API",
    "creative": "isn't supported by the API",
    "profile": "isn't supported by the API; use `--p` (V7 and newer) instead",
    "fullres": "isn't supported by the API",
}

_ALL_MODELS = frozenset(SUPPORTED_VERSIONS)

#: Canonical name -> the effective models that accept it (absent: all models).
_AVAILABLE: dict[str, frozenset[str]] = {
    "stop": frozenset({"6", "6.1", "7", "niji 6"}),
    "quality": frozenset({"6", "6.1", "7", "8", "niji 6"}),
    "hd": frozenset({"8", "8.1"}),
    "turbo": frozenset({"6", "6.1", "7", "niji 6"}),
    "no": frozenset({"6.1", "7", "8"}),
    "oref": frozenset({"7", "8"}),
    "ow": frozenset({"7", "8"}),
    "cref": frozenset({"6", "6.1", "7", "niji 6"}),
    "cw": frozenset({"6", "6.1", "7", "niji 6"}),
    "draft": frozenset({"7"}),
    "exp": frozenset({"7", "8", "8.1"}),
    "p": frozenset({"7", "8", "8.1"}),
}

_QUALITY: dict[str, tuple[str, ...]] = {
    "6": ("1", "2"),
    "6.1": ("0.5", "1", "2"),
    "7": ("1", "2", "4"),
    "8": ("1", "4"),
    "niji 6": ("0.5", "1", "2"),
}
_QUALITY_FALLBACK: tuple[str, ...] = ("0.25", "0.5", "1", "2", "4")

_STYLE_VERSIONS: dict[str, tuple[str, ...]] = {"8": ("1", "2", "3", "4", "6")}
_STYLE_VERSIONS_DEFAULT: tuple[str, ...] = ("1", "2", "3", "4")

#: Whole-number flags: canonical name -> (low, high), inclusive.
_INT_RANGES: dict[str, tuple[int, int]] = {
    "chaos": (0, 100),
    "stylize": (0, 1000),
    "weird": (0, 3000),
    "seed": (0, 4_294_967_295),
    "stop": (10, 100),
    "sw": (0, 1000),
    "cw": (0, 100),
    "ow": (1, 1000),
    "exp": (0, 100),
}
#: Decimal flags: canonical name -> (low, high), inclusive.
_FLOAT_RANGES: dict[str, tuple[str, str]] = {"iw": ("0", "3")}

#: Flags that need some value but whose content we do not judge (URLs, codes, words).
_FREE_TEXT = frozenset({"no", "cref", "oref", "sref"})

# A flag: start of string or whitespace, then "--" / em dash / en dash, then a letter and
# the rest of that whitespace-free run.
_FLAG_RE = re.compile(r"(?:^|(?<=\s))(--|\u2014|\u2013)([A-Za-z]\S*)")
_PERMUTATION_RE = re.compile(r"\{[^{}]*,[^{}]*\}")
# ASCII digits only: `\d` would also take `１６:９` or `١٠٠`, which pass int() here and are refused by the API
_INT_RE = re.compile(r"[0-9]+")
_DEC_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")
_RATIO_RE = re.compile(r"([0-9]+):([0-9]+)")
# Characters that show nothing: a prompt made only of these (and spaces) is empty
_INVISIBLE = frozenset("\u115f\u1160\u2800\u3164\uffa0")
_MAX_DIGITS = 15


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    """One ``--flag value`` of a prompt."""

    name: str
    """Canonical long name (``"aspect"`` for ``--ar``); the typed name, lower-cased, if unknown."""
    raw: str
    """How it was typed, e.g. ``"--ar"`` or ``"—ar"``."""
    value: str | None
    """Everything up to the next flag, trimmed; ``None`` when there is nothing."""

    @property
    def known(self) -> bool:
        """Whether the name is a Midjourney parameter at all."""
        return self.name in _ALIASES.values()

    @property
    def typed(self) -> str:
        """The flag as typed, with ``--`` in front (em dashes normalised), lower-cased."""
        return "--" + self.raw.lstrip("-\u2014\u2013").lower()

    def render(self) -> str:
        name = _RENDER_NAME.get(self.name, self.name) if self.known else self.typed[2:]
        return f"--{name}" if self.value is None else f"--{name} {self.value}"


@dataclass(frozen=True)
class ParsedPrompt:
    """A prompt split into its text and its flags."""

    text: str
    flags: tuple[Flag, ...]

    def get(self, name: str) -> Flag | None:
        """The first flag with this canonical name (aliases such as ``"ar"`` are accepted)."""
        canonical = _ALIASES.get(name.lower(), name.lower())
        for flag in self.flags:
            if flag.name == canonical:
                return flag
        return None

    def has(self, name: str) -> bool:
        return self.get(name) is not None

    @property
    def version(self) -> str:
        """The effective model: ``"7"`` by default, ``"8.1"``, ``"6"``, ``"niji 6"`` ..."""
        niji = self.get("niji")
        if niji is not None:
            return "niji " + _normalise_version(niji.value) if niji.value else NIJI_DEFAULT
        version = self.get("version")
        if version is not None and version.value:
            return _normalise_version(version.value)
        return DEFAULT_VERSION

    def render(self) -> str:
        """Text and flags in ``--name value`` form, in the order typed."""
        return " ".join([p for p in (self.text, *(f.render() for f in self.flags)) if p])


def _normalise_version(value: str) -> str:
    v = " ".join(value.lower().split())
    if v.startswith("v") and v[1:].lstrip()[:1].isdigit():
        v = v[1:].lstrip()
    if v in {"6.0", "7.0", "8.0"}:
        v = v[0]
    return v


def is_v8(version: str) -> bool:
    """``"8"``, ``"8.0"``, ``"8.1"`` (and ``"v8"``) -> True."""
    v = _normalise_version(version)
    return v == "8" or v.startswith("8.")


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


def parse_prompt(prompt: str) -> ParsedPrompt:
    """Split a prompt into text and flags. Never raises; :func:`check_prompt` judges.

    An em/en dash only starts a flag when the word after it is a known parameter, so prose
    such as ``"a cat —gorgeous"`` stays text; ``--`` always starts a flag.
    """
    matches = [m for m in _FLAG_RE.finditer(prompt) if m.group(1) == "--" or m.group(2).lower() in _ALIASES]
    if not matches:
        return ParsedPrompt(text=prompt.strip(), flags=())
    text = prompt[: matches[0].start()].strip()
    flags: list[Flag] = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(prompt)
        value = prompt[m.end() : end].strip() or None
        typed = m.group(2).lower()
        flags.append(Flag(name=_ALIASES.get(typed, typed), raw=m.group(0), value=value))
    return ParsedPrompt(text=text, flags=tuple(flags))


def model_of(prompt: str) -> str:
    """The effective model of a prompt (``"7"`` unless it says otherwise)."""
    return parse_prompt(prompt).version


# --------------------------------------------------------------------------------------
# Checking
# --------------------------------------------------------------------------------------


def _show(value: str) -> str:
    """A value safe to echo: one line, at most ~40 characters."""
    flat = " ".join(value.split()).replace("`", "'")
    return flat if len(flat) <= _MAX_ECHO else flat[: _MAX_ECHO - 1] + "…"


def _label(version: str) -> str:
    return "Niji " + version[5:] if version.startswith("niji ") else "V" + version


def _join(items: list[str] | tuple[str, ...], last: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def _supported_list() -> str:
    return _join([_label(v) for v in SUPPORTED_VERSIONS], "or")


def _refuse(flag: Flag, reason: str) -> PromptError:
    return PromptError(f"`{_show(flag.typed)}` {reason}.", flag.name)


def _typo_hint(name: str) -> str:
    """``"v7"`` -> ``" — did you mean `--v 7`?"``; empty when no hint fits."""
    for cut in range(min(len(name) - 1, 12), 0, -1):
        head, tail = name[:cut], name[cut:]
        if head in _ALIASES and tail[:1].isdigit():
            return f"; did you mean `--{head} {_show(tail)}`?"
    return "."


def _version_error(parsed: ParsedPrompt) -> PromptError | None:
    niji = parsed.get("niji")
    version = parsed.get("version")
    if niji is not None and version is not None:
        return PromptError("Please use either `--v` or `--niji` in a prompt, not both.", "niji")
    if version is not None:
        if version.value is None:
            return _refuse(version, f"needs a model version, one of {_supported_list()}")
        if parsed.version not in _ALL_MODELS or parsed.version.startswith("niji"):
            return PromptError(
                f"`{_show(version.typed + ' ' + version.value)}` isn't supported by the API; "
                f"please use {_supported_list()}.",
                version.name,
            )
    if niji is not None and parsed.version not in _ALL_MODELS:
        return PromptError(
            f"`{_show(niji.typed + ' ' + (niji.value or ''))}` isn't supported by the API; "
            "only Niji 6 is (`--niji 6`).",
            niji.name,
        )
    return None


def _int_error(flag: Flag, low: int, high: int) -> PromptError | None:
    value = flag.value or ""
    if _INT_RE.fullmatch(value) and len(value.lstrip("0")) <= _MAX_DIGITS:
        if low <= int(value) <= high:
            return None
    elif _DEC_RE.fullmatch(value) and len(value) <= _MAX_DIGITS:
        if low <= Decimal(value) <= high:
            return _refuse(flag, f"must be a whole number from {low} to {high} (you wrote {_show(value)})")
    return _refuse(flag, f"must be a number from {low} to {high} (you wrote {_show(value)})")


def _decimal(value: str) -> Decimal | None:
    if not _DEC_RE.fullmatch(value) or len(value) > _MAX_DIGITS:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the regex already guards
        return None


def _value_error(flag: Flag, version: str) -> PromptError | None:
    """Errors about the flag's value (presence, shape, range) on this model."""
    name, value = flag.name, flag.value
    if name in _NO_VALUE:
        if value is not None:
            return _refuse(flag, f"doesn't take a value (you wrote {_show(value)})")
        return None
    if value is None:
        if name in _OPTIONAL_VALUE:
            return None
        what = {
            "aspect": "a ratio like 16:9",
            "no": "the things to leave out, like `--no text, people`",
            "style": "a value, like `--style raw`",
            "cref": "an image URL",
            "oref": "an image URL",
            "sref": "an image URL or a style code",
        }.get(name, "a value")
        return _refuse(flag, f"needs {what}")
    if name in _INT_RANGES:
        low, high = _INT_RANGES[name]
        return _int_error(flag, low, high)
    if name in _FLOAT_RANGES:
        lo, hi = _FLOAT_RANGES[name]
        number = _decimal(value)
        if number is None or not Decimal(lo) <= number <= Decimal(hi):
            return _refuse(flag, f"must be a number from {lo} to {hi} (you wrote {_show(value)})")
        return None
    if name == "aspect":
        m = _RATIO_RE.fullmatch(value)
        ok = (
            m is not None
            and len(m.group(1).lstrip("0")) <= 6
            and len(m.group(2).lstrip("0")) <= 6
            and int(m.group(1)) > 0
            and int(m.group(2)) > 0
        )
        if not ok:
            return _refuse(flag, f"must be a ratio of two whole numbers, like 16:9 or 2:3 (you wrote {_show(value)})")
        return None
    if name == "quality":
        allowed = _QUALITY.get(version, _QUALITY_FALLBACK)
        number = _decimal(value)
        if number is None or number not in {Decimal(a) for a in allowed}:
            return _refuse(flag, f"on {_label(version)} must be {_join(allowed, 'or')} (you wrote {_show(value)})")
        return None
    if name == "sv":
        allowed = _STYLE_VERSIONS.get(version, _STYLE_VERSIONS_DEFAULT)
        if value not in allowed:
            return _refuse(flag, f"on {_label(version)} must be {_join(allowed, 'or')} (you wrote {_show(value)})")
        return None
    if name == "style":
        if value.lower() != "raw":
            return _refuse(flag, f"only accepts `raw` (you wrote {_show(value)})")
        return None
    # "no", "cref", "oref", "sref", "p", "niji"/"version" (checked elsewhere): any text.
    return None


def _availability_error(flag: Flag, version: str) -> PromptError | None:
    """Errors because the model does not take this flag at all."""
    allowed = _AVAILABLE.get(flag.name)
    if allowed is None or version in allowed or version not in _ALL_MODELS:
        return None
    where = [_label(v) for v in SUPPORTED_VERSIONS if v in allowed]
    extra = ""
    if flag.name in {"cref", "cw"} and version == "8":
        extra = " (V8 replaced it with `--oref`)"
    return _refuse(
        flag,
        f"isn't available on {_label(version)}{extra}; it works on {_join(where, 'or')}",
    )


def _flag_error(flag: Flag, version: str) -> PromptError | None:
    return _availability_error(flag, version) or _value_error(flag, version)


def _identity_error(flag: Flag) -> PromptError | None:
    """Errors about the flag's name alone: unknown, unsupported, video-only."""
    if not flag.known:
        return PromptError(f"`{_show(flag.typed)}` isn't a Midjourney parameter{_typo_hint(flag.name)}", flag.name)
    if flag.name in _VIDEO_ONLY:
        return _refuse(flag, "only works for videos; please use /video to make one")
    reason = _UNSUPPORTED.get(flag.name)
    if reason is not None:
        return _refuse(flag, reason)
    return None


def _visible(text: str) -> bool:
    """Whether `text` shows anything: not only spaces, zero-width, direction marks or blank fillers."""
    return any(
        not ch.isspace() and ch not in _INVISIBLE and unicodedata.category(ch) not in ("Cf", "Cc", "Cs", "Co", "Cn")
        for ch in text
    )


def _check_text(prompt: str, max_len: int, what: str) -> None:
    """What every prompt needs: a length within `max_len`, something visible, no `{a, b}` permutations."""
    if len(prompt) > max_len:
        raise PromptError(f"Your prompt is {len(prompt):,} characters long; the limit is {max_len:,} characters.")
    if not _visible(prompt):
        raise PromptError(f"Your prompt is empty; please describe the {what} you want.")
    if _PERMUTATION_RE.search(prompt):
        raise PromptError("Permutation prompts like `{a, b}` aren't supported; please send one prompt at a time.")


def _check_once(parsed: ParsedPrompt) -> None:
    seen: set[str] = set()
    for flag in parsed.flags:
        if flag.name in seen:
            raise _refuse(flag, "appears more than once; please keep just one")
        seen.add(flag.name)


def check_prompt(prompt: str, *, max_len: int = 8192) -> ParsedPrompt:
    """Parse ``prompt`` and return it, or raise :class:`PromptError` with the reason."""
    _check_text(prompt, max_len, "image")
    parsed = parse_prompt(prompt)

    for flag in parsed.flags:
        error = _identity_error(flag)
        if error is not None:
            raise error
    _check_once(parsed)
    speeds = [f for f in parsed.flags if f.name in _SPEED_FLAGS]
    if len(speeds) > 1:
        raise PromptError(
            f"Please pick one speed, `{speeds[0].typed}` or `{speeds[1].typed}`, not both.", speeds[1].name
        )
    if not _visible(parsed.text):
        raise PromptError("Your prompt is empty; please describe the image you want before the `--` flags.")

    error = _version_error(parsed)
    if error is not None:
        raise error
    version = parsed.version
    for flag in parsed.flags:
        if flag.name in {"version", "niji"}:
            continue
        error = _flag_error(flag, version)
        if error is not None:
            raise error
    return parsed


# --------------------------------------------------------------------------------------
# Video prompts
# --------------------------------------------------------------------------------------

#: What the video model takes (the docs' "Video Parameters" page and the video column of the model table): motion,
#: an end frame, loop, the batch size, raw (also written `--style raw`), fast mode and `--video` itself. Every other
#: Midjourney parameter is 🚫 for the video model.
VIDEO_FLAGS = frozenset({"motion", "end", "loop", "bs", "raw", "style", "fast", "video"})
MOTIONS: tuple[str, ...] = ("low", "high")
BATCH_SIZES: tuple[str, ...] = ("1", "2", "4")
#: Flags a video made from an earlier job (Animate on an image, Extend on a clip) keeps from that job's prompt.
_CARRIED_TO_VIDEO = frozenset({"raw", "style"})
_LINK_RE = re.compile(r"https?://\S+", re.IGNORECASE)

_NOT_FOR_VIDEO: dict[str, str] = {
    # the model table marks turbo ✓ for video, but its price for videos isn't published: the bot can't say what
    # a turbo video costs, so it doesn't send one
    "turbo": "isn't available for videos here (videos run in fast mode)",
    "aspect": "only works for images; a video takes the shape of its start frame",
    "relax": "(relax mode) isn't supported by the API; videos run in fast mode",
}


def _video_identity_error(flag: Flag) -> PromptError | None:
    """Errors about the flag's name alone, for a video prompt: unknown, unsupported, image-only."""
    if not flag.known:
        return PromptError(f"`{_show(flag.typed)}` isn't a Midjourney parameter{_typo_hint(flag.name)}", flag.name)
    if flag.name in VIDEO_FLAGS:
        return None
    reason = _NOT_FOR_VIDEO.get(flag.name) or _UNSUPPORTED.get(flag.name)
    if reason is not None:
        return _refuse(flag, reason)
    return _refuse(flag, "only works for images, not for videos")


def _video_value_error(flag: Flag) -> PromptError | None:
    name, value = flag.name, flag.value
    if name == "motion":
        if value is None or value.lower() not in MOTIONS:
            wrote = f" (you wrote {_show(value)})" if value is not None else ""
            return _refuse(flag, f"must be `low` or `high`{wrote}")
        return None
    if name == "bs":
        if value not in BATCH_SIZES:
            wrote = f" (you wrote {_show(value)})" if value is not None else ""
            return _refuse(flag, f"(the number of clips) must be 1, 2 or 4{wrote}")
        return None
    if name == "end":
        if value is None:
            return _refuse(flag, "needs a link to the image the video should end on")
        if not _LINK_RE.fullmatch(unwrap_link(value)):
            return _refuse(flag, f"must be one http(s) link to an image (you wrote {_show(value)})")
        return None
    if name in _NO_VALUE and value is not None:
        return _refuse(flag, f"doesn't take a value (you wrote {_show(value)})")
    if name == "style" and (value or "").lower() != "raw":
        return _refuse(flag, f"only accepts `raw` (you wrote {_show(value or '')})")
    return None


def check_video_prompt(prompt: str, *, max_len: int = 8192) -> ParsedPrompt:
    """Parse a video prompt (``[image link] text --flags``) and return it, or raise :class:`PromptError`: an
    image-only parameter (``--tile``, ``--chaos``, ``--ar`` ...), a video parameter out of its range (``--motion``
    low/high, ``--bs`` 1/2/4, ``--end`` one link), a repeated one, or an empty or too long prompt. The text may be
    empty: the start frame is what the video shows."""
    _check_text(prompt, max_len, "video")
    parsed = parse_prompt(prompt)
    for flag in parsed.flags:
        error = _video_identity_error(flag)
        if error is not None:
            raise error
    _check_once(parsed)
    style = parsed.get("style")
    if style is not None and parsed.has("raw"):
        raise _refuse(style, "and `--raw` mean the same; please keep just one")
    for flag in parsed.flags:
        error = _video_value_error(flag)
        if error is not None:
            raise error
    return parsed


def unwrap_link(value: str) -> str:
    """`<https://...>` (how Discord members keep a link from unfurling) is the link itself."""
    return value[1:-1] if value.startswith("<") and value.endswith(">") else value


def leading_image_url(text: str) -> tuple[str | None, str]:
    """The image link a prompt's text starts with (the API's start frame), and the rest of the text."""
    head, _, rest = text.strip().partition(" ")
    if head and _LINK_RE.fullmatch(unwrap_link(head)):
        return unwrap_link(head), rest.strip()
    return None, text.strip()


def follow_up_video_prompt(prompt: str, motion: str) -> str:
    """The prompt of a video made from an earlier job (Animate on an upscaled image, Extend on a clip): that job's
    text without the image links at its front (the start frame is the job's own image or clip), the flags that
    carry over to the video model (`--raw`), and `--motion low|high`. Every other flag is left out: most are
    image-only, and the video's own (`--bs`, `--end`, `--loop`) belonged to the first video."""
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {MOTIONS}")
    parsed = parse_prompt(prompt)
    url, text = leading_image_url(parsed.text)
    while url is not None:
        url, text = leading_image_url(text)
    raw = any(f.name in _CARRIED_TO_VIDEO and (f.name == "raw" or (f.value or "").lower() == "raw")
              for f in parsed.flags)
    return " ".join(p for p in (text, "--raw" if raw else "", f"--motion {motion}") if p)


# --------------------------------------------------------------------------------------
# Member defaults
# --------------------------------------------------------------------------------------


def _version_default_flag(value: str) -> str:
    v = _normalise_version(value)
    if v == "niji":
        return "--niji 6"
    if v.startswith("niji "):
        return "--niji " + v[5:]
    return "--v " + v


def _is_set(parsed: ParsedPrompt, key: str) -> bool:
    if key in {"version", "niji"}:
        return parsed.has("version") or parsed.has("niji")
    if key in {"speed", *_SPEED_FLAGS}:
        return any(parsed.has(s) for s in _SPEED_FLAGS)
    if key in {"raw", "style"}:
        return parsed.has("raw") or parsed.has("style")
    return parsed.has(key)


def apply_defaults(prompt: str, defaults: Mapping[str, str | None]) -> str:
    """Append the member's default flags that the prompt does not already set.

    ``defaults`` is keyed by canonical flag name (``"aspect"``, ``"stylize"``,
    ``"version"`` with ``"7"``/``"8.1"``/``"niji 6"``, ...) plus ``"speed"`` whose value
    ``"fast"``/``"turbo"``/``"relax"`` becomes that mode flag.  A value of ``None`` means
    "no default"; ``""`` is a flag without a value (``{"raw": ""}`` -> ``--raw``).

    Aliases count as set (``--ar`` sets aspect, ``--niji`` sets version, ``--turbo`` sets
    speed, ``--style raw`` sets raw).  The version default goes first; any other default
    the effective model does not take (``--turbo`` on V8, ``--q 4`` on V6, ``--no`` on
    V8.1 ...) is skipped rather than turning a good prompt into a refused one.  Values that
    are wrong on every model are appended as given, so the caller's re-check reports them.
    Keys that are not flag names are ignored. The result is not truncated.
    """
    parsed = parse_prompt(prompt)
    additions: list[str] = []

    version_default = defaults.get("version") or defaults.get("niji")
    if version_default and version_default.strip() and not _is_set(parsed, "version"):
        additions.append(_version_default_flag(version_default))
    effective = parse_prompt(" ".join(["x", *additions])).version if additions else parsed.version

    for key, raw_value in defaults.items():
        if raw_value is None or key in {"version", "niji"}:
            continue
        value = raw_value.strip()
        if key == "speed":
            if not value:
                continue
            name, value = _ALIASES.get(value.lower(), value.lower()), ""
            if name not in _SPEED_FLAGS:
                continue
        else:
            name = _ALIASES.get(key.lower(), "")
            if not name:
                continue
            if name in _NO_VALUE:
                if value.lower() in _FALSY:
                    continue
                value = ""
        if _is_set(parsed, name) or _is_set(parse_prompt(" ".join(["x", *additions])), name):
            continue
        flag = Flag(name=name, raw="--" + name, value=value or None)
        if name in _AVAILABLE and _availability_error(flag, effective) is not None:
            continue
        if name in {"quality", "sv"} and _value_error(flag, effective) is not None:
            valid_somewhere = any(_value_error(flag, v) is None for v in SUPPORTED_VERSIONS)
            if valid_somewhere:
                continue
        additions.append(flag.render())

    if not additions:
        return prompt
    base = prompt.rstrip()
    return " ".join([base, *additions]) if base else " ".join(additions)
