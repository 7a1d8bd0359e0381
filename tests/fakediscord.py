# ruff: noqa: ASYNC109  (the public API takes ``timeout=`` arguments on purpose)
r"""A local, in-process fake of the Discord API (REST ``/api/v10`` + gateway websocket).

The *real* discord.py client logs in to it, so tests exercise the bot exactly the way
Discord would, with no network access.  Typical use::

    async with FakeDiscord() as fake, run_bot(bot, fake):
        inter = await fake.slash("imagine", options={"prompt": "a cat"})
        await inter.wait_response()
        msg = await fake.wait_message(lambda m: "cat" in m.content)
        await fake.click(msg.id, "U1")

Notes / discord.py 2.7.1 quirks this fake relies on:

* ``discord.http.Route.BASE`` is a plain ``str`` read each time a ``Route`` is built (webhook and
  interaction-callback routes too), ``DiscordWebSocket.DEFAULT_GATEWAY`` is a ``yarl.URL``.
  A non-sharded ``Client`` never calls ``GET /gateway/bot``; it connects straight to
  ``DEFAULT_GATEWAY`` with ``?v=10&encoding=json&compress=zlib-stream`` (or ``zstd-stream``).
  Compression is only applied by discord.py to *binary* frames, so this fake always sends TEXT
  frames and ignores ``compress``.  ``patch_discord(fake)`` patches both.
* discord.py parses a JSON body only when ``Content-Type`` is exactly ``application/json``.
* The interaction callback is ``POST /interactions/{id}/{token}/callback?with_response=1`` and must
  answer ``{"interaction": {...}, "resource": {...}}``.
* After READY discord.py waits ``guild_ready_timeout`` (default 2 s!) for more GUILD_CREATEs.
  Construct the bot with ``guild_ready_timeout=0.1`` (``run_bot`` also lowers it for you).
* Internal errors of the fake (bugs) become a 400 (not a 5xx, which discord.py would retry) and are
  recorded in ``FakeDiscord.errors``.
* After ``defer()`` (type 5, "thinking") the *first* followup replaces the loading message
  (same message id, keeps its ephemeral flag) -- exactly like real Discord.
* Without the ``members`` intent discord.py does not cache other members (``guild.get_member(444)``
  is None), but ``interaction.user`` is always a full ``Member`` built from the interaction payload.
  With ``members`` on, discord.py chunks at startup (op 8); the fake answers GUILD_MEMBERS_CHUNK.
* Messages the bot posts are echoed as MESSAGE_CREATE/UPDATE/DELETE when the IDENTIFY intents include
  GUILD_MESSAGES (default intents do) -- pass ``message_events=False`` to suppress.
* Nothing is rate limited unless a test injects a 429 (no ``X-RateLimit-*`` headers otherwise).

Strictness (what real Discord refuses, see ``/work/shared/reference/discord-limits.md``):

* Validation refusals answer ``400`` ``{"message": "Invalid Form Body", "code": 50035, "errors": {...}}``
  with the nested error dict Discord uses (``{"embeds": {"0": {"description": {"_errors": [{"code":
  "BASE_TYPE_MAX_LENGTH", "message": "Must be 4096 or fewer in length."}]}}}}``) -- discord.py flattens
  it into ``HTTPException.text`` (``"In embeds.0.description: Must be ..."``).  Checked: application
  command definitions (names, descriptions, options, choices, ``min_length``/``max_length`` 0/1-6000,
  required-before-optional, 4000 characters per command, 100 chat-input commands per scope -> 30032),
  messages (content 2000, embeds 10 / 6000 total / per-field limits, 10 attachments, action rows,
  buttons, selects, duplicate custom_ids), modals (title 45, 1-5 components, text inputs).  An empty
  message -> 400/50006; a second callback for one interaction -> 400/40060.
* Every such refusal (50035, 50006, 30032) is also appended to ``fake.violations`` as
  ``Violation(method, path, errors)`` and makes ``fake.assert_clean()`` fail -- so a bot that swallows
  the ``HTTPException`` still fails its test.  Set ``fake.expect_violations = True`` (or clear the list)
  in a test that provokes them on purpose.
* Uploads: a file larger than ``fake.attachment_size_limit`` (10 MiB; the interaction payload's
  ``attachment_size_limit`` carries the same figure) -> ``413`` code 40005.
* Permissions: ``fake.set_bot_permissions(channel_id, perms)`` sets the bot's effective permissions in
  a channel (threads inherit their parent's unless set themselves); interactions from it carry them as
  ``app_permissions``.  Channel routes enforce them: no View Channel -> 403/50001 on any
  ``/channels/{id}`` route; posting without Send Messages (Send Messages in Threads in a thread), files
  without Attach Files, embeds without Embed Links, a reply without Read Message History, typing without
  Send Messages -> 403/50013.  Interaction responses (callback, followups, ``@original`` edits) are not
  subject to channel permissions.  The guild cache still shows the bot as administrator.
  ``fake.add_thread(id, name, parent_id)`` adds a public thread; ``fake.delete_channel(id)`` deletes a
  channel or thread (later calls -> 404/10003).
* Every 403 and 413 is appended to ``fake.refusals`` as ``Refusal(method, path, status, code)``; these
  do not fail ``assert_clean`` (the bot may meet them legitimately).  ``fake.dump()`` lists every 4xx.
* Interaction tokens: the initial callback must come within ``fake.initial_response_s`` (3 s) of the
  INTERACTION_CREATE dispatch (else 404/10062 "Unknown interaction"); webhook calls with the token
  (followups, ``@original`` GET/PATCH/DELETE) work for ``fake.interaction_token_ttl_s`` (900 s), then
  404/10015 "Unknown Webhook".  Tests may lower both.

Fault injection (``fake.inject_fault(...) -> Fault``)::

    fault = fake.inject_fault("POST", r"/channels/\d+/messages$", status=500, count=1)
    fake.inject_fault("*", r"/webhooks/", status=429, retry_after=0.5)       # rate limit once
    fake.inject_fault("POST", r"/messages$", status=None, hold_s=30)         # stall, then handle normally
    fault.hits; fault.remove(); fake.clear_faults()

``path`` is a regex searched in the REST path after ``/api/v10``; ``count=None`` keeps the fault until
removed; ``hold_s`` delays the answer (``status=None``/``0``: a pure stall, then the request is handled
as usual).  Faulted answers are recorded in ``fake.calls`` (``injected=True``).  What discord.py 2.7
does with them: 429 (needs the ``Via`` header, which the fake sends) -> logs a WARNING, sleeps
``retry_after`` (body, seconds) and retries, up to 5 tries; 500/502/504/524 -> sleeps 1, 3, 5, 7, 9 s
between up to 5 tries (webhook/interaction routes: every 5xx), then ``DiscordServerError``; other 5xx
on bot routes -> ``DiscordServerError`` at once; 403 -> ``Forbidden``; 404 -> ``NotFound``; other 4xx
-> ``HTTPException`` (``.status``, ``.code``, ``.text``).

Shutdown order matters: stop the bot before the fake (``async with FakeDiscord() as fake,
run_bot(bot, fake):`` does that), otherwise the bot tries to reconnect and logs errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import hashlib
import inspect
import itertools
import json
import logging
import math
import mimetypes
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import WSMsgType, web

__all__ = [
    "ErrorLogCollector",
    "FakeDiscord",
    "FakeInteraction",
    "FakeMessage",
    "Fault",
    "RecordedCall",
    "Refusal",
    "Violation",
    "capture_error_logs",
    "patch_discord",
    "run_bot",
]

DISCORD_EPOCH_MS = 1420070400000
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_EMBEDS = 1 << 2
COMPONENTS_V2 = 1 << 15
PERM_ADMINISTRATOR = 1 << 3
PERM_VIEW_CHANNEL = 1 << 10
PERM_SEND_MESSAGES = 1 << 11
PERM_EMBED_LINKS = 1 << 14
PERM_ATTACH_FILES = 1 << 15
PERM_READ_MESSAGE_HISTORY = 1 << 16
PERM_ADD_REACTIONS = 1 << 6
PERM_SEND_MESSAGES_IN_THREADS = 1 << 38
_VIOLATION_CODES = (50035, 50006, 30032)
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12

_INTERACTION_TYPES = {1: "PING", 2: "APPLICATION_COMMAND", 3: "MESSAGE_COMPONENT", 4: "AUTOCOMPLETE", 5: "MODAL_SUBMIT"}
_OPTION_TYPES = {
    1: "SUB_COMMAND",
    2: "SUB_COMMAND_GROUP",
    3: "STRING",
    4: "INTEGER",
    5: "BOOLEAN",
    6: "USER",
    7: "CHANNEL",
    8: "ROLE",
    9: "MENTIONABLE",
    10: "NUMBER",
    11: "ATTACHMENT",
}
_SELECT_TYPES = (3, 5, 6, 7, 8)


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat()


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, code: int = 0, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors


def _json_response(obj: Any, status: int = 200) -> web.Response:
    # Content-Type must be exactly "application/json" (no charset) or discord.py returns a str.
    return web.Response(
        status=status, body=json.dumps(obj).encode("utf-8"), headers={"Content-Type": "application/json"}
    )


def _walk_components(components: list[dict[str, Any]] | None) -> Iterator[dict[str, Any]]:
    """Depth-first walk over every component (action rows, containers, sections, labels...)."""
    for comp in components or []:
        yield comp
        yield from _walk_components(comp.get("components"))
        if isinstance(comp.get("component"), dict):
            yield from _walk_components([comp["component"]])
        if isinstance(comp.get("accessory"), dict):
            yield from _walk_components([comp["accessory"]])


def _emoji_str(emoji: dict[str, Any] | None) -> str | None:
    if not emoji:
        return None
    if emoji.get("id"):
        prefix = "a" if emoji.get("animated") else ""
        return f"<{prefix}:{emoji.get('name')}:{emoji['id']}>"
    return emoji.get("name")


# --------------------------------------------------------------------------------------------------
# validation like real Discord (400 / 50035 "Invalid Form Body" with a nested ``errors`` dict)
# --------------------------------------------------------------------------------------------------

Path = tuple[str | int, ...]


class _FormErrors:
    """Collects Discord-style nested form errors: ``{"a": {"0": {"b": {"_errors": [{code, message}]}}}}``."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def __bool__(self) -> bool:
        return bool(self.tree)

    def add(self, path: Path, code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def required(self, path: Path) -> None:
        self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def length(
        self, path: Path, value: Any, hi: int, lo: int = 0, *, required: bool = False, what: str = "str"
    ) -> None:
        """Length check of a string (``what="str"``) or a list (``what="list"``); ``None`` = absent."""
        if value is None:
            if required:
                self.required(path)
            return
        if what == "str" and not isinstance(value, str):
            self.add(path, "BASE_TYPE_STRING", "Must be a string.")
            return
        if what == "list" and not isinstance(value, list):
            self.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
            return
        n = len(value)
        if lo <= n <= hi:
            return
        if lo <= 0:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {hi} or fewer in length.")
        else:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {lo} and {hi} in length.")

    def number(self, path: Path, value: Any, lo: float | None, hi: float | None, *, integer: bool = False) -> None:
        if value is None:
            return
        kind = "int" if integer else "float"
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type:
            self.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not {kind}.')
            return
        if lo is not None and value < lo:
            self.add(path, "NUMBER_TYPE_MIN", f"{kind} value should be greater than or equal to {lo}.")
        if hi is not None and value > hi:
            self.add(path, "NUMBER_TYPE_MAX", f"{kind} value should be less than or equal to {hi}.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise _HTTPError(400, "Invalid Form Body", 50035, self.tree)


def _flatten_errors(errors: dict[str, Any], prefix: str = "") -> list[str]:
    """``{"a": {"0": {"_errors": [...]}}}`` -> ``["a.0: Must be ..."]`` (like discord.py's HTTPException.text)."""
    out: list[str] = []
    for key, val in errors.items():
        if key == "_errors":
            msgs = " ".join(f"{e.get('message')} ({e.get('code')})" for e in val)
            out.append(f"{prefix or '<body>'}: {msgs}")
        elif isinstance(val, dict):
            out += _flatten_errors(val, f"{prefix}.{key}" if prefix else key)
    return out


def _valid_chat_input_name(name: Any) -> bool:
    """``^[-_\\p{L}\\p{N}]{1,32}$``, lowercase where the script has case (approximated with str methods)."""
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        return False
    return all(ch in "-_" or (ch.isalnum() and not ch.isupper()) for ch in name)


_COMMAND_TYPES = (1, 2, 3, 4)
_MAX_CHAT_INPUT_COMMANDS = 100
_MAX_COMMAND_SIZE = 4000
_SAFE_INT = 2**53


def _command_size(cmd: dict[str, Any]) -> int:
    """Characters Discord counts towards a command's 4000: names, descriptions, choice names and values."""

    def opt_size(opt: dict[str, Any]) -> int:
        size = len(str(opt.get("name") or "")) + len(str(opt.get("description") or ""))
        for ch in opt.get("choices") or []:
            if isinstance(ch, dict):
                size += len(str(ch.get("name") or "")) + len(
                    str(ch.get("value") if ch.get("value") is not None else "")
                )
        return size + sum(opt_size(o) for o in opt.get("options") or [] if isinstance(o, dict))

    return opt_size(cmd)


def _validate_options(errs: _FormErrors, path: Path, options: Any, *, depth: int) -> None:
    """Options of a chat-input command (depth 0), of a subcommand group (1) or of a subcommand (1/2)."""
    if options is None:
        return
    if not isinstance(options, list):
        errs.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    errs.length(path, options, 25, what="list")
    names: set[str] = set()
    seen_optional = False
    kinds: set[str] = set()
    for i, opt in enumerate(options):
        op = (*path, i)
        if not isinstance(opt, dict):
            errs.add(op, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        otype = opt.get("type")
        if otype not in _OPTION_TYPES:
            errs.add((*op, "type"), "BASE_TYPE_CHOICES", f"Value must be one of {set(_OPTION_TYPES)}.")
            continue
        name = opt.get("name")
        if name is None:
            errs.required((*op, "name"))
        elif not _valid_chat_input_name(name):
            errs.add((*op, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        elif name in names:
            errs.add((*op, "name"), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option name already used")
        else:
            names.add(name)
        errs.length((*op, "description"), opt.get("description"), 100, 1, required=True)
        if otype in (1, 2):
            kinds.add("sub")
            if (otype == 2 and depth > 0) or (otype == 1 and depth > 1):
                errs.add((*op, "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Subcommands nest too deep")
            sub_opts = opt.get("options")
            if otype == 2:
                if not sub_opts:
                    errs.required((*op, "options"))
                for j, sub in enumerate(sub_opts or []):
                    if isinstance(sub, dict) and sub.get("type") != 1:
                        errs.add(
                            (*op, "options", j, "type"),
                            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                            "A subcommand group holds subcommands only",
                        )
            _validate_options(errs, (*op, "options"), sub_opts, depth=depth + 1)
            continue
        kinds.add("value")
        if opt.get("options"):
            errs.add((*op, "options"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Only subcommands have options")
        if opt.get("required"):
            if seen_optional:
                errs.add(
                    (*op, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = opt.get("choices")
        if choices is not None:
            if otype not in (3, 4, 10):
                errs.add(
                    (*op, "choices"),
                    "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                    "Choices need a string, integer or number option",
                )
            elif opt.get("autocomplete"):
                errs.add(
                    (*op, "autocomplete"),
                    "APPLICATION_COMMAND_AUTOCOMPLETE_CHOICES",
                    "Autocomplete cannot be set when choices are present",
                )
            errs.length((*op, "choices"), choices, 25, what="list")
            for j, ch in enumerate(choices if isinstance(choices, list) else []):
                cp = (*op, "choices", j)
                if not isinstance(ch, dict):
                    errs.add(cp, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
                    continue
                errs.length((*cp, "name"), ch.get("name"), 100, 1, required=True)
                value = ch.get("value")
                if value is None:
                    errs.required((*cp, "value"))
                elif otype == 3:
                    errs.length((*cp, "value"), value, 100, 1)
                else:
                    errs.number((*cp, "value"), value, -_SAFE_INT, _SAFE_INT, integer=otype == 4)
        if otype == 3:
            errs.number((*op, "min_length"), opt.get("min_length"), 0, 6000, integer=True)
            errs.number((*op, "max_length"), opt.get("max_length"), 1, 6000, integer=True)
            lo, hi = opt.get("min_length"), opt.get("max_length")
            if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
                errs.add((*op, "min_length"), "NUMBER_TYPE_MAX", f"int value should be less than or equal to {hi}.")
        else:
            for key in ("min_length", "max_length"):
                if opt.get(key) is not None:
                    errs.add(
                        (*op, key), "APPLICATION_COMMAND_OPTION_LENGTH_INVALID", "Only string options have lengths"
                    )
        if otype in (4, 10):
            errs.number((*op, "min_value"), opt.get("min_value"), -_SAFE_INT, _SAFE_INT, integer=otype == 4)
            errs.number((*op, "max_value"), opt.get("max_value"), -_SAFE_INT, _SAFE_INT, integer=otype == 4)
            lo, hi = opt.get("min_value"), opt.get("max_value")
            if isinstance(lo, int | float) and isinstance(hi, int | float) and lo > hi:
                errs.add((*op, "min_value"), "NUMBER_TYPE_MAX", f"value should be less than or equal to {hi}.")
        else:
            for key in ("min_value", "max_value"):
                if opt.get(key) is not None:
                    errs.add((*op, key), "APPLICATION_COMMAND_OPTION_VALUE_INVALID", "Only numeric options have bounds")
    if len(kinds) > 1:
        errs.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Subcommands and subcommand groups cannot be mixed with other options",
        )


def _validate_command(errs: _FormErrors, path: Path, cmd: Any) -> None:
    if not isinstance(cmd, dict):
        errs.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    ctype = cmd.get("type", 1)
    if ctype is None:
        ctype = 1
    if ctype not in _COMMAND_TYPES:
        errs.add((*path, "type"), "BASE_TYPE_CHOICES", f"Value must be one of {set(_COMMAND_TYPES)}.")
        return
    name = cmd.get("name")
    if ctype == 1:
        if name is None:
            errs.required((*path, "name"))
        elif not _valid_chat_input_name(name):
            errs.add((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        errs.length((*path, "description"), cmd.get("description"), 100, 1, required=True)
        _validate_options(errs, (*path, "options"), cmd.get("options"), depth=0)
    else:
        errs.length((*path, "name"), name, 32, 1, required=True)
        if cmd.get("options"):
            errs.add(
                (*path, "options"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Context menu commands have no options"
            )
    if _command_size(cmd) > _MAX_COMMAND_SIZE:
        errs.add(path, "APPLICATION_COMMAND_TOO_LARGE", f"Command exceeds maximum size ({_MAX_COMMAND_SIZE})")


# -- messages ------------------------------------------------------------------------------------------

_BUTTON_STYLES = (1, 2, 3, 4, 5, 6)


def _validate_embeds(errs: _FormErrors, embeds: Any) -> None:
    if embeds is None:
        return
    if not isinstance(embeds, list):
        errs.add(("embeds",), "BASE_TYPE_ARRAY", "Must be an array.")
        return
    errs.length(("embeds",), embeds, 10, what="list")
    total = 0
    for i, e in enumerate(embeds):
        p: Path = ("embeds", i)
        if not isinstance(e, dict):
            errs.add(p, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        for key, lim in (("title", 256), ("description", 4096)):
            val = e.get(key)
            errs.length((*p, key), val, lim)
            total += len(val) if isinstance(val, str) else 0
        fields = e.get("fields")
        errs.length((*p, "fields"), fields, 25, what="list")
        for j, f in enumerate(fields if isinstance(fields, list) else []):
            fp = (*p, "fields", j)
            if not isinstance(f, dict):
                errs.add(fp, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
                continue
            errs.length((*fp, "name"), f.get("name"), 256, 1, required=True)
            errs.length((*fp, "value"), f.get("value"), 1024, 1, required=True)
            total += sum(len(f.get(k)) for k in ("name", "value") if isinstance(f.get(k), str))
        footer = e.get("footer")
        if isinstance(footer, dict):
            errs.length((*p, "footer", "text"), footer.get("text"), 2048, 1, required=True)
            total += len(footer["text"]) if isinstance(footer.get("text"), str) else 0
        author = e.get("author")
        if isinstance(author, dict):
            errs.length((*p, "author", "name"), author.get("name"), 256, 1, required=True)
            total += len(author["name"]) if isinstance(author.get("name"), str) else 0
    if total > 6000:
        errs.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


class _ComponentChecker:
    """Walks a message's or modal's components, checking them with their payload paths."""

    def __init__(self, errs: _FormErrors, *, modal: bool) -> None:
        self.errs = errs
        self.modal = modal
        self.custom_ids: set[str] = set()
        self.count = 0

    def custom_id(self, path: Path, comp: dict[str, Any], *, required: bool = True) -> None:
        cid = comp.get("custom_id")
        if cid is None:
            if required:
                self.errs.required((*path, "custom_id"))
            return
        self.errs.length((*path, "custom_id"), cid, 100, 1)
        if isinstance(cid, str):
            if cid in self.custom_ids:
                self.errs.add(
                    (*path, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
                )
            self.custom_ids.add(cid)

    def component(self, path: Path, comp: Any) -> None:
        if not isinstance(comp, dict):
            self.errs.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            return
        self.count += 1
        ctype = comp.get("type")
        if ctype == 1:
            self.row(path, comp)
        elif ctype == 2:
            self.button(path, comp)
        elif ctype in _SELECT_TYPES:
            self.select(path, comp)
        elif ctype == 4:
            self.text_input(path, comp, labelled=False)
        elif ctype == 18:  # label (modals)
            self.errs.length((*path, "label"), comp.get("label"), 45, 1, required=True)
            self.errs.length((*path, "description"), comp.get("description"), 100)
            inner = comp.get("component")
            if inner is None:
                self.errs.required((*path, "component"))
            elif isinstance(inner, dict) and inner.get("type") == 4:
                self.count += 1
                self.text_input((*path, "component"), inner, labelled=True)
            else:
                self.component((*path, "component"), inner)
        elif ctype == 10:  # text display
            self.errs.length((*path, "content"), comp.get("content"), 4000, 1, required=True)
        elif ctype in (9, 17):  # section, container
            children = comp.get("components")
            lo, hi = (1, 3) if ctype == 9 else (1, 40)
            self.errs.length((*path, "components"), children, hi, lo, required=True, what="list")
            for j, child in enumerate(children if isinstance(children, list) else []):
                self.component((*path, "components", j), child)
            if ctype == 9:
                acc = comp.get("accessory")
                if acc is None:
                    self.errs.required((*path, "accessory"))
                else:
                    self.component((*path, "accessory"), acc)
        elif ctype in (11, 12, 13, 14, 19, 21, 22, 23):
            pass  # thumbnail, media gallery, file, separator, file upload, radio/checkbox: not checked further
        elif ctype is None:
            self.errs.required((*path, "type"))
        else:
            self.errs.add(
                (*path, "type"), "UNION_TYPE_CHOICES", f'Value of field "type" must be one of known types, got {ctype}.'
            )

    def row(self, path: Path, row: dict[str, Any]) -> None:
        children = row.get("components")
        self.errs.length((*path, "components"), children, 5, 1, required=True, what="list")
        if not isinstance(children, list):
            return
        width = 0
        for j, child in enumerate(children):
            cp = (*path, "components", j)
            ctype = child.get("type") if isinstance(child, dict) else None
            if ctype == 1:
                self.errs.add((*cp, "type"), "COMPONENT_LAYOUT_INVALID", "An action row cannot hold an action row")
                continue
            width += 5 if ctype in (*_SELECT_TYPES, 4) else 1
            if width > 5 and len(children) <= 5:
                self.errs.add(
                    cp, "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "The specified component exceeds the maximum width"
                )
            self.component(cp, child)

    def button(self, path: Path, b: dict[str, Any]) -> None:
        if self.modal:
            self.errs.add((*path, "type"), "COMPONENT_TYPE_INVALID", "Buttons are not allowed in modals")
        style = b.get("style")
        if style not in _BUTTON_STYLES:
            self.errs.add((*path, "style"), "BASE_TYPE_CHOICES", f"Value must be one of {set(_BUTTON_STYLES)}.")
        self.errs.length((*path, "label"), b.get("label"), 80)
        if style == 5:
            if not b.get("url"):
                self.errs.required((*path, "url"))
            else:
                self.errs.length((*path, "url"), b.get("url"), 512)
            if b.get("custom_id") is not None:
                self.errs.add(
                    (*path, "custom_id"), "BUTTON_COMPONENT_LINK_CUSTOM_ID", "A link button cannot have a custom_id"
                )
        elif style == 6:
            if not b.get("sku_id"):
                self.errs.required((*path, "sku_id"))
            for key in ("custom_id", "url", "label", "emoji"):
                if b.get(key) is not None:
                    self.errs.add((*path, key), "BUTTON_COMPONENT_PREMIUM_FIELD", f"A premium button cannot have {key}")
        else:
            self.custom_id(path, b)
            if b.get("url") is not None:
                self.errs.add((*path, "url"), "BUTTON_COMPONENT_URL_NOT_LINK", "Only link buttons can have a url")
        if style != 6 and not b.get("label") and not b.get("emoji"):
            self.errs.add((*path, "label"), "BUTTON_COMPONENT_LABEL_OR_EMOJI", "A button needs a label or an emoji")

    def select(self, path: Path, s: dict[str, Any]) -> None:
        self.custom_id(path, s)
        self.errs.length((*path, "placeholder"), s.get("placeholder"), 150)
        self.errs.number((*path, "min_values"), s.get("min_values"), 0, 25, integer=True)
        self.errs.number((*path, "max_values"), s.get("max_values"), 1, 25, integer=True)
        lo, hi = s.get("min_values", 1), s.get("max_values", 1)
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            self.errs.add(
                (*path, "min_values"), "SELECT_COMPONENT_MIN_VALUES_TOO_LARGE", "min_values cannot exceed max_values"
            )
        if s.get("type") != 3:
            return
        options = s.get("options")
        self.errs.length((*path, "options"), options, 25, 1, required=True, what="list")
        if not isinstance(options, list):
            return
        values: set[str] = set()
        for j, o in enumerate(options):
            op = (*path, "options", j)
            if not isinstance(o, dict):
                self.errs.add(op, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
                continue
            self.errs.length((*op, "label"), o.get("label"), 100, 1, required=True)
            self.errs.length((*op, "value"), o.get("value"), 100, 1, required=True)
            self.errs.length((*op, "description"), o.get("description"), 100)
            if o.get("value") in values:
                self.errs.add(
                    (*op, "value"), "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED", "Select option values must be unique"
                )
            values.add(o.get("value"))
        if isinstance(hi, int) and options and hi > len(options):
            self.errs.add(
                (*path, "max_values"),
                "SELECT_COMPONENT_MAX_VALUES_EXCEEDS_OPTIONS",
                f"max_values must be at most {len(options)} (the number of options)",
            )
        if isinstance(lo, int) and options and lo > len(options):
            self.errs.add(
                (*path, "min_values"),
                "SELECT_COMPONENT_MIN_VALUES_EXCEEDS_OPTIONS",
                f"min_values must be at most {len(options)} (the number of options)",
            )

    def text_input(self, path: Path, t: dict[str, Any], *, labelled: bool) -> None:
        if not self.modal:
            self.errs.add((*path, "type"), "COMPONENT_TYPE_INVALID", "Text inputs are only allowed in modals")
        self.custom_id(path, t)
        if t.get("style") not in (1, 2):
            self.errs.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
        if labelled:
            if t.get("label") is not None:
                self.errs.add(
                    (*path, "label"), "COMPONENT_LABEL_DUPLICATED", "A text input inside a label has no label"
                )
        else:
            self.errs.length((*path, "label"), t.get("label"), 45, 1, required=True)
        self.errs.length((*path, "value"), t.get("value"), 4000)
        self.errs.length((*path, "placeholder"), t.get("placeholder"), 100)
        self.errs.number((*path, "min_length"), t.get("min_length"), 0, 4000, integer=True)
        self.errs.number((*path, "max_length"), t.get("max_length"), 1, 4000, integer=True)


def _validate_components(errs: _FormErrors, components: Any, *, v2: bool, modal: bool = False) -> None:
    if components is None:
        return
    if not isinstance(components, list):
        errs.add(("components",), "BASE_TYPE_ARRAY", "Must be an array.")
        return
    checker = _ComponentChecker(errs, modal=modal)
    if modal:
        errs.length(("components",), components, 5, 1, required=True, what="list")
    elif not v2:
        errs.length(("components",), components, 5, what="list")
    for i, comp in enumerate(components):
        ctype = comp.get("type") if isinstance(comp, dict) else None
        if not v2 and not modal and ctype != 1:
            errs.add(
                ("components", i, "type"),
                "COMPONENT_LAYOUT_INVALID",
                "Top-level components must be action rows (set the IS_COMPONENTS_V2 flag for others)",
            )
        if modal and ctype not in (1, 10, 18):
            errs.add(
                ("components", i, "type"),
                "COMPONENT_LAYOUT_INVALID",
                "A modal holds action rows, labels and text displays",
            )
        checker.component(("components", i), comp)
    if v2 and not modal and checker.count > 40:
        errs.add(("components",), "COMPONENT_MAX_TOTAL_COMPONENTS_EXCEEDED", "Must be 40 or fewer in total.")


# --------------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------------


@dataclass
class RecordedCall:
    """One REST call the bot made. ``path`` is relative to ``/api/v10`` (e.g. ``/users/@me``)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[tuple[str, bytes]]
    status: int = 0
    code: int = 0  # Discord error code of a 4xx/5xx answer
    message: str = ""  # error message of a 4xx/5xx answer
    injected: bool = False  # answered by an injected Fault

    def __repr__(self) -> str:
        extra = ""
        if self.status >= 400:
            extra = f" {self.code} {self.message!r}" + (" (injected)" if self.injected else "")
        return f"<{self.method} {self.path} -> {self.status}{extra}>"


class Violation(NamedTuple):
    """A request real Discord refuses as malformed (400 / 50035, 50006, 30032): a bug in the bot."""

    method: str
    path: str
    errors: dict[str, Any]  # Discord's nested ``errors`` dict ({"_errors": [...]} at the top for 50006/30032)

    def describe(self) -> str:
        return f"{self.method} {self.path}: " + "; ".join(_flatten_errors(self.errors))


class Refusal(NamedTuple):
    """A 403 (missing access/permissions) or 413 (upload too large) the fake answered."""

    method: str
    path: str
    status: int
    code: int


_DEFAULT_FAULT_MESSAGES = {
    400: "400: Bad Request",
    401: "401: Unauthorized",
    403: "Missing Permissions",
    404: "404: Not Found",
    429: "You are being rate limited.",
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
    504: "504: Gateway Timeout",
}


@dataclass(eq=False)
class Fault:
    """An injected failure (see :meth:`FakeDiscord.inject_fault`)."""

    method: str
    path: re.Pattern[str]
    status: int | None
    code: int = 0
    message: str | None = None
    retry_after: float | None = None
    count: int | None = 1
    hold_s: float = 0.0
    global_: bool = False
    hits: int = 0
    _fake: FakeDiscord | None = field(default=None, repr=False)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def matches(self, method: str, path: str) -> bool:
        return not self.exhausted and self.method in ("*", method.upper()) and self.path.search(path) is not None

    def remove(self) -> None:
        if self._fake is not None and self in self._fake.faults:
            self._fake.faults.remove(self)

    def response(self, method: str, path: str) -> web.Response:
        status = int(self.status or 0)
        if status == 429:
            retry_after = 1.0 if self.retry_after is None else float(self.retry_after)
            body: dict[str, Any] = {
                "message": self.message or "You are being rate limited.",
                "retry_after": retry_after,
                "global": self.global_,
            }
            if self.code:
                body["code"] = self.code
            route = re.sub(r"\d{5,}", "{id}", path)
            headers = {
                "Content-Type": "application/json",
                # discord.py treats a 429 without ``Via`` as a Cloudflare ban (HTTPException, no retry)
                "Via": "1.1 google",
                "Retry-After": str(max(1, math.ceil(retry_after))),  # whole seconds, as Discord sends it
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": hashlib.md5(f"{method} {route}".encode()).hexdigest(),
                "X-RateLimit-Scope": "global" if self.global_ else "user",
            }
            if self.global_:
                headers["X-RateLimit-Global"] = "true"
            return web.Response(status=429, body=json.dumps(body).encode(), headers=headers)
        message = self.message or _DEFAULT_FAULT_MESSAGES.get(status, f"{status}: injected fault")
        return _json_response({"message": message, "code": self.code}, status)


@dataclass(eq=False)
class FakeMessage:
    """A message the bot posted (channel message, interaction response, followup...)."""

    id: int
    channel_id: int
    guild_id: int | None
    author: dict[str, Any]
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    # each: {"id", "filename", "size", "url", "proxy_url", "content_type", ..., "data": bytes}
    attachments: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    message_reference: dict[str, Any] | None = None
    allowed_mentions: dict[str, Any] | None = None
    tts: bool = False
    type: int = 0
    edits: int = 0
    deleted: bool = False
    webhook_id: int | None = None
    interaction_token: str | None = None  # token of the interaction this message answers, if any
    interaction_metadata: dict[str, Any] | None = None
    poll: dict[str, Any] | None = None
    created_at: str = field(default_factory=_now_iso)
    edited_at: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # snapshots before each edit
    seq: int = 0  # monotonic "last touched" counter (create/edit)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is a deferred "Bot is thinking..." message."""
        return bool(self.flags & LOADING)

    def all_components(self) -> list[dict[str, Any]]:
        return list(_walk_components(self.components))

    def buttons(self) -> list[tuple[str | None, str | None, str | None, bool]]:
        """(label, emoji, custom_id, disabled) for every button, in display order."""
        return [
            (c.get("label"), _emoji_str(c.get("emoji")), c.get("custom_id"), bool(c.get("disabled", False)))
            for c in _walk_components(self.components)
            if c.get("type") == 2
        ]

    def labels(self) -> list[str]:
        """Button labels (emoji-only buttons show their emoji)."""
        return [label or emoji or "" for label, emoji, _cid, _dis in self.buttons()]

    def selects(self) -> list[dict[str, Any]]:
        return [c for c in _walk_components(self.components) if c.get("type") in _SELECT_TYPES]

    def attachment(self, filename: str) -> dict[str, Any]:
        for att in self.attachments:
            if att["filename"] == filename:
                return att
        raise AssertionError(f"no attachment {filename!r}; have {[a['filename'] for a in self.attachments]}")

    @property
    def filenames(self) -> list[str]:
        return [a["filename"] for a in self.attachments]

    def text(self) -> str:
        """Content + embed titles/descriptions/fields + text displays, for loose assertions."""
        parts = [self.content or ""]
        for e in self.embeds:
            parts += [e.get("title") or "", e.get("description") or ""]
            for f in e.get("fields") or []:
                parts += [f.get("name") or "", f.get("value") or ""]
            if e.get("footer"):
                parts.append(e["footer"].get("text") or "")
        for c in _walk_components(self.components):
            if c.get("type") == 10:
                parts.append(c.get("content") or "")
        return "\n".join(p for p in parts if p)

    def __repr__(self) -> str:
        flags = []
        if self.ephemeral:
            flags.append("ephemeral")
        if self.loading:
            flags.append("loading")
        if self.deleted:
            flags.append("deleted")
        return (
            f"<FakeMessage id={self.id} ch={self.channel_id} {' '.join(flags)} content={self.content[:60]!r} "
            f"embeds={len(self.embeds)} buttons={self.labels()} files={self.filenames} edits={self.edits}>"
        )


class FakeInteraction:
    """Handle on an interaction the test sent, and on everything the bot answered to it."""

    def __init__(
        self,
        fake: FakeDiscord,
        *,
        id: int,
        token: str,
        type: int,
        data: dict[str, Any],
        payload: dict[str, Any],
        user_id: int,
        channel_id: int,
        guild_id: int | None,
        source_message_id: int | None = None,
        parent: FakeInteraction | None = None,
    ) -> None:
        self.fake = fake
        self.id = id
        self.token = token
        self.type = type
        self.data = data
        self.payload = payload
        self.user_id = user_id
        self.channel_id = channel_id
        self.guild_id = guild_id
        self.source_message_id = source_message_id  # message the component/modal was on
        self.parent = parent
        self.response_type: int | None = None
        self.response_data: dict[str, Any] | None = None
        self.response_files: list[tuple[str, bytes]] = []
        self.followups: list[FakeMessage] = []
        self.original_message_id: int | None = None
        self.responded = asyncio.Event()
        # time.monotonic() when the INTERACTION_CREATE was written to the gateway (token lifetimes count from it)
        self.dispatched_at: float | None = None
        self.late = False  # the bot tried its initial callback after ``fake.initial_response_s``

    @property
    def age(self) -> float:
        """Seconds since the INTERACTION_CREATE was dispatched (0 before that)."""
        return 0.0 if self.dispatched_at is None else time.monotonic() - self.dispatched_at

    # -- state ----------------------------------------------------------------------------------------
    @property
    def message(self) -> FakeMessage | None:
        """The "@original" message: the response message (types 4/5) or the edited source message (6/7)."""
        if self.original_message_id is None:
            return None
        return self.fake.messages.get(self.original_message_id)

    @property
    def source_message(self) -> FakeMessage | None:
        return None if self.source_message_id is None else self.fake.messages.get(self.source_message_id)

    @property
    def ephemeral(self) -> bool:
        """Whether the initial response is ephemeral (flag 64)."""
        msg = self.message
        if msg is not None:
            return msg.ephemeral
        return bool((self.response_data or {}).get("flags", 0) & EPHEMERAL)

    @property
    def modal(self) -> dict[str, Any] | None:
        return self.response_data if self.response_type == 9 else None

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """Autocomplete choices (response type 8)."""
        return (self.response_data or {}).get("choices") if self.response_type == 8 else None

    def visible_messages(self) -> list[FakeMessage]:
        msgs = [m for m in [self.message, *self.followups] if m is not None and not m.deleted]
        seen: dict[int, FakeMessage] = {m.id: m for m in msgs}
        return sorted(seen.values(), key=lambda m: m.seq)

    @property
    def last_message(self) -> FakeMessage | None:
        """The most recently created/edited of: original response and followups."""
        msgs = self.visible_messages()
        return msgs[-1] if msgs else None

    @property
    def content(self) -> str | None:
        """Text of the final visible answer (most recently created/edited original response or followup)."""
        msg = self.last_message
        return None if msg is None else msg.content

    # -- waiting --------------------------------------------------------------------------------------
    async def wait_response(self, timeout: float = 10.0) -> FakeInteraction:
        """Wait until the bot sent the initial callback (any type)."""
        try:
            await asyncio.wait_for(self.responded.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"bot did not respond to interaction {self!r} within {timeout}s\n{self.fake.dump()}"
            ) from None
        return self

    async def wait_followups(self, count: int = 1, timeout: float = 10.0) -> list[FakeMessage]:
        await self.fake.wait_for(lambda: len(self.followups) >= count, timeout, what=f"{count} followup(s)")
        return self.followups

    async def wait_done(self, timeout: float = 10.0) -> FakeMessage:
        """Wait until there is a visible answer that is not a "thinking..." placeholder."""

        def check() -> FakeMessage | None:
            msg = self.last_message
            return msg if msg is not None and not msg.loading else None

        msg: FakeMessage = await self.fake.wait_for(check, timeout, what=f"final answer to {self!r}")
        return msg

    def __repr__(self) -> str:
        name = self.data.get("name") or self.data.get("custom_id")
        return (
            f"<FakeInteraction {_INTERACTION_TYPES.get(self.type, self.type)} {name!r} id={self.id} "
            f"response_type={self.response_type} followups={len(self.followups)}>"
        )


# --------------------------------------------------------------------------------------------------
# gateway connection
# --------------------------------------------------------------------------------------------------


class _GatewayConn:
    def __init__(self, ws: web.WebSocketResponse, query: dict[str, str]) -> None:
        self.ws = ws
        self.query = query
        self.seq = 0
        self.session_id: str | None = None
        self.identified = False
        self.intents = 0
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.writer: asyncio.Task[None] | None = None

    def put(self, op: int, d: Any, t: str | None = None) -> None:
        self.queue.put_nowait({"op": op, "d": d, "t": t})

    async def run_writer(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if item is None:
                    return
                if item["op"] == 0:
                    self.seq += 1
                    item["s"] = self.seq
                else:
                    item["s"] = None
                if not self.ws.closed:
                    await self.ws.send_str(json.dumps(item))
            except (ConnectionError, RuntimeError):
                pass
            finally:
                self.queue.task_done()


# --------------------------------------------------------------------------------------------------
# the fake
# --------------------------------------------------------------------------------------------------


class FakeDiscord:
    """Fake Discord API server.  See the module docstring for usage."""

    HEARTBEAT_INTERVAL = 41250

    def __init__(
        self,
        *,
        guild_id: int = 111,
        channel_id: int = 222,
        application_id: int = 333,
        bot_user_id: int = 333,
        message_events: bool = True,
    ) -> None:
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.application_id = application_id
        self.bot_user_id = bot_user_id
        self.message_events = message_events  # send MESSAGE_CREATE/UPDATE/DELETE when intents allow
        self.url = ""
        self.port = 0
        self.token: str | None = None  # bot token seen on /users/@me

        self.calls: list[RecordedCall] = []
        self.unknown_routes: list[str] = []
        self.errors: list[str] = []  # internal errors of the fake (bugs) -> 400 answers
        # requests real Discord refuses as malformed (400/50035...): assert_clean() fails on them
        self.violations: list[Violation] = []
        self.expect_violations = False
        self.refusals: list[Refusal] = []  # 403 / 413 answers (legitimate for the bot to meet)
        self.faults: list[Fault] = []
        self.attachment_size_limit = 10 * 1024 * 1024  # per file, like a guild without boosts
        self.initial_response_s = 3.0  # the first interaction callback must come within this
        self.interaction_token_ttl_s = 900.0  # followups / @original edits work this long
        self._bot_perms: dict[int, int] = {}  # channel_id -> the bot's effective permissions there
        self.threads: dict[int, dict[str, Any]] = {}
        self.deleted_channels: set[int] = set()
        self._closing = asyncio.Event()  # set by stop(): ends held (hold_s) requests at once
        self.messages: dict[int, FakeMessage] = {}
        self.interactions: dict[str, FakeInteraction] = {}
        self.registered_commands: dict[int | None, list[dict[str, Any]]] = {}
        self.reactions: list[tuple[str, int, int, str]] = []  # (PUT|DELETE, channel_id, message_id, emoji)
        self.presence_updates: list[dict[str, Any]] = []
        self.identify_count = 0
        self.resume_count = 0

        self.connected = asyncio.Event()
        self.ready_sent = asyncio.Event()
        self.identify_payload: dict[str, Any] | None = None
        self.gateway_query: dict[str, str] | None = None

        self._ids = itertools.count(1)
        self._last_snowflake = 0
        self._seq = itertools.count(1)
        self._blobs: dict[int, tuple[str, bytes, str]] = {}
        self._conns: list[_GatewayConn] = []
        self._sessions: set[str] = set()
        self._runner: web.AppRunner | None = None
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._user_message_ids: set[int] = set()
        self._route_table = self._routes()

        self.owner_id = 999
        self.users: dict[int, dict[str, Any]] = {}
        self.members: dict[int, dict[str, Any]] = {}  # user_id -> {"roles": [...], "permissions": int|None}
        self.roles: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.dm_channels: dict[int, int] = {}  # user_id -> dm channel id

        perms = discord.Permissions
        everyone = perms(
            view_channel=True,
            send_messages=True,
            read_message_history=True,
            embed_links=True,
            attach_files=True,
            add_reactions=True,
            use_application_commands=True,
            use_external_emojis=True,
            create_instant_invite=True,
            change_nickname=True,
            connect=True,
            speak=True,
        )
        self.roles[guild_id] = self._role_payload(guild_id, "@everyone", everyone.value, 0)
        self.bot_role_id = self.add_role("FakeBot", permissions=perms(administrator=True).value, managed=True)
        self.add_user(self.owner_id, "owner")
        self.add_user(bot_user_id, "fakebot", bot=True)
        self.members[bot_user_id] = {"roles": [self.bot_role_id], "permissions": None}
        self.add_member(444, "alice")
        self.add_member(555, "bob")
        self.add_channel(channel_id, "general")

    # ============================================================================ lifecycle ==========
    async def start(self) -> None:
        self._closing.clear()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle_api)
        app.router.add_get("/gateway", self._handle_gateway)
        app.router.add_get("/attachments/{aid}/{filename}", self._handle_attachment)
        app.router.add_route("*", "/{tail:.*}", self._handle_other)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        self._closing.set()
        for conn in list(self._conns):
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001)
            if conn.writer is not None:
                conn.writer.cancel()
                with contextlib.suppress(BaseException):
                    await conn.writer
        self._conns.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ============================================================================ ids ================
    def snowflake(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = max((ms << 22) | (next(self._ids) & 0xFFF), self._last_snowflake + 1)
        self._last_snowflake = value
        return value

    # ============================================================================ entities ===========
    def _role_payload(
        self, role_id: int, name: str, permissions: int, position: int, managed: bool = False
    ) -> dict[str, Any]:
        return {
            "id": str(role_id),
            "name": name,
            "permissions": str(permissions),
            "position": position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": managed,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
            "tags": {"bot_id": str(self.bot_user_id)} if managed else {},
        }

    def add_user(self, user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
        user = {
            "id": str(user_id),
            "username": name,
            "global_name": None if bot else name.capitalize(),
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "primary_guild": None,
        }
        if bot:
            user.update(verified=True, mfa_enabled=False, email=None, locale="en-US")
        self.users[user_id] = user
        return user

    def add_role(
        self,
        name: str,
        *,
        permissions: int | discord.Permissions = 0,
        role_id: int | None = None,
        managed: bool = False,
    ) -> int:
        """Create a guild role; returns its id. Sent as GUILD_ROLE_CREATE if the bot is connected."""
        role_id = role_id or self.snowflake()
        perms = permissions.value if isinstance(permissions, discord.Permissions) else int(permissions)
        self.roles[role_id] = payload = self._role_payload(role_id, name, perms, len(self.roles), managed)
        self._broadcast("GUILD_ROLE_CREATE", {"guild_id": str(self.guild_id), "role": payload})
        return role_id

    def add_member(
        self,
        user_id: int,
        name: str,
        roles: list[int] | tuple[int, ...] = (),
        permissions: int | discord.Permissions | None = None,
    ) -> dict[str, Any]:
        """Add (or replace) a guild member.  ``permissions`` overrides the permissions computed from roles
        in interaction payloads (``member.permissions``).  Sent as GUILD_MEMBER_ADD if connected."""
        existed = user_id in self.members
        if user_id not in self.users:
            self.add_user(user_id, name)
        if isinstance(permissions, discord.Permissions):
            permissions = permissions.value
        self.members[user_id] = {"roles": list(roles), "permissions": permissions}
        event = "GUILD_MEMBER_UPDATE" if existed else "GUILD_MEMBER_ADD"
        self._broadcast(event, {**self.member_payload(user_id), "guild_id": str(self.guild_id)})
        return self.members[user_id]

    def set_member_roles(self, user_id: int, roles: list[int]) -> None:
        self.members[user_id]["roles"] = list(roles)
        self._broadcast("GUILD_MEMBER_UPDATE", {**self.member_payload(user_id), "guild_id": str(self.guild_id)})

    def add_channel(self, channel_id: int, name: str, *, type: int = 0) -> dict[str, Any]:
        payload = {
            "id": str(channel_id),
            "type": type,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": len(self.channels),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        self.channels[channel_id] = payload
        self.deleted_channels.discard(channel_id)
        self._broadcast("CHANNEL_CREATE", payload)
        return payload

    def add_thread(self, thread_id: int, name: str, parent_id: int | None = None) -> dict[str, Any]:
        """Create a public thread (type 11) under ``parent_id`` (default: the main channel).

        It is part of GUILD_CREATE's ``threads`` and sent as THREAD_CREATE if the bot is connected, so
        discord.py knows it (``guild.get_thread``).  Interactions from it: ``slash(..., channel_id=thread_id)``.
        """
        parent = self.channel_id if parent_id is None else parent_id
        if parent not in self.channels:
            raise AssertionError(f"thread parent {parent} is not a channel of the fake; add it with add_channel()")
        now = _now_iso()
        payload: dict[str, Any] = {
            "id": str(thread_id),
            "type": 11,
            "guild_id": str(self.guild_id),
            "parent_id": str(parent),
            "owner_id": str(self.owner_id),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
            },
        }
        self.threads[thread_id] = payload
        self.deleted_channels.discard(thread_id)
        self._broadcast("THREAD_CREATE", {**payload, "newly_created": True})
        return payload

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel or thread (CHANNEL_DELETE / THREAD_DELETE); later REST calls to it -> 404/10003."""
        if channel_id in self.threads:
            payload = self.threads.pop(channel_id)
            self._broadcast(
                "THREAD_DELETE",
                {k: payload[k] for k in ("id", "guild_id", "parent_id", "type")},
            )
        elif channel_id in self.channels:
            payload = self.channels.pop(channel_id)
            self._broadcast("CHANNEL_DELETE", payload)
            for tid in [t for t, p in self.threads.items() if p["parent_id"] == str(channel_id)]:
                self.threads.pop(tid)
                self.deleted_channels.add(tid)
        else:
            raise AssertionError(f"no channel {channel_id}")
        self.deleted_channels.add(channel_id)
        self._bot_perms.pop(channel_id, None)

    def set_bot_permissions(self, channel_id: int, perms: int | discord.Permissions | None) -> None:
        """Set the bot's effective permissions in a channel or thread (``None``: back to the default, all).

        Interactions from the channel carry them as ``app_permissions``; REST calls to ``/channels/{id}``
        are refused like Discord does (403/50001 without View Channel, 403/50013 for a missing permission).
        A thread without its own setting inherits its parent's.
        """
        if perms is None:
            self._bot_perms.pop(channel_id, None)
        else:
            self._bot_perms[channel_id] = perms.value if isinstance(perms, discord.Permissions) else int(perms)

    def bot_permissions(self, channel_id: int) -> int:
        """The bot's effective permissions in a channel (see :meth:`set_bot_permissions`)."""
        value = self._bot_perms.get(channel_id)
        thread = self.threads.get(channel_id)
        if value is None and thread is not None:
            value = self._bot_perms.get(int(thread["parent_id"]))
        if value is None or value & PERM_ADMINISTRATOR:
            return discord.Permissions.all().value
        return value

    def guild_channel(self, channel_id: int) -> dict[str, Any] | None:
        """Payload of a guild channel or thread of the fake (None if unknown or deleted)."""
        return self.channels.get(channel_id) or self.threads.get(channel_id)

    def dm_channel_id(self, user_id: int) -> int:
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = self.snowflake()
        return self.dm_channels[user_id]

    def _dm_channel_payload(self, user_id: int) -> dict[str, Any]:
        return {
            "id": str(self.dm_channel_id(user_id)),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [self.users[user_id]],
        }

    def member_permissions(self, user_id: int) -> int:
        member = self.members[user_id]
        if member.get("permissions") is not None:
            return int(member["permissions"])
        if user_id == self.owner_id:
            return discord.Permissions.all().value
        value = int(self.roles[self.guild_id]["permissions"])
        for rid in member["roles"]:
            value |= int(self.roles[rid]["permissions"])
        if value & discord.Permissions(administrator=True).value:
            return discord.Permissions.all().value
        return value

    def member_payload(self, user_id: int, *, with_permissions: bool = False) -> dict[str, Any]:
        member = self.members[user_id]
        payload = {
            "user": self.users[user_id],
            "roles": [str(r) for r in member["roles"]],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        if with_permissions:
            payload["permissions"] = str(self.member_permissions(user_id))
        return payload

    def guild_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.guild_id),
            "name": "Fake Guild",
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": list(self.roles.values()),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "max_members": 500000,
            "max_video_channel_users": 25,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }

    def _guild_create_payload(self) -> dict[str, Any]:
        payload = self.guild_payload()
        payload.update(
            {
                "unavailable": False,
                "large": False,
                "member_count": len(self.members),
                "joined_at": "2024-01-01T00:00:00+00:00",
                "channels": list(self.channels.values()),
                "threads": list(self.threads.values()),
                "members": [self.member_payload(uid) for uid in self.members],
                "voice_states": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return payload

    @property
    def bot_user(self) -> dict[str, Any]:
        return self.users[self.bot_user_id]

    # ============================================================================ querying ===========
    def calls_to(self, method: str, path_regex: str) -> list[RecordedCall]:
        """REST calls with this method whose path matches ``path_regex`` (``re.search``)."""
        rx = re.compile(path_regex)
        return [c for c in self.calls if c.method == method.upper() and rx.search(c.path)]

    def channel_messages(
        self, channel_id: int | None = None, *, include_ephemeral: bool = True, include_deleted: bool = False
    ) -> list[FakeMessage]:
        """Messages in a channel, oldest first.  Includes ephemeral interaction replies by default."""
        cid = self.channel_id if channel_id is None else channel_id
        return sorted(
            (
                m
                for m in self.messages.values()
                if m.channel_id == cid and (include_deleted or not m.deleted) and (include_ephemeral or not m.ephemeral)
            ),
            key=lambda m: m.id,
        )

    def attachment_bytes(self, url: str) -> bytes:
        """Bytes behind an attachment URL served by this fake."""
        m = re.search(r"/attachments/(\d+)/", url)
        if not m or int(m.group(1)) not in self._blobs:
            raise AssertionError(f"unknown attachment url {url}")
        return self._blobs[int(m.group(1))][1]

    def assert_clean(self) -> None:
        """Fail if the bot hit routes the fake does not implement, the fake itself crashed, or the bot sent
        something real Discord refuses as malformed (``violations``, unless ``expect_violations`` is set)."""
        assert not self.unknown_routes, f"unknown routes hit: {self.unknown_routes}"
        assert not self.errors, "fake discord internal errors:\n" + "\n".join(self.errors)
        if not self.expect_violations:
            assert not self.violations, "the bot sent requests real Discord refuses (400):\n" + "\n".join(
                f"  {v.describe()}" for v in self.violations
            )

    # ============================================================================ fault injection ====
    def inject_fault(
        self,
        method: str = "*",
        path: str = r"",
        status: int | None = 500,
        code: int = 0,
        message: str | None = None,
        retry_after: float | None = None,
        count: int | None = 1,
        hold_s: float = 0.0,
        global_: bool = False,
    ) -> Fault:
        """Answer the next ``count`` REST requests matching ``method`` (``"*"``: any) and ``path`` (regex
        searched in the path after ``/api/v10``) with ``status`` and ``{"message", "code"}``.

        ``status=429`` answers like Discord's rate limiter (body ``retry_after`` seconds, default 1.0, and
        ``global``; headers ``Retry-After``, ``X-RateLimit-*``, ``Via``).  ``hold_s`` stalls the answer; with
        ``status=None`` (or 0) the request is then handled normally.  ``count=None``: until removed.
        Faults are tried in the order they were injected; the first matching one answers.
        """
        fault = Fault(
            method=method.upper(),
            path=re.compile(path),
            status=status or None,
            code=code,
            message=message,
            retry_after=retry_after,
            count=count,
            hold_s=hold_s,
            global_=global_,
            _fake=self,
        )
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.hits += 1
                if fault.exhausted:
                    fault.remove()
                return fault
        return None

    def dump(self) -> str:
        lines = ["--- fake discord state ---", "messages:"]
        for m in sorted(self.messages.values(), key=lambda m: m.id)[-20:]:
            lines.append(f"  {m!r}")
        lines.append("interactions:")
        for inter in list(self.interactions.values())[-10:]:
            lines.append(f"  {inter!r}")
        lines.append("last calls:")
        for c in self.calls[-15:]:
            lines.append(f"  {c!r}")
        rejected = [
            c
            for c in self.calls
            if 400 <= c.status < 500 and not c.injected and not (c.method == "GET" and c.code == 10008)
        ]
        if rejected:
            lines.append(f"4xx answers ({len(rejected)}):")
            lines += [f"  {c!r}" for c in rejected[-20:]]
        if self.violations:
            lines.append("violations (requests real Discord refuses):")
            lines += [f"  {v.describe()}" for v in self.violations]
        if self.refusals:
            lines.append(f"refusals (403/413): {self.refusals}")
        if self.faults:
            lines.append(f"active faults: {self.faults}")
        if self.unknown_routes:
            lines.append(f"unknown routes: {self.unknown_routes}")
        if self.errors:
            lines.append("errors:\n" + "\n".join(self.errors))
        return "\n".join(lines)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, *, what: str = "") -> Any:
        """Poll ``predicate`` (sync or async) until it returns something truthy; return that."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            if time.monotonic() >= deadline:
                desc = what or getattr(predicate, "__name__", repr(predicate))
                raise AssertionError(f"timed out after {timeout}s waiting for {desc}\n{self.dump()}")
            await asyncio.sleep(0.01)

    async def wait_message(
        self, predicate: Callable[[FakeMessage], bool], timeout: float = 10.0, *, channel_id: int | None = None
    ) -> FakeMessage:
        """Wait for a (non-deleted) message matching ``predicate``; newest match wins."""

        def check() -> FakeMessage | None:
            for m in sorted(self.messages.values(), key=lambda m: m.id, reverse=True):
                if m.deleted or (channel_id is not None and m.channel_id != channel_id):
                    continue
                if predicate(m):
                    return m
            return None

        msg: FakeMessage = await self.wait_for(check, timeout, what="a matching message")
        return msg

    # ============================================================================ gateway ============
    def _live_conns(self) -> list[_GatewayConn]:
        return [c for c in self._conns if c.identified and not c.ws.closed]

    def _broadcast(self, event: str, data: dict[str, Any], *, intent: int | None = None) -> None:
        for conn in self._live_conns():
            if intent is None or conn.intents & intent:
                conn.put(0, data, event)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an arbitrary DISPATCH to every connected bot and wait until it was written."""
        conns = self._live_conns()
        if not conns:
            raise AssertionError(f"cannot dispatch {event}: no bot is connected to the fake gateway")
        for conn in conns:
            conn.put(0, data, event)
        await asyncio.gather(*(c.queue.join() for c in conns))

    async def disconnect_all(self, code: int = 4000) -> None:
        """Close all gateway connections (4000 -> discord.py reconnects and RESUMEs)."""
        old = list(self._conns)
        for conn in old:
            with contextlib.suppress(Exception):
                await conn.ws.close(code=code)
        await self.wait_for(lambda: not any(c in self._conns for c in old), 5.0, what="gateway close")
        self.connected.clear()

    async def _handle_gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, compress=False)
        await ws.prepare(request)
        conn = _GatewayConn(ws, dict(request.query))
        self.gateway_query = dict(request.query)
        conn.writer = asyncio.create_task(conn.run_writer(), name="fakediscord-gateway-writer")
        self._conns.append(conn)
        conn.put(10, {"heartbeat_interval": self.HEARTBEAT_INTERVAL, "_trace": ["fake-gateway"]})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    await self._on_gateway_message(conn, json.loads(msg.data))
                except Exception as exc:  # pragma: no cover - bug in the fake
                    self.errors.append(f"gateway: {exc!r}")
        finally:
            conn.identified = False
            conn.queue.put_nowait(None)
            if conn in self._conns:
                self._conns.remove(conn)
            if not self._live_conns():
                self.connected.clear()
        return ws

    async def _on_gateway_message(self, conn: _GatewayConn, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        d: Any = msg.get("d") or {}
        if op == 1:  # heartbeat
            conn.put(11, None)
        elif op == 2:  # identify
            self.identify_payload = d
            self.identify_count += 1
            self.token = self.token or d.get("token")
            conn.intents = int(d.get("intents") or 0)
            conn.session_id = secrets.token_hex(16)
            self._sessions.add(conn.session_id)
            conn.identified = True
            ready = {
                "v": 10,
                "user": self.bot_user,
                "session_id": conn.session_id,
                "session_type": "normal",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": 0},
                "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "geo_ordered_rtc_regions": [],
                "guild_join_requests": [],
                "user_settings": {},
                "auth_session_id_hash": "fake",
                "_trace": ["fake-gateway"],
            }
            if d.get("shard"):
                ready["shard"] = d["shard"]
            conn.put(0, ready, "READY")
            conn.put(0, self._guild_create_payload(), "GUILD_CREATE")
            await conn.queue.join()
            self.ready_sent.set()
            self.connected.set()
        elif op == 6:  # resume
            if d.get("session_id") in self._sessions:
                self.resume_count += 1
                conn.session_id = d["session_id"]
                conn.identified = True
                conn.seq = int(d.get("seq") or 0)
                conn.intents = int((self.identify_payload or {}).get("intents") or 0)
                conn.put(0, {"_trace": ["fake-gateway"]}, "RESUMED")
                await conn.queue.join()
                self.connected.set()
            else:
                conn.put(9, False)
        elif op == 3:  # presence update
            self.presence_updates.append(d)
        elif op == 8:  # request guild members
            members = [self.member_payload(uid) for uid in self.members]
            query = (d.get("query") or "").lower()
            if query:
                members = [m for m in members if m["user"]["username"].lower().startswith(query)]
            if d.get("user_ids"):
                wanted = {str(u) for u in d["user_ids"]} if isinstance(d["user_ids"], list) else {str(d["user_ids"])}
                members = [m for m in members if m["user"]["id"] in wanted]
            chunk: dict[str, Any] = {
                "guild_id": str(d.get("guild_id")),
                "members": members,
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if d.get("nonce") is not None:
                chunk["nonce"] = d["nonce"]
            if d.get("presences"):
                chunk["presences"] = []
            conn.put(0, chunk, "GUILD_MEMBERS_CHUNK")
        # other ops (voice state update, ...) are ignored

    # ============================================================================ REST plumbing ======
    async def _handle_other(self, request: web.Request) -> web.Response:
        self.unknown_routes.append(f"{request.method} {request.path}")
        return _json_response({"message": "404: Not Found", "code": 0}, 404)

    async def _handle_attachment(self, request: web.Request) -> web.Response:
        aid = int(request.match_info["aid"])
        blob = self._blobs.get(aid)
        if blob is None or blob[0] != unquote(request.match_info["filename"]):
            return web.Response(status=404, text="Not Found")
        return web.Response(body=blob[1], headers={"Content-Type": blob[2]})

    async def _read_body(self, request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
        ctype = request.headers.get("Content-Type", "")
        files: list[tuple[int, str, bytes]] = []
        body: Any = None
        if ctype.startswith("multipart/"):
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                name = part.name or ""  # type: ignore[union-attr]
                data = await part.read()  # type: ignore[union-attr]
                if name == "payload_json":
                    body = json.loads(data.decode("utf-8"))
                else:
                    m = re.fullmatch(r"files\[(\d+)\]|file(\d*)", name)
                    index = int(next((g for g in m.groups() if g), len(files))) if m else len(files)
                    files.append((index, part.filename or name, bytes(data)))  # type: ignore[union-attr]
        else:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
        files.sort(key=lambda f: f[0])
        return body, [(fn, data) for _i, fn, data in files]

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any]]]:
        app = r"(?P<app>\d+)"
        token = r"(?P<token>[^/]+)"
        table: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", r"/users/@me", self._r_get_me),
            ("GET", r"/users/(?P<uid>\d+)", self._r_get_user),
            ("POST", r"/users/@me/channels", self._r_create_dm),
            ("GET", r"/gateway", self._r_gateway),
            ("GET", r"/gateway/bot", self._r_gateway_bot),
            ("GET", r"/oauth2/applications/@me", self._r_app_info),
            ("GET", r"/applications/@me", self._r_app_info),
            ("GET", rf"/applications/{app}/commands", self._r_get_commands),
            ("PUT", rf"/applications/{app}/commands", self._r_put_commands),
            ("POST", rf"/applications/{app}/commands", self._r_post_command),
            ("DELETE", rf"/applications/{app}/commands/(?P<cid>\d+)", self._r_delete_command),
            ("GET", rf"/applications/{app}/guilds/(?P<gid>\d+)/commands", self._r_get_commands),
            ("PUT", rf"/applications/{app}/guilds/(?P<gid>\d+)/commands", self._r_put_commands),
            ("POST", rf"/applications/{app}/guilds/(?P<gid>\d+)/commands", self._r_post_command),
            ("DELETE", rf"/applications/{app}/guilds/(?P<gid>\d+)/commands/(?P<cid>\d+)", self._r_delete_command),
            ("POST", rf"/interactions/(?P<iid>\d+)/{token}/callback", self._r_callback),
            ("GET", rf"/webhooks/{app}/{token}/messages/(?P<mid>@original|\d+)", self._r_wh_get),
            ("PATCH", rf"/webhooks/{app}/{token}/messages/(?P<mid>@original|\d+)", self._r_wh_edit),
            ("DELETE", rf"/webhooks/{app}/{token}/messages/(?P<mid>@original|\d+)", self._r_wh_delete),
            ("POST", rf"/webhooks/{app}/{token}", self._r_wh_followup),
            ("GET", r"/channels/(?P<cid>\d+)", self._r_get_channel),
            ("GET", r"/channels/(?P<cid>\d+)/messages", self._r_history),
            ("POST", r"/channels/(?P<cid>\d+)/messages", self._r_send),
            ("GET", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._r_get_message),
            ("PATCH", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._r_edit_message),
            ("DELETE", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._r_delete_message),
            ("POST", r"/channels/(?P<cid>\d+)/typing", self._r_typing),
            ("PUT", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)/reactions/(?P<emoji>[^/]+)/@me", self._r_react),
            (
                "DELETE",
                r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)/reactions/(?P<emoji>[^/]+)/@me",
                self._r_react,
            ),
            ("GET", r"/guilds/(?P<gid>\d+)", self._r_get_guild),
            ("GET", r"/guilds/(?P<gid>\d+)/channels", self._r_guild_channels),
            ("GET", r"/guilds/(?P<gid>\d+)/roles", self._r_guild_roles),
            ("GET", r"/guilds/(?P<gid>\d+)/members/(?P<uid>\d+)", self._r_get_member),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    async def _handle_api(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        query = dict(request.query)
        try:
            body, files = await self._read_body(request)
        except Exception as exc:
            self.errors.append(f"{request.method} {path}: cannot parse body: {exc!r}")
            body, files = None, []
        call = RecordedCall(request.method, path, query, body, files)
        self.calls.append(call)
        fault = self._take_fault(request.method, path)
        if fault is not None:
            if fault.hold_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), fault.hold_s)
                if self._closing.is_set():  # the fake is stopping: do not keep its shutdown waiting
                    call.status, call.message = 503, "fake discord is shutting down"
                    return _json_response({"message": call.message, "code": 0}, 503)
            if fault.status:
                call.status, call.code, call.injected = fault.status, fault.code, True
                call.message = fault.message or _DEFAULT_FAULT_MESSAGES.get(fault.status, "")
                return fault.response(request.method, path)
        for method, rx, route_handler in self._route_table:
            m = rx.fullmatch(path)
            if m and method == request.method:
                handler = route_handler
                break
        else:
            self.unknown_routes.append(f"{request.method} {path}")
            call.status = 404
            return _json_response({"message": "404: Not Found", "code": 0}, 404)
        try:
            self._check_upload_size(files)
            self._check_channel_access(path)
            result = handler(request=request, body=body, files=files, query=query, **m.groupdict())
            if inspect.isawaitable(result):
                result = await result
        except _HTTPError as err:
            call.status, call.code, call.message = err.status, err.code, err.message
            payload: dict[str, Any] = {"message": err.message, "code": err.code}
            if err.errors:
                payload["errors"] = err.errors
            if err.status == 400 and err.code in _VIOLATION_CODES:
                errors = err.errors or {"_errors": [{"code": str(err.code), "message": err.message}]}
                self.violations.append(Violation(request.method, path, errors))
            if err.status in (403, 413):
                self.refusals.append(Refusal(request.method, path, err.status, err.code))
            return _json_response(payload, err.status)
        except Exception as exc:
            import traceback

            self.errors.append(f"{request.method} {path}: {exc!r}\n{traceback.format_exc()}")
            call.status = 400
            call.message = f"fake discord internal error: {exc!r}"
            return _json_response({"message": call.message, "code": 0}, 400)
        if result is None:
            call.status = 204
            return web.Response(status=204)
        call.status = 200
        return _json_response(result)

    def _check_upload_size(self, files: list[tuple[str, bytes]]) -> None:
        for _name, data in files:
            if len(data) > self.attachment_size_limit:
                raise _HTTPError(413, "Request entity too large", 40005)

    def _check_channel_access(self, path: str) -> None:
        """Every ``/channels/{id}`` route: 404/10003 for unknown or deleted channels, 403/50001 without View
        Channel.  The route-specific permission checks live in the handlers."""
        m = re.match(r"/channels/(\d+)(?:/|$)", path)
        if m is None:
            return
        cid = int(m.group(1))
        if cid in self.dm_channels.values():
            return
        if cid in self.deleted_channels or self.guild_channel(cid) is None:
            raise _HTTPError(404, "Unknown Channel", 10003)
        if not self.bot_permissions(cid) & PERM_VIEW_CHANNEL:
            raise _HTTPError(403, "Missing Access", 50001)

    def _require(self, cid: int, *perms: int) -> None:
        """403/50013 unless the bot has all ``perms`` in guild channel ``cid`` (DMs: always allowed)."""
        if self.guild_channel(cid) is None:
            return
        have = self.bot_permissions(cid)
        for perm in perms:
            if not have & perm:
                raise _HTTPError(403, "Missing Permissions", 50013)

    def _is_thread(self, cid: int) -> bool:
        ch = self.guild_channel(cid)
        return ch is not None and ch.get("type") in (10, 11, 12)

    # ============================================================================ message model ======
    def _blob_url(self, aid: int, filename: str) -> str:
        now = int(time.time())
        sig = hashlib.sha256(f"{aid}{filename}{now}".encode()).hexdigest()
        return f"{self.url}/attachments/{aid}/{quote(filename)}?ex={now + 86400:x}&is={now:x}&hm={sig}&"

    def store_blob(
        self, filename: str, data: bytes, content_type: str | None = None, *, ephemeral: bool = False
    ) -> dict[str, Any]:
        """Store bytes and return a Discord attachment object (plus a ``data`` key with the bytes)."""
        aid = self.snowflake()
        ctype = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self._blobs[aid] = (filename, bytes(data), ctype)
        url = self._blob_url(aid, filename)
        att: dict[str, Any] = {
            "id": str(aid),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": ctype,
            "data": bytes(data),
        }
        if ctype.startswith("image/"):
            att.update(width=128, height=128)
        if ephemeral:
            att["ephemeral"] = True
        return att

    def message_payload(self, msg: FakeMessage) -> dict[str, Any]:
        atts = [{k: v for k, v in a.items() if k != "data"} for a in msg.attachments]
        by_name = {a["filename"]: a for a in atts}

        def fix_url(obj: Any) -> Any:
            if isinstance(obj, dict):
                out = {k: fix_url(v) for k, v in obj.items()}
                url = out.get("url")
                if isinstance(url, str) and url.startswith("attachment://"):
                    att = by_name.get(url[len("attachment://") :])
                    if att is not None:
                        out["url"] = att["url"]
                        out["proxy_url"] = att["proxy_url"]
                return out
            if isinstance(obj, list):
                return [fix_url(v) for v in obj]
            return obj

        payload: dict[str, Any] = {
            "id": str(msg.id),
            "channel_id": str(msg.channel_id),
            "author": msg.author,
            "content": msg.content or "",
            "timestamp": msg.created_at,
            "edited_timestamp": msg.edited_at,
            "tts": msg.tts,
            "mention_everyone": False,
            "mentions": self._mentions(msg),
            "mention_roles": [],
            "attachments": atts,
            "embeds": fix_url(msg.embeds),
            "components": fix_url(msg.components),
            "pinned": False,
            "type": msg.type,
            "flags": msg.flags,
        }
        if msg.guild_id is not None:
            payload["guild_id"] = str(msg.guild_id)
        if msg.webhook_id is not None:
            payload["webhook_id"] = str(msg.webhook_id)
            payload["application_id"] = str(self.application_id)
        if msg.message_reference:
            payload["message_reference"] = msg.message_reference
            ref_id = msg.message_reference.get("message_id")
            ref = self.messages.get(int(ref_id)) if ref_id else None
            if ref is not None and ref is not msg and not ref.deleted:
                payload["referenced_message"] = self.message_payload(ref)
        if msg.interaction_metadata:
            payload["interaction_metadata"] = msg.interaction_metadata
        if msg.poll:
            payload["poll"] = msg.poll
        return payload

    def _mentions(self, msg: FakeMessage) -> list[dict[str, Any]]:
        allowed = msg.allowed_mentions
        ids = [int(x) for x in re.findall(r"<@!?(\d+)>", msg.content or "")]
        if allowed is not None:
            parse = allowed.get("parse") or []
            explicit = {int(u) for u in allowed.get("users") or []}
            ids = [i for i in ids if "users" in parse or i in explicit]
        return [self.users[i] for i in dict.fromkeys(ids) if i in self.users]

    def _validate_message(
        self,
        body: dict[str, Any],
        files: list[tuple[str, bytes]],
        *,
        create: bool,
        attachment_count: int | None = None,
    ) -> None:
        """Discord's message limits (400/50035 with nested errors, 400/50006 for an empty message)."""
        errs = _FormErrors()
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            content = str(content)
        errs.length(("content",), content, 2000)
        embeds = body.get("embeds")
        _validate_embeds(errs, embeds)
        flags = int(body.get("flags") or 0)
        v2 = bool(flags & COMPONENTS_V2)
        components = body.get("components")
        _validate_components(errs, components, v2=v2)
        if v2 and create:
            if content:
                errs.add(
                    ("content",),
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    "The 'content' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
                )
            if embeds:
                errs.add(
                    ("embeds",),
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    "The 'embeds' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
                )
        spec = body.get("attachments")
        if attachment_count is None:
            attachment_count = max(len(files), len(spec) if isinstance(spec, list) else 0)
        if attachment_count > 10:
            errs.add(
                ("attachments",) if spec is not None else ("files",),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 10 or fewer in length.",
            )
        errs.raise_if_any()
        if create and not (
            content or embeds or components or files or spec or body.get("poll") or body.get("sticker_ids")
        ):
            raise _HTTPError(400, "Cannot send an empty message", 50006)

    def _resolve_attachments(
        self, existing: list[dict[str, Any]], body: dict[str, Any], files: list[tuple[str, bytes]]
    ) -> list[dict[str, Any]]:
        uploaded = [self.store_blob(fn, data) for fn, data in files]
        spec = body.get("attachments")
        if spec is None:
            return [*existing, *uploaded]
        by_id = {str(a["id"]): a for a in existing}
        result: list[dict[str, Any]] = []
        used: set[int] = set()
        for entry in spec:
            key = str(entry.get("id"))
            if key in by_id:
                result.append(by_id[key])
            elif key.isdigit() and int(key) < len(uploaded):
                att = uploaded[int(key)]
                if entry.get("description"):
                    att["description"] = entry["description"]
                if entry.get("filename") and entry["filename"] != att["filename"]:
                    att["title"] = entry["filename"]
                result.append(att)
                used.add(int(key))
        result += [a for i, a in enumerate(uploaded) if i not in used]
        return result

    def _touch(self, msg: FakeMessage) -> None:
        msg.seq = next(self._seq)

    def _assign_component_ids(self, components: list[dict[str, Any]]) -> list[dict[str, Any]]:
        components = json.loads(json.dumps(components))
        used = {c["id"] for c in _walk_components(components) if isinstance(c.get("id"), int)}
        counter = itertools.count(1)
        for c in _walk_components(components):
            if c.get("id") is None:
                nid = next(counter)
                while nid in used:
                    nid = next(counter)
                c["id"] = nid
                used.add(nid)
        return components

    def _create_message(
        self,
        *,
        channel_id: int,
        body: dict[str, Any],
        files: list[tuple[str, bytes]],
        interaction: FakeInteraction | None = None,
        extra_flags: int = 0,
        validate: bool = True,
    ) -> FakeMessage:
        if validate:
            self._validate_message(body, files, create=True)
        guild_id = self.guild_id if self.guild_channel(channel_id) is not None else None
        if interaction is not None:
            guild_id = interaction.guild_id
        flags = (int(body.get("flags") or 0) & ~LOADING) | extra_flags
        msg = FakeMessage(
            id=self.snowflake(),
            channel_id=channel_id,
            guild_id=guild_id,
            author=self.bot_user,
            content=body.get("content") or "",
            embeds=list(body.get("embeds") or []),
            components=self._assign_component_ids(body.get("components") or []),
            flags=flags,
            message_reference=body.get("message_reference"),
            allowed_mentions=body.get("allowed_mentions"),
            tts=bool(body.get("tts")),
            poll=body.get("poll"),
        )
        msg.attachments = self._resolve_attachments([], body, files)
        if interaction is not None:
            msg.webhook_id = self.application_id
            msg.interaction_token = interaction.token
            meta: dict[str, Any] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": self.users.get(interaction.user_id, {"id": str(interaction.user_id)}),
                "authorizing_integration_owners": interaction.payload.get("authorizing_integration_owners", {}),
            }
            if interaction.type == 2:
                meta["name"] = interaction.data.get("name")
                msg.type = 20
            elif interaction.source_message_id is not None:
                meta["interacted_message_id"] = str(interaction.source_message_id)
                msg.type = 19 if interaction.type == 3 else 0
            msg.interaction_metadata = meta
        self._touch(msg)
        self.messages[msg.id] = msg
        channel = self.guild_channel(msg.channel_id)
        if channel is not None:
            channel["last_message_id"] = str(msg.id)
        self._message_event("MESSAGE_CREATE", msg)
        return msg

    def _apply_edit(self, msg: FakeMessage, body: dict[str, Any], files: list[tuple[str, bytes]]) -> None:
        if msg.deleted:
            raise _HTTPError(404, "Unknown Message", 10008)
        body = body or {}
        merged = {
            "content": body.get("content", msg.content),
            "embeds": body.get("embeds", msg.embeds),
            "components": body.get("components", msg.components),
            "flags": int(body.get("flags") if body.get("flags") is not None else msg.flags)
            | (msg.flags & COMPONENTS_V2),
        }
        spec = body.get("attachments")
        if spec is None:
            count = len(msg.attachments) + len(files)
        else:
            fresh = sum(1 for e in spec if str(e.get("id")).isdigit() and int(e["id"]) < len(files))
            count = len(spec) + max(0, len(files) - fresh)
        self._validate_message(merged, files, create=False, attachment_count=count)
        if merged["flags"] & COMPONENTS_V2 and (body.get("content") or body.get("embeds")):
            errs = _FormErrors()
            for key in ("content", "embeds"):
                if body.get(key):
                    errs.add(
                        (key,),
                        "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                        f"The '{key}' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
                    )
            errs.raise_if_any()
        if not (merged["content"] or merged["embeds"] or merged["components"] or count or msg.poll):
            raise _HTTPError(400, "Cannot send an empty message", 50006)  # checked before anything changes
        msg.history.append(self.message_payload(msg))
        if "content" in body:
            msg.content = body["content"] or ""
        if "embeds" in body:
            msg.embeds = list(body["embeds"] or [])
        if "components" in body:
            msg.components = self._assign_component_ids(body["components"] or [])
        if "allowed_mentions" in body:
            msg.allowed_mentions = body["allowed_mentions"]
        if body.get("flags") is not None:
            keep = msg.flags & (EPHEMERAL | COMPONENTS_V2)
            msg.flags = keep | (int(body["flags"]) & (SUPPRESS_EMBEDS | COMPONENTS_V2))
        if "attachments" in body or files:
            msg.attachments = self._resolve_attachments(msg.attachments, body, files)
        msg.flags &= ~LOADING
        msg.edits += 1
        msg.edited_at = _now_iso()
        self._touch(msg)
        self._message_event("MESSAGE_UPDATE", msg)

    def _delete(self, msg: FakeMessage) -> None:
        if msg.deleted:
            raise _HTTPError(404, "Unknown Message", 10008)
        msg.deleted = True
        if self.message_events and not msg.ephemeral:
            data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id is not None:
                data["guild_id"] = str(msg.guild_id)
            self._broadcast("MESSAGE_DELETE", data, intent=self._intent_for(msg))

    def _intent_for(self, msg: FakeMessage) -> int:
        return INTENT_GUILD_MESSAGES if msg.guild_id is not None else INTENT_DIRECT_MESSAGES

    def _message_event(self, event: str, msg: FakeMessage) -> None:
        if not self.message_events or msg.ephemeral or (msg.loading and event == "MESSAGE_CREATE"):
            return
        data = self.message_payload(msg)
        if msg.guild_id is not None and msg.webhook_id is None:
            member = self.member_payload(self.bot_user_id)
            member.pop("user")
            data["member"] = member
        self._broadcast(event, data, intent=self._intent_for(msg))

    def _get_msg(self, mid: int | str, channel_id: int | str | None = None) -> FakeMessage:
        msg = self.messages.get(int(mid))
        if msg is None or msg.deleted or (channel_id is not None and msg.channel_id != int(channel_id)):
            raise _HTTPError(404, "Unknown Message", 10008)
        return msg

    # ============================================================================ REST handlers ======
    def _r_no_content(self, **_: Any) -> None:
        return None

    def _r_get_me(self, request: web.Request, **_: Any) -> dict[str, Any]:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bot "):
            raise _HTTPError(401, "401: Unauthorized", 0)
        self.token = auth[4:]
        return self.bot_user

    def _r_get_user(self, uid: str, **_: Any) -> dict[str, Any]:
        user = self.users.get(int(uid))
        if user is None:
            raise _HTTPError(404, "Unknown User", 10013)
        return user

    def _r_create_dm(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        uid = int(body["recipient_id"])
        if uid not in self.users:
            raise _HTTPError(404, "Unknown User", 10013)
        return self._dm_channel_payload(uid)

    def _r_gateway(self, **_: Any) -> dict[str, Any]:
        return {"url": self.gateway_url}

    def _r_gateway_bot(self, **_: Any) -> dict[str, Any]:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
        }

    def _r_app_info(self, **_: Any) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": "FakeBot",
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self.users[self.owner_id],
            "team": None,
            "flags": 0,
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
            "bot": self.bot_user,
        }

    def _check_app(self, app: str) -> None:
        if int(app) != self.application_id:
            raise _HTTPError(404, "Unknown Application", 10002)

    def _r_get_commands(self, app: str, gid: str | None = None, **_: Any) -> list[dict[str, Any]]:
        self._check_app(app)
        return self.registered_commands.get(int(gid) if gid else None, [])

    def _normalize_command(self, cmd: dict[str, Any], gid: int | None) -> dict[str, Any]:
        ctype = int(cmd.get("type") or 1)
        key = (gid, cmd["name"], ctype)
        if key not in self._command_ids:
            self._command_ids[key] = self.snowflake()
        out = {
            "id": str(self._command_ids[key]),
            "application_id": str(self.application_id),
            "version": str(self.snowflake()),
            "default_member_permissions": None,
            "type": ctype,
            "name": cmd["name"],
            "description": cmd.get("description", ""),
            "options": cmd.get("options") or [],
            "nsfw": bool(cmd.get("nsfw", False)),
            "dm_permission": cmd.get("dm_permission", True),
            "contexts": cmd.get("contexts"),
            "integration_types": cmd.get("integration_types") or [0],
        }
        for k, v in cmd.items():
            if k not in ("id", "application_id", "version", "options", "type"):
                out[k] = v
        if gid is not None:
            out["guild_id"] = str(gid)
        return out

    def _r_put_commands(
        self, app: str, body: list[dict[str, Any]], gid: str | None = None, **_: Any
    ) -> list[dict[str, Any]]:
        self._check_app(app)
        g = int(gid) if gid else None
        if g is not None and g != self.guild_id:
            raise _HTTPError(403, "Missing Access", 50001)
        if not isinstance(body, list):
            errs = _FormErrors()
            errs.add((), "BASE_TYPE_ARRAY", "Must be an array.")
            errs.raise_if_any()
        if sum(1 for c in body if isinstance(c, dict) and int(c.get("type") or 1) == 1) > _MAX_CHAT_INPUT_COMMANDS:
            raise _HTTPError(400, f"Maximum number of application commands reached ({_MAX_CHAT_INPUT_COMMANDS})", 30032)
        errs = _FormErrors()
        seen: set[tuple[Any, int]] = set()
        for i, cmd in enumerate(body):
            _validate_command(errs, (i,), cmd)
            if isinstance(cmd, dict):
                key = (cmd.get("name"), int(cmd.get("type") or 1))
                if key in seen:
                    errs.add(
                        (i, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
                    )
                seen.add(key)
        errs.raise_if_any()  # nothing is registered when one command is bad
        self.registered_commands[g] = [self._normalize_command(c, g) for c in body]
        return self.registered_commands[g]

    def _r_post_command(self, app: str, body: dict[str, Any], gid: str | None = None, **_: Any) -> dict[str, Any]:
        self._check_app(app)
        g = int(gid) if gid else None
        if g is not None and g != self.guild_id:
            raise _HTTPError(403, "Missing Access", 50001)
        errs = _FormErrors()
        _validate_command(errs, (), body)
        errs.raise_if_any()
        cmd = self._normalize_command(body, g)
        existing = [c for c in self.registered_commands.get(g, []) if c["id"] != cmd["id"]]
        if int(cmd["type"]) == 1 and sum(1 for c in existing if int(c.get("type", 1)) == 1) >= _MAX_CHAT_INPUT_COMMANDS:
            raise _HTTPError(400, f"Maximum number of application commands reached ({_MAX_CHAT_INPUT_COMMANDS})", 30032)
        self.registered_commands[g] = [*existing, cmd]
        return cmd

    def _r_delete_command(self, app: str, cid: str, gid: str | None = None, **_: Any) -> None:
        self._check_app(app)
        g = int(gid) if gid else None
        self.registered_commands[g] = [c for c in self.registered_commands.get(g, []) if c["id"] != cid]

    def _r_get_channel(self, cid: str, **_: Any) -> dict[str, Any]:
        c = int(cid)
        channel = self.guild_channel(c)
        if channel is not None:
            return channel
        for uid, dm in self.dm_channels.items():
            if dm == c:
                return self._dm_channel_payload(uid)
        raise _HTTPError(404, "Unknown Channel", 10003)

    def _r_history(self, cid: str, query: dict[str, str], **_: Any) -> list[dict[str, Any]]:
        if self.guild_channel(int(cid)) is not None and not self.bot_permissions(int(cid)) & PERM_READ_MESSAGE_HISTORY:
            return []  # real Discord: no Read Message History -> no messages, not an error
        limit = int(query.get("limit", 50))
        msgs = [m for m in self.channel_messages(int(cid), include_ephemeral=False)]
        if "before" in query:
            msgs = [m for m in msgs if m.id < int(query["before"])]
        if "after" in query:
            msgs = [m for m in msgs if m.id > int(query["after"])][:limit]
        else:
            msgs = msgs[-limit:]
        return [self.message_payload(m) for m in reversed(msgs)]

    def _channel_exists(self, cid: int) -> None:
        if self.guild_channel(cid) is None and cid not in self.dm_channels.values():
            raise _HTTPError(404, "Unknown Channel", 10003)

    def _r_send(
        self, cid: str, body: dict[str, Any] | None, files: list[tuple[str, bytes]], **_: Any
    ) -> dict[str, Any]:
        c = int(cid)
        self._channel_exists(c)
        body = body or {}
        self._require(c, PERM_SEND_MESSAGES_IN_THREADS if self._is_thread(c) else PERM_SEND_MESSAGES)
        ref = body.get("message_reference")
        if files:
            self._require(c, PERM_ATTACH_FILES)
        if body.get("embeds"):
            self._require(c, PERM_EMBED_LINKS)
        if ref and ref.get("message_id"):
            self._require(c, PERM_READ_MESSAGE_HISTORY)
        if ref and ref.get("fail_if_not_exists", True) and ref.get("message_id"):
            ref_msg = self.messages.get(int(ref["message_id"]))
            if ref_msg is None and int(ref["message_id"]) not in self._user_message_ids:
                errs = _FormErrors()
                errs.add(("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                errs.raise_if_any()
        msg = self._create_message(channel_id=c, body=body, files=files)
        return self.message_payload(msg)

    def _r_get_message(self, cid: str, mid: str, **_: Any) -> dict[str, Any]:
        if self.guild_channel(int(cid)) is not None and not self.bot_permissions(int(cid)) & PERM_READ_MESSAGE_HISTORY:
            raise _HTTPError(403, "Missing Access", 50001)
        msg = self._get_msg(mid, cid)
        if msg.ephemeral:
            raise _HTTPError(404, "Unknown Message", 10008)
        return self.message_payload(msg)

    def _r_edit_message(
        self, cid: str, mid: str, body: dict[str, Any], files: list[tuple[str, bytes]], **_: Any
    ) -> dict[str, Any]:
        msg = self._get_msg(mid, cid)
        if msg.ephemeral:
            raise _HTTPError(404, "Unknown Message", 10008)
        if files:
            self._require(int(cid), PERM_ATTACH_FILES)
        if (body or {}).get("embeds"):
            self._require(int(cid), PERM_EMBED_LINKS)
        self._apply_edit(msg, body, files)
        return self.message_payload(msg)

    def _r_delete_message(self, cid: str, mid: str, **_: Any) -> None:
        msg = self._get_msg(mid, cid)
        if msg.ephemeral:
            raise _HTTPError(404, "Unknown Message", 10008)
        self._delete(msg)

    def _r_typing(self, cid: str, **_: Any) -> None:
        c = int(cid)
        self._require(c, PERM_SEND_MESSAGES_IN_THREADS if self._is_thread(c) else PERM_SEND_MESSAGES)

    def _r_react(self, request: web.Request, cid: str, mid: str, emoji: str, **_: Any) -> None:
        if request.method == "PUT":
            self._require(int(cid), PERM_READ_MESSAGE_HISTORY, PERM_ADD_REACTIONS)
        self.reactions.append((request.method, int(cid), int(mid), unquote(emoji)))

    def _r_get_guild(self, gid: str, **_: Any) -> dict[str, Any]:
        if int(gid) != self.guild_id:
            raise _HTTPError(404, "Unknown Guild", 10004)
        payload = self.guild_payload()
        payload["approximate_member_count"] = len(self.members)
        return payload

    def _r_guild_channels(self, gid: str, **_: Any) -> list[dict[str, Any]]:  # threads are not listed here
        return list(self.channels.values())

    def _r_guild_roles(self, gid: str, **_: Any) -> list[dict[str, Any]]:
        return list(self.roles.values())

    def _r_get_member(self, gid: str, uid: str, **_: Any) -> dict[str, Any]:
        if int(gid) != self.guild_id or int(uid) not in self.members:
            raise _HTTPError(404, "Unknown Member", 10007)
        return self.member_payload(int(uid))

    # ------------------------------------------------------------------ interactions (REST side) ------
    def _inter(self, token: str, app: str | None = None) -> FakeInteraction:
        if app is not None:
            self._check_app(app)
        inter = self.interactions.get(unquote(token))
        if inter is None or inter.age > self.interaction_token_ttl_s:
            raise _HTTPError(404, "Unknown Webhook", 10015)
        return inter

    def _r_callback(
        self, iid: str, token: str, body: dict[str, Any], files: list[tuple[str, bytes]], **_: Any
    ) -> dict[str, Any]:
        inter = self.interactions.get(unquote(token))
        if inter is None or inter.id != int(iid) or inter.age > self.interaction_token_ttl_s:
            raise _HTTPError(404, "Unknown interaction", 10062)
        if inter.response_type is not None:
            raise _HTTPError(400, "Interaction has already been acknowledged.", 40060)
        if inter.age > self.initial_response_s:
            inter.late = True
            raise _HTTPError(404, "Unknown interaction", 10062)
        rtype = int(body["type"])
        if rtype in (4, 5, 7) and inter.channel_id in self.deleted_channels:
            raise _HTTPError(404, "Unknown Channel", 10003)
        data = body.get("data") or {}
        info: dict[str, Any] = {
            "id": str(inter.id),
            "type": inter.type,
            "response_message_loading": False,
            "response_message_ephemeral": False,
        }
        resource: dict[str, Any] | None = None
        if rtype == 4:
            msg = self._create_message(channel_id=inter.channel_id, body=data, files=files, interaction=inter)
            inter.original_message_id = msg.id
            resource = {"type": 4, "message": self.message_payload(msg)}
        elif rtype == 5:
            flags = (int(data.get("flags") or 0) & EPHEMERAL) | LOADING
            msg = self._create_message(
                channel_id=inter.channel_id, body={}, files=[], interaction=inter, extra_flags=flags, validate=False
            )
            inter.original_message_id = msg.id
            info["response_message_loading"] = True
            resource = {"type": 5, "message": self.message_payload(msg)}
        elif rtype in (6, 7):
            src = inter.source_message
            if inter.type not in (3, 5) or src is None:
                errs = _FormErrors()
                errs.add(
                    ("type",),
                    "INTERACTION_RESPONSE_TYPE_INVALID",
                    "Interaction response type not valid for this interaction",
                )
                errs.raise_if_any()
            if rtype == 7:
                self._apply_edit(src, data, files)
                resource = {"type": 7, "message": self.message_payload(src)}
            inter.original_message_id = src.id
        elif rtype == 9:
            if inter.type == 5:
                errs = _FormErrors()
                errs.add(
                    ("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "Cannot respond to a modal submit with a modal"
                )
                errs.raise_if_any()
            self._validate_modal(data)
        elif rtype == 8:
            errs = _FormErrors()
            if inter.type != 4:
                errs.add(
                    ("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "Autocomplete result only valid for autocomplete"
                )
            choices = data.get("choices")
            errs.length(("data", "choices"), choices, 25, what="list")
            for j, ch in enumerate(choices if isinstance(choices, list) else []):
                if isinstance(ch, dict):
                    errs.length(("data", "choices", j, "name"), ch.get("name"), 100, 1, required=True)
                    if isinstance(ch.get("value"), str):
                        errs.length(("data", "choices", j, "value"), ch.get("value"), 100)
            errs.raise_if_any()
        elif rtype != 1:
            errs = _FormErrors()
            errs.add(("type",), "BASE_TYPE_CHOICES", f"Unsupported interaction callback type {rtype}")
            errs.raise_if_any()
        inter.response_type = rtype
        inter.response_data = data
        inter.response_files = files
        answer = inter.message
        if answer is not None:
            info["response_message_id"] = str(answer.id)
            info["response_message_ephemeral"] = answer.ephemeral
        inter.responded.set()
        out: dict[str, Any] = {"interaction": info}
        if resource is not None:
            out["resource"] = resource
        return out

    def _validate_modal(self, data: dict[str, Any]) -> None:
        """A modal (callback type 9): paths are relative to ``data``, as Discord reports them."""
        errs = _FormErrors()
        errs.length(("custom_id",), data.get("custom_id"), 100, 1, required=True)
        errs.length(("title",), data.get("title"), 45, 1, required=True)
        comps = data.get("components")
        if comps is None:
            errs.required(("components",))
        _validate_components(errs, comps, v2=False, modal=True)
        if errs:
            errs.tree = {"data": errs.tree}
        errs.raise_if_any()

    def _wh_msg(self, inter: FakeInteraction, mid: str) -> FakeMessage:
        if mid == "@original":
            msg = inter.message
            if msg is None or msg.deleted:
                raise _HTTPError(404, "Unknown Message", 10008)
            return msg
        msg = self._get_msg(mid)
        allowed = {m.id for m in inter.followups} | {inter.original_message_id}
        if msg.id not in allowed and msg.interaction_token != inter.token:
            raise _HTTPError(404, "Unknown Message", 10008)
        return msg

    def _r_wh_get(self, app: str, token: str, mid: str, **_: Any) -> dict[str, Any]:
        inter = self._inter(token, app)
        return self.message_payload(self._wh_msg(inter, mid))

    def _r_wh_edit(
        self, app: str, token: str, mid: str, body: dict[str, Any], files: list[tuple[str, bytes]], **_: Any
    ) -> dict[str, Any]:
        inter = self._inter(token, app)
        msg = self._wh_msg(inter, mid)
        self._apply_edit(msg, body or {}, files)
        return self.message_payload(msg)

    def _r_wh_delete(self, app: str, token: str, mid: str, **_: Any) -> None:
        inter = self._inter(token, app)
        self._delete(self._wh_msg(inter, mid))

    def _r_wh_followup(
        self,
        app: str,
        token: str,
        body: dict[str, Any],
        files: list[tuple[str, bytes]],
        query: dict[str, str],
        **_: Any,
    ) -> dict[str, Any] | None:
        inter = self._inter(token, app)
        if inter.response_type is None:
            raise _HTTPError(404, "Unknown Webhook", 10015)
        if inter.channel_id in self.deleted_channels:
            raise _HTTPError(404, "Unknown Channel", 10003)
        body = body or {}
        original = inter.message
        if inter.response_type == 5 and original is not None and original.loading and not original.deleted:
            # real Discord: the first followup after a "thinking" defer replaces the loading message
            self._validate_message(body, files, create=True)
            self._apply_edit(original, body, files)
            msg = original
        else:
            msg = self._create_message(channel_id=inter.channel_id, body=body, files=files, interaction=inter)
        inter.followups.append(msg)
        if query.get("wait") in ("1", "true", "True"):
            return self.message_payload(msg)
        return None

    # ============================================================================ test actions =======
    def _channel_payload(self, channel_id: int, guild_id: int | None, user_id: int) -> dict[str, Any]:
        if guild_id is None:
            return self._dm_channel_payload(user_id)
        channel = self.guild_channel(channel_id)
        if channel is not None:
            return channel
        base = self.channels.get(self.channel_id) or next(iter(self.channels.values()))
        return {**base, "id": str(channel_id), "name": f"channel-{channel_id}"}

    async def _send_interaction(
        self,
        itype: int,
        data: dict[str, Any],
        *,
        user_id: int,
        channel_id: int | None,
        guild_id: int | None,
        message: FakeMessage | None = None,
        parent: FakeInteraction | None = None,
    ) -> FakeInteraction:
        if guild_id is None:
            if user_id not in self.users:
                raise AssertionError(f"unknown user {user_id}; add it with add_member()/add_user()")
            cid = self.dm_channel_id(user_id) if channel_id is None else channel_id
        else:
            if user_id not in self.members:
                raise AssertionError(f"user {user_id} is not a guild member; known: {sorted(self.members)}")
            cid = self.channel_id if channel_id is None else channel_id
        iid = self.snowflake()
        token = "itk_" + secrets.token_urlsafe(48)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "channel_id": str(cid),
            "channel": self._channel_payload(cid, guild_id, user_id),
            "app_permissions": str(
                self.bot_permissions(cid) if guild_id is not None else discord.Permissions.all().value
            ),
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.attachment_size_limit,
        }
        if guild_id is not None:
            payload["guild_id"] = str(guild_id)
            payload["guild"] = {"id": str(guild_id), "locale": "en-US", "features": []}
            payload["guild_locale"] = "en-US"
            payload["member"] = self.member_payload(user_id, with_permissions=True)
            payload["authorizing_integration_owners"] = {"0": str(guild_id)}
            payload["context"] = 0
        else:
            payload["user"] = self.users[user_id]
            payload["authorizing_integration_owners"] = {"0": str(user_id)}
            payload["context"] = 1
        if message is not None:
            payload["message"] = self.message_payload(message)
        inter = FakeInteraction(
            self,
            id=iid,
            token=token,
            type=itype,
            data=data,
            payload=payload,
            user_id=user_id,
            channel_id=cid,
            guild_id=guild_id,
            source_message_id=message.id if message is not None else None,
            parent=parent,
        )
        self.interactions[token] = inter
        await self.dispatch("INTERACTION_CREATE", payload)
        inter.dispatched_at = time.monotonic()
        return inter

    def find_command(self, name: str, guild_id: int | None, ctype: int = 1) -> dict[str, Any]:
        scopes = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for cmd in self.registered_commands.get(scope, []):
                if cmd["name"] == name and int(cmd.get("type", 1)) == ctype:
                    return cmd
        have = {str(k): [c["name"] for c in v] for k, v in self.registered_commands.items()}
        raise AssertionError(f"command {name!r} (type {ctype}) is not registered for guild {guild_id}; have {have}")

    def _build_options(
        self,
        defs: list[dict[str, Any]],
        given: dict[str, Any],
        resolved: dict[str, dict[str, Any]],
        *,
        guild_id: int | None,
        channel_id: int,
        check_required: bool = True,
    ) -> list[dict[str, Any]]:
        known = {d["name"]: d for d in defs}
        unknown = set(given) - set(known)
        if unknown:
            desc = [f"{d['name']}:{_OPTION_TYPES.get(d['type'], d['type'])}" for d in defs]
            raise AssertionError(f"unknown option(s) {sorted(unknown)}; command options: {desc}")
        out = []
        for d in defs:
            name, otype = d["name"], int(d["type"])
            if name not in given or given[name] is None:
                if d.get("required") and check_required:
                    raise AssertionError(f"required option {name!r} missing")
                continue
            value = given[name]
            v: Any
            if otype == 3:
                v = str(value)
                if d.get("min_length") and len(v) < d["min_length"]:
                    raise AssertionError(f"option {name!r}: shorter than min_length {d['min_length']}")
                if d.get("max_length") and len(v) > d["max_length"]:
                    raise AssertionError(f"option {name!r}: longer than max_length {d['max_length']}")
            elif otype == 4:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise AssertionError(f"option {name!r} is INTEGER, got {value!r}")
                v = value
            elif otype == 10:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise AssertionError(f"option {name!r} is NUMBER, got {value!r}")
                v = value
            elif otype == 5:
                if not isinstance(value, bool):
                    raise AssertionError(f"option {name!r} is BOOLEAN, got {value!r}")
                v = value
            elif otype in (6, 9) and (int(value) in self.users):
                uid = int(value)
                v = str(uid)
                resolved.setdefault("users", {})[v] = self.users[uid]
                if guild_id is not None and uid in self.members:
                    member = self.member_payload(uid, with_permissions=True)
                    member.pop("user")
                    resolved.setdefault("members", {})[v] = member
            elif otype in (8, 9) and int(value) in self.roles:
                v = str(int(value))
                resolved.setdefault("roles", {})[v] = self.roles[int(value)]
            elif otype == 7:
                cid = int(value)
                v = str(cid)
                ch = self.channels.get(cid) or self._channel_payload(cid, guild_id, 0)
                resolved.setdefault("channels", {})[v] = {
                    **{k: ch[k] for k in ("id", "type", "name") if k in ch},
                    "permissions": str(discord.Permissions.all().value),
                }
            elif otype == 11:
                if isinstance(value, tuple):
                    filename, data, ctype = (*value, None)[:3]
                    att = self.store_blob(filename, data, ctype, ephemeral=True)
                elif isinstance(value, dict):
                    att = value
                else:
                    raise AssertionError(f"option {name!r} is ATTACHMENT: pass (filename, bytes, content_type)")
                v = str(att["id"])
                resolved.setdefault("attachments", {})[v] = {k: x for k, x in att.items() if k != "data"}
            else:
                raise AssertionError(f"option {name!r}: cannot build {_OPTION_TYPES.get(otype, otype)} from {value!r}")
            choices = d.get("choices")
            if choices and otype in (3, 4, 10) and v not in [c["value"] for c in choices]:
                raise AssertionError(f"option {name!r}: {v!r} not among choices {[c['value'] for c in choices]}")
            if otype in (4, 10):
                if d.get("min_value") is not None and v < d["min_value"]:
                    raise AssertionError(f"option {name!r}: {v} < min_value {d['min_value']}")
                if d.get("max_value") is not None and v > d["max_value"]:
                    raise AssertionError(f"option {name!r}: {v} > max_value {d['max_value']}")
            out.append({"name": name, "type": otype, "value": v})
        return out

    def _command_data(
        self,
        name: str,
        *,
        guild_id: int | None,
        channel_id: int,
        options: dict[str, Any] | None,
        attachments: dict[str, tuple[str, bytes, str]] | None,
        subcommand: str | None,
        focused: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        cmd = self.find_command(name, guild_id)
        given = dict(options or {})
        given.update(attachments or {})
        if focused:
            given.pop(focused[0], None)
        resolved: dict[str, dict[str, Any]] = {}
        defs = cmd.get("options") or []
        wrappers: list[dict[str, Any]] = []
        if subcommand:
            for part in subcommand.split():
                match = next((o for o in defs if o["name"] == part and o["type"] in (1, 2)), None)
                if match is None:
                    subs = [o["name"] for o in defs if o["type"] in (1, 2)]
                    raise AssertionError(f"/{name}: no subcommand {part!r}; have {subs}")
                wrappers.append({"name": part, "type": match["type"], "options": []})
                defs = match.get("options") or []
        elif any(o["type"] in (1, 2) for o in defs):
            raise AssertionError(f"/{name} has subcommands {[o['name'] for o in defs]}; pass subcommand=")
        opts = self._build_options(
            defs, given, resolved, guild_id=guild_id, channel_id=channel_id, check_required=focused is None
        )
        if focused:
            fdef = next((o for o in defs if o["name"] == focused[0]), None)
            if fdef is None:
                raise AssertionError(f"/{name}: no option {focused[0]!r}")
            opts.append({"name": focused[0], "type": fdef["type"], "value": focused[1], "focused": True})
        for wrapper in reversed(wrappers):
            wrapper["options"] = opts
            opts = [wrapper]
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1}
        if opts:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return data

    async def slash(
        self,
        name: str,
        *,
        user_id: int = 444,
        channel_id: int | None = None,
        guild_id: int | EllipsisType | None = ...,
        options: dict[str, Any] | None = None,
        attachments: dict[str, tuple[str, bytes, str]] | None = None,
        subcommand: str | None = None,
    ) -> FakeInteraction:
        """Invoke a registered slash command (APPLICATION_COMMAND, type 2).

        Option types come from the synced definition.  ``attachments={"image": ("cat.png", data, "image/png")}``
        (or the same tuple as an option value) uploads a file served at ``{url}/attachments/<id>/<name>``.
        ``guild_id=None`` sends it from a DM (global commands only).  ``subcommand="group sub"`` for groups.
        Does not wait for the answer: use ``await inter.wait_response()``.
        """
        gid = self.guild_id if guild_id is ... else guild_id
        cid = channel_id if channel_id is not None else (self.channel_id if gid is not None else None)
        data = self._command_data(
            name,
            guild_id=gid,
            channel_id=cid or 0,
            options=options,
            attachments=attachments,
            subcommand=subcommand,
        )
        return await self._send_interaction(2, data, user_id=user_id, channel_id=cid, guild_id=gid)

    async def autocomplete(
        self,
        name: str,
        option: str,
        value: str,
        *,
        options: dict[str, Any] | None = None,
        user_id: int = 444,
        channel_id: int | None = None,
        guild_id: int | EllipsisType | None = ...,
        subcommand: str | None = None,
    ) -> FakeInteraction:
        """Send an AUTOCOMPLETE (type 4) for ``option`` typed as ``value``; read ``inter.choices``."""
        gid = self.guild_id if guild_id is ... else guild_id
        cid = channel_id if channel_id is not None else (self.channel_id if gid is not None else None)
        data = self._command_data(
            name,
            guild_id=gid,
            channel_id=cid or 0,
            options=options,
            attachments=None,
            subcommand=subcommand,
            focused=(option, value),
        )
        return await self._send_interaction(4, data, user_id=user_id, channel_id=cid, guild_id=gid)

    def _resolve_message(self, target: int | FakeMessage | FakeInteraction) -> FakeMessage:
        if isinstance(target, FakeInteraction):
            msg = target.message
            if msg is None:
                raise AssertionError(f"{target!r} has no response message")
        elif isinstance(target, FakeMessage):
            msg = self.messages.get(target.id, target)
        else:
            msg = self.messages.get(int(target))
            if msg is None:
                raise AssertionError(f"no message {target}\n{self.dump()}")
        if msg.deleted:
            raise AssertionError(f"message {msg.id} was deleted")
        return msg

    async def click(
        self,
        message_id: int | FakeMessage | FakeInteraction,
        label: str | None = None,
        *,
        emoji: str | None = None,
        custom_id: str | None = None,
        user_id: int = 444,
    ) -> FakeInteraction:
        """Click a button (MESSAGE_COMPONENT, type 3) found by exact label, emoji or custom_id."""
        msg = self._resolve_message(message_id)
        if label is None and emoji is None and custom_id is None:
            raise AssertionError("click() needs a label, emoji= or custom_id=")
        found = None
        for c in _walk_components(msg.components):
            if c.get("type") != 2:
                continue
            em = c.get("emoji") or {}
            if (
                (label is not None and c.get("label") == label)
                or (emoji is not None and emoji in (em.get("name"), _emoji_str(em), str(em.get("id"))))
                or (custom_id is not None and c.get("custom_id") == custom_id)
            ):
                found = c
                break
        if found is None:
            raise AssertionError(
                f"no button label={label!r} emoji={emoji!r} custom_id={custom_id!r} on message {msg.id}; "
                f"buttons (label, emoji, custom_id, disabled): {msg.buttons()}"
            )
        if found.get("disabled"):
            raise AssertionError(f"button {found.get('label') or _emoji_str(found.get('emoji'))!r} is disabled")
        if found.get("style") == 5 or "custom_id" not in found:
            raise AssertionError(f"button {found.get('label')!r} is a link/premium button, not clickable")
        data = {"custom_id": found["custom_id"], "component_type": 2}
        guild_id = msg.guild_id
        return await self._send_interaction(
            3, data, user_id=user_id, channel_id=msg.channel_id, guild_id=guild_id, message=msg
        )

    async def select(
        self,
        message_id_or_interaction: int | FakeMessage | FakeInteraction,
        custom_id_or_placeholder: str,
        values: list[str],
        user_id: int = 444,
    ) -> FakeInteraction:
        """Choose ``values`` in a select menu (found by custom_id or placeholder) on a message."""
        msg = self._resolve_message(message_id_or_interaction)
        found = next(
            (c for c in msg.selects() if custom_id_or_placeholder in (c.get("custom_id"), c.get("placeholder"))),
            None,
        )
        if found is None:
            have = [(c.get("custom_id"), c.get("placeholder")) for c in msg.selects()]
            raise AssertionError(f"no select {custom_id_or_placeholder!r} on message {msg.id}; have {have}")
        if found.get("disabled"):
            raise AssertionError(f"select {custom_id_or_placeholder!r} is disabled")
        values = [str(v) for v in values]
        lo, hi = found.get("min_values", 1), found.get("max_values", 1)
        if not lo <= len(values) <= hi:
            raise AssertionError(f"select {custom_id_or_placeholder!r} takes {lo}..{hi} values, got {values}")
        ctype = found["type"]
        data: dict[str, Any] = {"custom_id": found["custom_id"], "component_type": ctype, "values": values}
        if ctype == 3:
            allowed = [o["value"] for o in found.get("options") or []]
            bad = [v for v in values if v not in allowed]
            if bad:
                raise AssertionError(f"values {bad} not among select options {allowed}")
        else:
            data["resolved"] = self._resolve_ids(values, ctype, msg.guild_id)
        return await self._send_interaction(
            3, data, user_id=user_id, channel_id=msg.channel_id, guild_id=msg.guild_id, message=msg
        )

    def _resolve_ids(self, values: list[str], ctype: int, guild_id: int | None) -> dict[str, Any]:
        resolved: dict[str, dict[str, Any]] = {}
        for v in values:
            i = int(v)
            if ctype in (5, 7) and i in self.users:
                resolved.setdefault("users", {})[v] = self.users[i]
                if guild_id is not None and i in self.members:
                    member = self.member_payload(i, with_permissions=True)
                    member.pop("user")
                    resolved.setdefault("members", {})[v] = member
            elif ctype in (6, 7) and i in self.roles:
                resolved.setdefault("roles", {})[v] = self.roles[i]
            elif ctype == 8:
                ch = self.channels.get(i) or self._channel_payload(i, guild_id, 0)
                resolved.setdefault("channels", {})[v] = {
                    **{k: ch[k] for k in ("id", "type", "name") if k in ch},
                    "permissions": str(discord.Permissions.all().value),
                }
            else:
                raise AssertionError(f"cannot resolve id {v} for select type {ctype}")
        return resolved

    async def submit_modal(
        self, interaction: FakeInteraction, values: dict[str, str | list[str]], user_id: int = 444
    ) -> FakeInteraction:
        """Submit the modal ``interaction`` answered with (type 9).  Keys: text input custom_id or label."""
        if not interaction.responded.is_set():
            await interaction.wait_response()
        modal = interaction.modal
        if modal is None:
            raise AssertionError(
                f"{interaction!r} was not answered with a modal (response {interaction.response_type})"
            )
        remaining = dict(values)
        known: set[str] = set()
        for c in _walk_components(modal.get("components")):
            if c.get("type") in (4, 18, *_SELECT_TYPES):
                known.update(k for k in (c.get("custom_id"), c.get("label")) if k)
        if set(remaining) - known:
            inputs = [
                (c.get("custom_id"), c.get("label"))
                for c in _walk_components(modal.get("components"))
                if c.get("type") in (4, 18, *_SELECT_TYPES)
            ]
            raise AssertionError(f"modal has no input(s) {sorted(set(remaining) - known)}; inputs: {inputs}")

        def take(comp: dict[str, Any], label: str | None) -> Any:
            for key in (comp.get("custom_id"), label, comp.get("label")):
                if key is not None and key in remaining:
                    return remaining.pop(key)
            return None

        def fill(comp: dict[str, Any], label: str | None) -> dict[str, Any] | None:
            ctype = comp.get("type")
            out: dict[str, Any] = {"type": ctype}
            if comp.get("id") is not None:
                out["id"] = comp["id"]
            if ctype == 4:
                value = take(comp, label)
                if value is None:
                    value = comp.get("value") or ""
                value = str(value)
                name = label or comp.get("label") or comp.get("custom_id")
                if comp.get("required", True) and not value:
                    raise AssertionError(f"modal text input {name!r} is required")
                if value and comp.get("min_length") and len(value) < comp["min_length"]:
                    raise AssertionError(f"modal text input {name!r}: shorter than {comp['min_length']}")
                if comp.get("max_length") and len(value) > comp["max_length"]:
                    raise AssertionError(f"modal text input {name!r}: longer than {comp['max_length']}")
                out.update(custom_id=comp["custom_id"], value=value)
                return out
            if ctype in _SELECT_TYPES:
                value = take(comp, label)
                vals = [] if value is None else ([value] if isinstance(value, str) else list(value))
                out.update(custom_id=comp["custom_id"], values=[str(v) for v in vals])
                return out
            return None

        components: list[dict[str, Any]] = []
        for top in modal.get("components") or []:
            if top.get("type") == 1:
                row = {"type": 1, "components": [c for c in (fill(x, None) for x in top["components"]) if c]}
                if top.get("id") is not None:
                    row["id"] = top["id"]
                components.append(row)
            elif top.get("type") == 18:
                inner = fill(top["component"], top.get("label"))
                if inner is not None:
                    wrapper: dict[str, Any] = {"type": 18, "component": inner}
                    if top.get("id") is not None:
                        wrapper["id"] = top["id"]
                    components.append(wrapper)
            elif top.get("type") == 10:
                components.append({"type": 10, "id": top.get("id")})
        if remaining:  # pragma: no cover - caught by the up-front check
            raise AssertionError(f"modal inputs not filled: {sorted(remaining)}")
        data = {"custom_id": modal["custom_id"], "components": components}
        source = interaction.source_message if interaction.type == 3 else None
        return await self._send_interaction(
            5,
            data,
            user_id=user_id,
            channel_id=interaction.channel_id,
            guild_id=interaction.guild_id,
            message=source,
            parent=interaction,
        )

    async def user_message(
        self, content: str, *, user_id: int = 444, channel_id: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        """Simulate a user posting ``content`` (MESSAGE_CREATE).  Returns the payload sent."""
        cid = self.channel_id if channel_id is None else channel_id
        mid = self.snowflake()
        self._user_message_ids.add(mid)
        payload = {
            "id": str(mid),
            "channel_id": str(cid),
            "guild_id": str(self.guild_id),
            "author": self.users[user_id],
            "member": {k: v for k, v in self.member_payload(user_id).items() if k != "user"},
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            **extra,
        }
        await self.dispatch("MESSAGE_CREATE", payload)
        return payload


# --------------------------------------------------------------------------------------------------
# helpers for tests
# --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def patch_discord(fake: FakeDiscord) -> Iterator[FakeDiscord]:
    """Point discord.py's REST base (``Route.BASE``, a str) and gateway (``DEFAULT_GATEWAY``, a yarl.URL)
    at ``fake`` (which must be started), restoring both afterwards.  Must stay active while the bot runs."""
    if not fake.url:
        raise RuntimeError("start the FakeDiscord before patching")
    route = discord.http.Route
    ws_cls = discord.gateway.DiscordWebSocket
    old_base, old_gateway = route.BASE, ws_cls.DEFAULT_GATEWAY
    route.BASE = fake.api_base
    ws_cls.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield fake
    finally:
        route.BASE = old_base
        ws_cls.DEFAULT_GATEWAY = old_gateway


@contextlib.asynccontextmanager
async def run_bot(
    bot: discord.Client, fake: FakeDiscord, *, token: str = "fake-token", timeout: float = 10.0
) -> AsyncIterator[discord.Client]:
    """Log ``bot`` in to ``fake`` and run it in a background task until the context exits.

    Waits until ``on_ready`` (so the guild/channel/members are cached).  ``setup_hook`` runs during
    login, as usual.  Lowers ``guild_ready_timeout`` to 0.1 s if it is larger (build bots with
    ``guild_ready_timeout=0.1`` anyway).  The bot is closed on exit; the fake is left running.
    """
    state = bot._connection
    if state.guild_ready_timeout > 0.1:
        state.guild_ready_timeout = 0.1
    with patch_discord(fake):
        await bot.login(token)
        task = asyncio.create_task(bot.connect(reconnect=True), name="fakediscord-bot")
        ready = asyncio.create_task(bot.wait_until_ready())
        try:
            done, _ = await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if ready not in done:
                ready.cancel()
                detail = ""
                if task in done and task.exception() is not None:
                    detail = f" (connect failed: {task.exception()!r})"
                raise AssertionError(f"bot did not become ready within {timeout}s{detail}\n{fake.dump()}")
            yield bot
        finally:
            if not ready.done():
                ready.cancel()
            await bot.close()
            try:
                await asyncio.wait_for(task, 5)
            except (Exception, asyncio.CancelledError):
                pass


class ErrorLogCollector(logging.Handler):
    """Collects log records at ERROR or above."""

    def __init__(self, level: int = logging.ERROR) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def format_all(self) -> str:
        fmt = logging.Formatter("%(levelname)s %(name)s: %(message)s")
        out = []
        for r in self.records:
            text = fmt.format(r)
            out.append(text)
        return "\n".join(out)

    def assert_clean(self) -> None:
        assert not self.records, "ERROR logs were emitted:\n" + self.format_all()


DEFAULT_LOGGERS = ("discord", "bot", "cogs", "mjbot")


@contextlib.contextmanager
def capture_error_logs(*logger_names: str, level: int = logging.ERROR) -> Iterator[ErrorLogCollector]:
    """Attach an :class:`ErrorLogCollector` to the named loggers (default: discord, bot, cogs, mjbot)."""
    names = logger_names or DEFAULT_LOGGERS
    handler = ErrorLogCollector(level)
    loggers = [logging.getLogger(n) for n in names]
    for lg in loggers:
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
