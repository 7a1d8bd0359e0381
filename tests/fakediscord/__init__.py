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

from .driver import ErrorLogCollector, capture_error_logs, patch_discord, run_bot
from .models import FakeInteraction, FakeMessage, Fault, RecordedCall, Refusal, Violation
from .server import FakeDiscord

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
