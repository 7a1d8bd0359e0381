"""Tests for bot.prompt: Midjourney flag parsing and the pre-spend prompt check."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.prompt import (
    SUPPORTED_VERSIONS,
    Flag,
    ParsedPrompt,
    PromptError,
    apply_defaults,
    check_prompt,
    is_v8,
    model_of,
    parse_prompt,
)

# ---------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------


def _pairs(p: ParsedPrompt) -> list[tuple[str, str | None]]:
    return [(f.name, f.value) for f in p.flags]


@pytest.mark.parametrize(
    ("prompt", "text", "flags"),
    [
        ("a cat", "a cat", []),
        ("  a cat  ", "a cat", []),
        ("a cat --ar 16:9", "a cat", [("aspect", "16:9")]),
        ("a cat —ar 16:9", "a cat", [("aspect", "16:9")]),
        ("a cat –ar 16:9", "a cat", [("aspect", "16:9")]),
        ("a cat --AR 16:9 --S 250", "a cat", [("aspect", "16:9"), ("stylize", "250")]),
        ("a cat --no red, blue cars --v 7", "a cat", [("no", "red, blue cars"), ("version", "7")]),
        ("a cat --style raw", "a cat", [("style", "raw")]),
        ("a cat --sref https://a/1.png https://a/2.png", "a cat", [("sref", "https://a/1.png https://a/2.png")]),
        ("a cat --tile --raw", "a cat", [("tile", None), ("raw", None)]),
        ("a cat --niji", "a cat", [("niji", None)]),
        ("a cat -- very cute", "a cat -- very cute", []),
        ("a cat --- so cute", "a cat --- so cute", []),
        ("https://x.com/a--b.png a cat", "https://x.com/a--b.png a cat", []),
        ("https://x.com/a--b.png a cat --iw 2", "https://x.com/a--b.png a cat", [("iw", "2")]),
        ("a cat—ar 16:9", "a cat—ar 16:9", []),
        ("a cat —gorgeous and fluffy", "a cat —gorgeous and fluffy", []),
        ("a cat --foo bar", "a cat", [("foo", "bar")]),
        ("a cat\n--ar 2:3\n--c 10", "a cat", [("aspect", "2:3"), ("chaos", "10")]),
        ("--ar 1:1", "", [("aspect", "1:1")]),
        ("a cat --sameseed 5", "a cat", [("seed", "5")]),
        ("a cat --batchsize 2 --r 3", "a cat", [("bs", "2"), ("repeat", "3")]),
        ("a cat --ar", "a cat", [("aspect", None)]),
        ("a cat --ar16:9", "a cat", [("ar16:9", None)]),
    ],
)
def test_parse(prompt: str, text: str, flags: list[tuple[str, str | None]]) -> None:
    parsed = parse_prompt(prompt)
    assert parsed.text == text
    assert _pairs(parsed) == flags


def test_flag_raw_and_get_has() -> None:
    parsed = parse_prompt("a cat —ar 16:9 --C 5")
    assert parsed.flags[0] == Flag(name="aspect", raw="—ar", value="16:9")
    assert parsed.flags[1].raw == "--C"
    assert parsed.get("aspect") is parsed.flags[0]
    assert parsed.get("ar") is parsed.flags[0]
    assert parsed.has("chaos") and parsed.has("c")
    assert not parsed.has("stylize")
    assert parsed.get("stylize") is None


@pytest.mark.parametrize(
    ("prompt", "version"),
    [
        ("a cat", "7"),
        ("a cat --v 6", "6"),
        ("a cat --v 6.0", "6"),
        ("a cat --version 6.1", "6.1"),
        ("a cat --v 8", "8"),
        ("a cat --v 8.0", "8"),
        ("a cat --v 8.1", "8.1"),
        ("a cat --v 5.2", "5.2"),
        ("a cat --niji", "niji 6"),
        ("a cat --niji 6", "niji 6"),
        ("a cat --niji 5", "niji 5"),
        ("a cat —v 8.1", "8.1"),
        ("a cat --v", "7"),
    ],
)
def test_version_and_model_of(prompt: str, version: str) -> None:
    assert parse_prompt(prompt).version == version
    assert model_of(prompt) == version


@pytest.mark.parametrize(
    ("version", "expected"),
    [("8", True), ("8.0", True), ("8.1", True), ("v8", True), ("7", False), ("niji 6", False), ("6.1", False)],
)
def test_is_v8(version: str, expected: bool) -> None:
    assert is_v8(version) is expected


@pytest.mark.parametrize(
    ("prompt", "rendered"),
    [
        ("a cat —ar 16:9", "a cat --ar 16:9"),
        ("a cat --aspect 16:9 --quality 2 --version 6.1", "a cat --ar 16:9 --q 2 --v 6.1"),
        ("a cat --c 5 --s 100 --w 10", "a cat --chaos 5 --stylize 100 --weird 10"),
        ("  a cat   --TILE   --no  dogs,  cats ", "a cat --tile --no dogs,  cats"),
        ("a cat", "a cat"),
        ("--ar 1:1", "--ar 1:1"),
    ],
)
def test_render(prompt: str, rendered: str) -> None:
    assert parse_prompt(prompt).render() == rendered


# ---------------------------------------------------------------------------------------
# check_prompt: accepted
# ---------------------------------------------------------------------------------------


ACCEPTED = [
    "a cat",
    "https://example.com/a.png",
    "https://x.com/a--b.png a cat --iw 3",
    "a cat -- very cute",
    "a cat —ar 16:9",
    "a cat –ar 16:9",
    "a cat --ar 1:1",
    "a cat --ar 21:9 --c 0 --s 0 --w 0",
    "a cat --chaos 100 --stylize 1000 --weird 3000",
    "a cat --seed 0",
    "a cat --seed 4294967295",
    "a cat --sameseed 42",
    "a cat --stop 10",
    "a cat --stop 100",
    "a cat --iw 0",
    "a cat --iw 3",
    "a cat --iw 1.5",
    "a cat --iw .5",
    "a cat --sw 0 --sref https://a/b.png",
    "a cat --sw 1000 --sref 12345",
    "a cat --cw 0 --cref https://a/b.png",
    "a cat --cw 100 --cref https://a/b.png",
    "a cat --ow 1 --oref https://a/b.png",
    "a cat --ow 1000 --oref https://a/b.png",
    "a cat --exp",
    "a cat --exp 0",
    "a cat --exp 100",
    "a cat --tile --raw --fast",
    "a cat --turbo",
    "a cat --style raw",
    "a cat --style RAW",
    "a cat --draft",
    "a cat --p",
    "a cat --p abc123",
    "a cat --p --v 8",
    "a cat --p xyz --v 8.1",
    "a cat --no text, people",
    "a cat --v 6",
    "a cat --v 6.0",
    "a cat --v 6.1",
    "a cat --v 7",
    "a cat --v 8",
    "a cat --v 8.0",
    "a cat --v 8.1",
    "a cat --niji",
    "a cat --niji 6",
    "a cat —niji 6",
    "a cat --q 1 --v 6",
    "a cat --q 2 --v 6",
    "a cat --q 0.5 --v 6.1",
    "a cat --q .5 --niji 6",
    "a cat --q 4",
    "a cat --q 4 --v 8",
    "a cat --q 1.0 --v 8",
    "a cat --hd --v 8",
    "a cat --hd --v 8.1",
    "a cat --oref https://a/b.png --v 8",
    "a cat --no dogs --v 8",
    "a cat --no dogs --v 6.1",
    "a cat --stop 50 --v 6",
    "a cat --stop 50 --niji 6",
    "a cat --turbo --niji 6",
    "a cat --cref https://a/b.png --niji 6",
    "a cat --sv 4",
    "a cat --sv 1 --v 8.1",
    "a cat --sv 6 --v 8",
    "a cat --exp 50 --v 8",
    "a cat --exp --v 8.1",
    "a {cat} sitting",
    "a cat :: dog::2",
]


@pytest.mark.parametrize("prompt", ACCEPTED)
def test_check_accepts(prompt: str) -> None:
    parsed = check_prompt(prompt)
    assert isinstance(parsed, ParsedPrompt)
    assert parsed == parse_prompt(prompt)


# ---------------------------------------------------------------------------------------
# check_prompt: refused
# ---------------------------------------------------------------------------------------


REFUSED: list[tuple[str, str | None, str]] = [
    # (prompt, PromptError.flag, a fragment of the sentence)
    ("", None, "empty"),
    ("   \n\t ", None, "empty"),
    ("--ar 16:9 --s 100", None, "empty"),
    ("—ar 16:9", None, "empty"),
    ("a {cat, dog}", None, "Permutation"),
    ("a cat --ar {1:1, 16:9}", None, "Permutation"),
    # unknown / unsupported / video-only
    ("a cat --foo", "foo", "`--foo` isn't a Midjourney parameter"),
    ("a cat --FOO bar", "foo", "`--foo` isn't a Midjourney parameter"),
    ("a cat --v7", "v7", "did you mean `--v 7`"),
    ("a cat --ar16:9", "ar16:9", "did you mean `--ar 16:9`"),
    ("a cat --personalize", "personalize", "`--p`"),
    ("a cat --repeat 3", "repeat", "`--repeat`"),
    ("a cat --r 3", "repeat", "`--r`"),
    ("a cat --video", "video", "/video"),
    ("a cat --relax", "relax", "relax mode"),
    ("a cat —relax", "relax", "`--relax`"),
    ("a cat --stealth", "stealth", "isn't supported"),
    ("a cat --public", "public", "isn't supported"),
    ("a cat --bs 2", "bs", "/video"),
    ("a cat --batchsize 2", "bs", "/video"),
    ("a cat --motion high", "motion", "/video"),
    ("a cat --loop", "loop", "/video"),
    ("a cat --end https://a/b.png", "end", "/video"),
    ("a cat --upbeta", "upbeta", "isn't supported"),
    # duplicates and conflicts
    ("a cat --ar 1:1 --ar 16:9", "aspect", "more than once"),
    ("a cat --ar 1:1 --aspect 16:9", "aspect", "`--aspect`"),
    ("a cat --s 10 —stylize 20", "stylize", "more than once"),
    ("a cat --fast --turbo", "turbo", "one speed"),
    ("a cat --niji 6 --v 7", "niji", "not both"),
    # missing / malformed values
    ("a cat --ar", "aspect", "needs a ratio"),
    ("a cat --s abc", "stylize", "`--s` must be a number from 0 to 1000 (you wrote abc)"),
    ("a cat --chaos", "chaos", "needs"),
    ("a cat --no", "no", "needs"),
    ("a cat --sref", "sref", "needs"),
    ("a cat --cref --v 7", "cref", "needs"),
    ("a cat --style", "style", "needs"),
    ("a cat --style cute", "style", "only accepts `raw`"),
    ("a cat --tile seamless", "tile", "doesn't take a value"),
    ("a cat --raw please", "raw", "doesn't take a value"),
    ("a cat --c 50 extra words", "chaos", "must be a number"),
    # aspect ratio
    ("a cat --ar 1.5:1", "aspect", "two whole numbers"),
    ("a cat --ar 16x9", "aspect", "two whole numbers"),
    ("a cat --ar 0:1", "aspect", "two whole numbers"),
    ("a cat --ar 1:0", "aspect", "two whole numbers"),
    ("a cat --ar -1:1", "aspect", "two whole numbers"),
    ("a cat --ar 16:9:1", "aspect", "two whole numbers"),
    # ranges at the edges
    ("a cat --chaos 101", "chaos", "`--chaos` must be a number from 0 to 100 (you wrote 101)."),
    ("a cat --chaos 150", "chaos", "`--chaos` must be a number from 0 to 100 (you wrote 150)."),
    ("a cat --c -1", "chaos", "from 0 to 100"),
    ("a cat --c 50.5", "chaos", "whole number"),
    ("a cat --stylize 1001", "stylize", "0 to 1000"),
    ("a cat --weird 3001", "weird", "0 to 3000"),
    ("a cat --w 3001", "weird", "`--w`"),
    ("a cat --seed 4294967296", "seed", "0 to 4294967295"),
    ("a cat --seed 1.5", "seed", "whole number"),
    ("a cat --stop 9", "stop", "10 to 100"),
    ("a cat --stop 101", "stop", "10 to 100"),
    ("a cat --iw 3.01", "iw", "0 to 3"),
    ("a cat --iw -0.5", "iw", "0 to 3"),
    ("a cat --iw nan", "iw", "0 to 3"),
    ("a cat --sw 1001", "sw", "0 to 1000"),
    ("a cat --cw 101", "cw", "0 to 100"),
    ("a cat --ow 0", "ow", "1 to 1000"),
    ("a cat --ow 1001", "ow", "1 to 1000"),
    ("a cat --exp 101", "exp", "0 to 100"),
    ("a cat --seed " + "9" * 5000, "seed", "…"),
    # quality per version
    ("a cat --q 0.5", "quality", "on V7 must be 1, 2 or 4"),
    ("a cat --q 3", "quality", "on V7"),
    ("a cat --q 4 --v 6", "quality", "on V6 must be 1 or 2"),
    ("a cat --q 0.5 --v 6", "quality", "on V6"),
    ("a cat --q 4 --v 6.1", "quality", "on V6.1 must be 0.5, 1 or 2"),
    ("a cat --q 2 --v 8", "quality", "on V8 must be 1 or 4"),
    ("a cat --q 4 --niji 6", "quality", "on Niji 6"),
    ("a cat --q 0.25", "quality", "on V7"),
    ("a cat --q high", "quality", "on V7"),
    # versions
    ("a cat --v 5.2", "version", "`--v 5.2` isn't supported"),
    ("a cat --v 5", "version", "V6, V6.1, V7, V8, V8.1 or Niji 6"),
    ("a cat --v 9", "version", "isn't supported"),
    ("a cat --v 7.5", "version", "isn't supported"),
    ("a cat --v niji 6", "version", "isn't supported"),
    ("a cat --v", "version", "needs a model version"),
    ("a cat --niji 5", "niji", "only Niji 6"),
    ("a cat --niji 7", "niji", "only Niji 6"),
    # V8.1 restrictions
    ("a cat --q 1 --v 8.1", "quality", "isn't available on V8.1"),
    ("a cat --cref https://a/b.png --v 8.1", "cref", "isn't available on V8.1"),
    ("a cat --cw 50 --v 8.1", "cw", "isn't available on V8.1"),
    ("a cat --oref https://a/b.png --v 8.1", "oref", "isn't available on V8.1"),
    ("a cat --ow 100 --v 8.1", "ow", "isn't available on V8.1"),
    ("a cat --no dogs --v 8.1", "no", "`--no` isn't available on V8.1"),
    ("a cat --turbo --v 8.1", "turbo", "isn't available on V8.1"),
    ("a cat --draft --v 8.1", "draft", "isn't available on V8.1"),
    ("a cat --stop 50 --v 8.1", "stop", "isn't available on V8.1"),
    # V8 restrictions
    ("a cat --turbo --v 8", "turbo", "isn't available on V8"),
    ("a cat --cref https://a/b.png --v 8", "cref", "replaced it with `--oref`"),
    ("a cat --cw 50 --v 8", "cw", "isn't available on V8"),
    ("a cat --stop 50 --v 8", "stop", "isn't available on V8"),
    ("a cat --draft --v 8", "draft", "isn't available on V8"),
    ("a cat --sv 5 --v 8", "sv", "on V8"),
    # V6 / V6.1 / Niji 6 restrictions
    ("a cat --oref https://a/b.png --v 6", "oref", "isn't available on V6"),
    ("a cat --ow 100 --v 6.1", "ow", "isn't available on V6.1"),
    ("a cat --draft --v 6.1", "draft", "isn't available on V6.1"),
    ("a cat --exp --v 6", "exp", "isn't available on V6"),
    ("a cat --exp 10 --niji 6", "exp", "isn't available on Niji 6"),
    ("a cat --p --v 6", "p", "isn't available on V6"),
    ("a cat --p abc --niji", "p", "isn't available on Niji 6"),
    ("a cat --oref https://a/b.png --niji 6", "oref", "Niji 6"),
    ("a cat --no dogs --v 6", "no", "isn't available on V6"),
    ("a cat --no dogs --niji 6", "no", "isn't available on Niji 6"),
    ("a cat --draft --niji 6", "draft", "Niji 6"),
    # --hd only on V8 / V8.1
    ("a cat --hd", "hd", "isn't available on V7; it works on V8 or V8.1"),
    ("a cat --hd --v 6", "hd", "isn't available on V6"),
    ("a cat --hd --niji 6", "hd", "Niji 6"),
    # --sv
    ("a cat --sv 6", "sv", "on V7 must be 1, 2, 3 or 4"),
    ("a cat --sv 0 --v 6", "sv", "on V6"),
]


@pytest.mark.parametrize(("prompt", "flag", "fragment"), REFUSED)
def test_check_refuses(prompt: str, flag: str | None, fragment: str) -> None:
    with pytest.raises(PromptError) as info:
        check_prompt(prompt)
    message = str(info.value)
    assert info.value.flag == flag
    assert fragment in message
    _assert_sentence(message)


def _assert_sentence(message: str) -> None:
    assert "\n" not in message
    assert message.endswith((".", "?"))
    assert len(message) < 300


def test_refusal_names_flag_as_typed_with_dashes() -> None:
    with pytest.raises(PromptError, match=r"^`--ar` must be"):
        check_prompt("a cat —ar 1.5:1")
    with pytest.raises(PromptError, match=r"^`--c` must be"):
        check_prompt("a cat –C 500")


def test_long_values_are_truncated_in_the_sentence() -> None:
    huge = "x" * 500
    with pytest.raises(PromptError) as info:
        check_prompt(f"a cat --ar {huge}")
    assert huge not in str(info.value)
    assert "x" * 39 + "…" in str(info.value)
    with pytest.raises(PromptError) as info:
        check_prompt(f"a cat --{huge}")
    assert huge not in str(info.value)


def test_multiline_value_is_echoed_on_one_line() -> None:
    with pytest.raises(PromptError) as info:
        check_prompt("a cat --ar 16:9\nplease")
    assert "\n" not in str(info.value)
    assert "16:9 please" in str(info.value)


def test_backticks_in_echoed_values_do_not_break_markdown() -> None:
    with pytest.raises(PromptError) as info:
        check_prompt("a cat --s `x`")
    assert str(info.value).count("`") == 2


def test_too_long() -> None:
    check_prompt("x" * 8192)
    with pytest.raises(PromptError) as info:
        check_prompt("x" * 9000)
    assert info.value.flag is None
    assert "9,000" in str(info.value) and "8,192" in str(info.value)
    with pytest.raises(PromptError, match="limit is 10 characters"):
        check_prompt("a cat in a hat", max_len=10)


def test_prompt_error_is_value_error() -> None:
    err = PromptError("nope", "chaos")
    assert isinstance(err, ValueError)
    assert err.flag == "chaos"
    assert str(err) == "nope"
    assert PromptError("x").flag is None


# ---------------------------------------------------------------------------------------
# apply_defaults
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "defaults", "expected"),
    [
        ("a cat", {}, "a cat"),
        ("a cat", {"aspect": "16:9"}, "a cat --ar 16:9"),
        ("a cat  ", {"aspect": "16:9"}, "a cat --ar 16:9"),
        ("a cat --ar 1:1", {"aspect": "16:9"}, "a cat --ar 1:1"),
        ("a cat —ar 1:1", {"aspect": "16:9"}, "a cat —ar 1:1"),
        ("a cat --aspect 1:1", {"aspect": "16:9"}, "a cat --aspect 1:1"),
        ("a cat --s 50", {"stylize": "250", "chaos": "5"}, "a cat --s 50 --chaos 5"),
        ("a cat", {"aspect": None, "stylize": None}, "a cat"),
        ("a cat", {"version": "7"}, "a cat --v 7"),
        ("a cat", {"version": "8.1"}, "a cat --v 8.1"),
        ("a cat", {"version": "niji 6"}, "a cat --niji 6"),
        ("a cat", {"version": "niji"}, "a cat --niji 6"),
        ("a cat", {"version": "v 6.1"}, "a cat --v 6.1"),
        ("a cat --niji", {"version": "7"}, "a cat --niji"),
        ("a cat --v 6", {"version": "niji 6"}, "a cat --v 6"),
        ("a cat --version 6", {"version": "8"}, "a cat --version 6"),
        ("a cat", {"speed": "fast"}, "a cat --fast"),
        ("a cat", {"speed": "turbo"}, "a cat --turbo"),
        ("a cat", {"speed": "relax"}, "a cat --relax"),
        ("a cat", {"speed": ""}, "a cat"),
        ("a cat --fast", {"speed": "turbo"}, "a cat --fast"),
        ("a cat --turbo", {"speed": "fast"}, "a cat --turbo"),
        ("a cat", {"raw": ""}, "a cat --raw"),
        ("a cat", {"raw": "true"}, "a cat --raw"),
        ("a cat", {"raw": "false"}, "a cat"),
        ("a cat --style raw", {"raw": ""}, "a cat --style raw"),
        ("a cat --raw", {"style": "raw"}, "a cat --raw"),
        ("a cat", {"raw": "", "style": "raw"}, "a cat --raw"),
        ("a cat", {"quality": "2"}, "a cat --q 2"),
        ("a cat", {"not_a_flag": "1", "guild_id": "123"}, "a cat"),
        # defaults the effective model does not take are skipped
        ("a cat --v 8", {"speed": "turbo"}, "a cat --v 8"),
        ("a cat", {"version": "8.1", "speed": "turbo", "quality": "2", "no": "dogs"}, "a cat --v 8.1"),
        ("a cat --niji", {"version": "8.1", "aspect": "16:9", "quality": "2"}, "a cat --niji --ar 16:9 --q 2"),
        ("a cat --v 6", {"quality": "4", "hd": ""}, "a cat --v 6"),
        ("a cat --v 8", {"quality": "4", "hd": ""}, "a cat --v 8 --q 4 --hd"),
        ("a cat", {"version": "6", "p": "abc", "draft": ""}, "a cat --v 6"),
        # values that are wrong everywhere are kept so the caller's re-check reports them
        ("a cat", {"stylize": "5000"}, "a cat --stylize 5000"),
    ],
)
def test_apply_defaults(prompt: str, defaults: dict[str, str | None], expected: str) -> None:
    assert apply_defaults(prompt, defaults) == expected


def test_apply_defaults_result_is_checked_by_caller() -> None:
    out = apply_defaults("a cat", {"stylize": "5000"})
    with pytest.raises(PromptError, match="stylize"):
        check_prompt(out)
    # A default version that clashes with a flag the member typed is not hidden.
    out = apply_defaults("a cat --turbo", {"version": "8"})
    assert out == "a cat --turbo --v 8"
    with pytest.raises(PromptError, match="V8"):
        check_prompt(out)


def test_apply_defaults_does_not_truncate() -> None:
    prompt = "x" * 8190
    out = apply_defaults(prompt, {"aspect": "16:9"})
    assert out == prompt + " --ar 16:9"
    with pytest.raises(PromptError, match="limit"):
        check_prompt(out)


# ---------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------

_NAMES = [
    "ar", "aspect", "c", "chaos", "s", "stylize", "w", "weird", "seed", "sameseed", "stop", "iw", "q",
    "quality", "v", "version", "niji", "no", "cref", "cw", "oref", "ow", "sref", "sw", "sv", "tile", "raw",
    "style", "draft", "hd", "exp", "fast", "turbo", "relax", "p", "personalize", "motion", "end", "loop",
    "bs", "batchsize", "video", "repeat", "r", "stealth", "public", "foo", "v7", "ar16:9", "Q", "AR",
]  # fmt: skip
_VALUES = [
    "", "1:1", "16:9", "0:1", "1.5:1", "16x9", "0", "1", "2", "4", "0.5", ".5", "0.25", "6", "6.1", "7",
    "8", "8.1", "5.2", "10", "50", "100", "101", "1000", "3000", "4294967295", "4294967296", "-1", "abc",
    "raw", "niji 6", "https://a/b.png", "https://x.com/a--b.png", "--", "—", "{a, b}", "\n", "`", "@everyone",
    "9" * 40, "9" * 5000, "1e5", "nan", "inf", "٣", "１２",
]  # fmt: skip
_DASHES = ["--", "—", "–", "-", "---"]
_TEXTS = ["a cat", "", "https://x.com/a.png", "猫", "a—b", " ", "x -- y"]


@st.composite
def _token_prompts(draw: st.DrawFn) -> str:
    parts = [draw(st.sampled_from(_TEXTS))]
    for _ in range(draw(st.integers(0, 6))):
        parts.append(draw(st.sampled_from(_DASHES)) + draw(st.sampled_from(_NAMES)))
        parts.append(draw(st.sampled_from(_VALUES)))
    sep = draw(st.sampled_from([" ", "  ", "\n", "\t"]))
    return sep.join(parts)


_any_text = st.one_of(st.text(max_size=200), _token_prompts())


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_any_text)
def test_parse_never_raises(prompt: str) -> None:
    parsed = parse_prompt(prompt)
    assert parsed.text == parsed.text.strip()
    assert all(f.value is None or (f.value and f.value == f.value.strip()) for f in parsed.flags)
    assert isinstance(parsed.version, str)
    assert isinstance(model_of(prompt), str)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_any_text, st.integers(min_value=0, max_value=10_000))
def test_check_returns_or_raises_prompt_error(prompt: str, max_len: int) -> None:
    try:
        parsed = check_prompt(prompt, max_len=max_len)
    except PromptError as e:
        _assert_sentence(str(e))
    else:
        assert parsed.text
        assert parsed.version in SUPPORTED_VERSIONS


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_any_text)
def test_render_round_trip(prompt: str) -> None:
    parsed = parse_prompt(prompt)
    again = parse_prompt(parsed.render())
    assert again.text == parsed.text
    assert _pairs(again) == _pairs(parsed)
    assert again.render() == parsed.render()


@settings(max_examples=300)
@given(_any_text)
def test_accepted_render_is_accepted(prompt: str) -> None:
    try:
        parsed = check_prompt(prompt)
    except PromptError:
        return
    assert _pairs(check_prompt(parsed.render())) == _pairs(parsed)


# Valid values per canonical flag, for building prompts and defaults.
_VALID: dict[str, list[str]] = {
    "aspect": ["1:1", "16:9", "2:3"],
    "chaos": ["0", "50", "100"],
    "stylize": ["0", "250", "1000"],
    "weird": ["0", "3000"],
    "seed": ["0", "4294967295"],
    "stop": ["10", "100"],
    "iw": ["0", "1.5", "3"],
    "quality": ["0.5", "1", "2", "4"],
    "no": ["dogs, cats"],
    "cref": ["https://a/c.png"],
    "cw": ["0", "100"],
    "oref": ["https://a/o.png"],
    "ow": ["1", "1000"],
    "sref": ["https://a/s.png", "123"],
    "sw": ["0", "1000"],
    "sv": ["1", "4", "6"],
    "tile": [""],
    "raw": [""],
    "style": ["raw"],
    "draft": [""],
    "hd": [""],
    "exp": ["", "0", "100"],
    "fast": [""],
    "turbo": [""],
    "p": ["", "abc"],
}
_VERSION_FLAGS = {
    "6": "--v 6",
    "6.1": "--v 6.1",
    "7": "--v 7",
    "8": "--v 8",
    "8.1": "--v 8.1",
    "niji 6": "--niji 6",
}


def _ok_alone(version: str, name: str, value: str) -> bool:
    flag = f"--{name} {value}".strip()
    try:
        check_prompt(f"a cat {flag} {_VERSION_FLAGS[version]}")
    except PromptError:
        return False
    return True


@st.composite
def _valid_prompt(draw: st.DrawFn) -> str:
    version = draw(st.sampled_from(SUPPORTED_VERSIONS))
    names = draw(st.lists(st.sampled_from(sorted(_VALID)), unique=True, max_size=6))
    parts = [draw(st.sampled_from(["a cat", "https://x.com/a--b.png a cat —so cute"]))]
    speed_used = False
    for name in names:
        if name in {"fast", "turbo"}:
            if speed_used:
                continue
            speed_used = True
        value = draw(st.sampled_from(_VALID[name]))
        if _ok_alone(version, name, value):
            parts.append(f"{draw(st.sampled_from(['--', '—']))}{name} {value}".strip())
    parts.insert(draw(st.integers(1, len(parts))), _VERSION_FLAGS[version])
    return " ".join(parts)


_defaults = st.dictionaries(
    st.sampled_from([*sorted(_VALID), "speed"]),
    st.none() | st.just("x"),
    max_size=8,
).flatmap(
    lambda d: st.fixed_dictionaries(
        {
            k: (st.none() if v is None else st.sampled_from(["fast", "turbo"] if k == "speed" else _VALID[k]))
            for k, v in d.items()
        }
    )
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_valid_prompt(), _defaults)
def test_valid_prompt_stays_valid_after_defaults(prompt: str, defaults: dict[str, str | None]) -> None:
    parsed = check_prompt(prompt)
    out = apply_defaults(prompt, defaults)
    after = check_prompt(out)
    assert after.version == parsed.version
    # Nothing the member typed was overridden.
    assert after.flags[: len(parsed.flags)] == parsed.flags
    assert after.text == parsed.text
    # Idempotent: a second application adds nothing.
    assert apply_defaults(out, defaults) == out


@settings(max_examples=200)
@given(_defaults, st.sampled_from(["7", "8", "8.1", "6", "6.1", "niji 6"]))
def test_defaults_with_version_on_plain_prompt(defaults: dict[str, str | None], version: str) -> None:
    d = {"version": version, **defaults}
    out = apply_defaults("a cat", d)
    parsed = check_prompt(out)
    assert parsed.version == version
