"""Tests of the fake Discord server, driven by a tiny throwaway discord.py bot."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import (
    ErrorLogCollector,
    FakeDiscord,
    Refusal,
    Violation,
    capture_error_logs,
    patch_discord,
    run_bot,
)

GUILD = 111
CHANNEL = 222
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
OUT_BYTES = b"GRID-IMAGE-" + bytes(range(255, -1, -1)) * 3


# ------------------------------------------------------------------------------------------------
# throwaway bot
# ------------------------------------------------------------------------------------------------


class PanelView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.button(label="Vary", style=discord.ButtonStyle.primary, custom_id="t:vary")
    async def vary(self, interaction: discord.Interaction, button: discord.ui.Button[PanelView]) -> None:
        button.disabled = True
        await interaction.response.edit_message(content="varied", view=self)

    @discord.ui.button(emoji="🔄", style=discord.ButtonStyle.secondary, custom_id="t:redo")
    async def redo(self, interaction: discord.Interaction, button: discord.ui.Button[PanelView]) -> None:
        await interaction.response.send_message("redo ok", ephemeral=True, view=ChoiceView())

    @discord.ui.button(label="Later", custom_id="t:later")
    async def later(self, interaction: discord.Interaction, button: discord.ui.Button[PanelView]) -> None:
        await interaction.response.defer()  # type 6: deferred update of the clicked message
        await interaction.edit_original_response(content="later")
        await interaction.followup.send("queued", ephemeral=True)

    @discord.ui.button(label="Ask", custom_id="t:ask")
    async def ask(self, interaction: discord.Interaction, button: discord.ui.Button[PanelView]) -> None:
        await interaction.response.send_modal(AskModal())

    @discord.ui.select(
        custom_id="t:pick",
        placeholder="Pick one",
        options=[discord.SelectOption(label="Alpha", value="a"), discord.SelectOption(label="Beta", value="b")],
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select[PanelView]) -> None:
        await interaction.response.send_message(f"picked {select.values[0]}", ephemeral=True)


class ChoiceView(discord.ui.View):
    @discord.ui.select(
        custom_id="t:mode", placeholder="Mode", options=[discord.SelectOption(label="Fast", value="fast")]
    )
    async def mode(self, interaction: discord.Interaction, select: discord.ui.Select[ChoiceView]) -> None:
        await interaction.response.edit_message(content=f"mode={select.values[0]}", view=None)


class AskModal(discord.ui.Modal, title="Ask"):
    prompt: discord.ui.TextInput[AskModal] = discord.ui.TextInput(label="Prompt", custom_id="t:prompt", max_length=50)
    notes: discord.ui.Label[AskModal] = discord.ui.Label(
        text="Notes",
        component=discord.ui.TextInput(custom_id="t:notes", required=False, style=discord.TextStyle.paragraph),
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        notes = self.notes.component
        assert isinstance(notes, discord.ui.TextInput)
        where = "from-button" if interaction.message is not None else "from-slash"
        await interaction.response.send_message(f"got {self.prompt.value} / {notes.value or '-'} ({where})")


def make_bot() -> commands.Bot:
    intents = discord.Intents.default()
    intents.members = True  # exercises the REQUEST_GUILD_MEMBERS -> GUILD_MEMBERS_CHUNK path
    bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.1)
    guild = discord.Object(GUILD)

    @bot.tree.command(description="echo back")
    async def echo(
        interaction: discord.Interaction,
        text: str,
        n: int,
        flag: bool,
        ratio: float | None = None,
        pic: discord.Attachment | None = None,
    ) -> None:
        extra = ""
        if pic is not None:
            data = await pic.read()
            extra = f" pic={pic.filename}:{len(data)}:{hashlib.sha256(data).hexdigest()[:12]}"
        await interaction.response.send_message(f"{text}|{n}|{flag}|{ratio}{extra}")

    @bot.tree.command(description="panel")
    async def panel(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("panel", view=PanelView())

    @bot.tree.command(description="modal")
    async def ask(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(AskModal())

    @bot.tree.command(description="slow work")
    async def work(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        embed = discord.Embed(title="Done").set_image(url="attachment://grid.png")
        await interaction.followup.send("done", embed=embed, file=discord.File(io.BytesIO(OUT_BYTES), "grid.png"))
        assert isinstance(interaction.channel, discord.TextChannel)
        msg = await interaction.channel.send(
            "progress 0%",
            allowed_mentions=discord.AllowedMentions.none(),
            view=PanelView(),
            file=discord.File(io.BytesIO(b"progress"), "progress.png"),
        )
        await msg.edit(content="progress 100%")

    @bot.tree.command(description="snapshot")
    async def snap(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("snap", file=discord.File(io.BytesIO(b"one"), "a.png"))
        original = await interaction.original_response()
        assert original.attachments[0].filename == "a.png"
        assert await original.attachments[0].read() == b"one"
        original = await original.edit(content="snap 2")
        assert [a.filename for a in original.attachments] == ["a.png"]
        await original.edit(attachments=[original.attachments[0], discord.File(io.BytesIO(b"two"), "b.png")])
        await interaction.edit_original_response(attachments=[discord.File(io.BytesIO(b"three"), "c.png")])

    @bot.tree.command(description="secret")
    async def secret(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("hidden")
        await interaction.followup.send("second")
        await interaction.edit_original_response(content="hidden (edited)")

    @bot.tree.command(description="who am i")
    async def whoami(interaction: discord.Interaction) -> None:
        member = interaction.user
        assert isinstance(member, discord.Member)
        roles = ",".join(r.name for r in member.roles if not r.is_default())
        await interaction.response.send_message(
            f"{member.name} manage_guild={interaction.permissions.manage_guild} roles={roles}", ephemeral=True
        )

    @bot.tree.command(description="styles")
    @app_commands.choices(size=[app_commands.Choice(name="Small", value=1), app_commands.Choice(name="Big", value=2)])
    async def style(interaction: discord.Interaction, name: str, size: app_commands.Choice[int]) -> None:
        await interaction.response.send_message(f"{name}:{size.name}")

    @style.autocomplete("name")
    async def style_name(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=n) for n in ("raw", "cute", "scenic") if n.startswith(current)]

    @bot.tree.command(description="explodes")
    async def boom(interaction: discord.Interaction) -> None:
        raise RuntimeError("kaboom")

    async def setup_hook() -> None:
        bot.tree.copy_global_to(guild=guild)
        await bot.tree.sync(guild=guild)
        await bot.tree.sync()  # global copy too, used by the DM test

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


# ------------------------------------------------------------------------------------------------
# fixture
# ------------------------------------------------------------------------------------------------


@dataclass
class Env:
    fake: FakeDiscord
    bot: commands.Bot
    logs: ErrorLogCollector


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    with capture_error_logs("discord", "tests") as logs:
        async with FakeDiscord() as fake:
            bot = make_bot()
            async with run_bot(bot, fake):
                yield Env(fake, bot, logs)
            fake.assert_clean()
            assert fake.unknown_routes == []
        logs.assert_clean()


# ------------------------------------------------------------------------------------------------
# tests
# ------------------------------------------------------------------------------------------------


async def test_login_ready_and_sync(env: Env) -> None:
    fake, bot = env.fake, env.bot
    assert bot.is_ready()
    assert bot.user is not None and bot.user.id == 333
    assert fake.identify_payload is not None and fake.identify_payload["token"] == "fake-token"
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel) and channel.guild.id == GUILD
    guild = bot.get_guild(GUILD)
    assert guild is not None and guild.member_count == 3
    alice = guild.get_member(444)
    assert alice is not None and alice.name == "alice"
    assert guild.me is not None and guild.me.guild_permissions.administrator
    names = sorted(c["name"] for c in fake.registered_commands[GUILD])
    assert names == ["ask", "boom", "echo", "panel", "secret", "snap", "style", "whoami", "work"]
    assert len(fake.registered_commands[None]) == len(names)
    assert fake.calls_to("PUT", r"/applications/333/guilds/111/commands$")
    assert fake.gateway_query is not None and fake.gateway_query["encoding"] == "json"
    # application info was fetched during login
    assert fake.calls_to("GET", r"^/oauth2/applications/@me$")


async def test_patch_discord_restores() -> None:
    base, gw = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord() as fake:
        with patch_discord(fake):
            assert discord.http.Route.BASE == f"{fake.url}/api/v10"
            assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY).startswith("ws://127.0.0.1:")
            async with aiohttp.ClientSession() as s, s.get(f"{fake.url}/api/v10/gateway/bot") as r:
                assert r.headers["Content-Type"] == "application/json"
                assert (await r.json())["shards"] == 1
            async with aiohttp.ClientSession() as s, s.get(f"{fake.url}/api/v10/nope") as r:
                assert r.status == 404
        assert fake.unknown_routes == ["GET /nope"]
    assert discord.http.Route.BASE == base
    assert discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY == gw


async def test_slash_options_and_attachment(env: Env) -> None:
    fake = env.fake
    inter = await fake.slash(
        "echo",
        options={"text": "hi", "n": 3, "flag": True, "ratio": 1.5},
        attachments={"pic": ("cat.png", PNG, "image/png")},
    )
    await inter.wait_response()
    assert inter.response_type == 4
    assert not inter.ephemeral
    digest = hashlib.sha256(PNG).hexdigest()[:12]
    assert inter.content == f"hi|3|True|1.5 pic=cat.png:{len(PNG)}:{digest}"
    assert inter.message is not None and inter.message in fake.channel_messages()
    # option types came from the synced definition
    opts = {o["name"]: o["type"] for o in inter.data["options"]}
    assert opts == {"text": 3, "n": 4, "flag": 5, "ratio": 10, "pic": 11}
    att = next(iter(inter.data["resolved"]["attachments"].values()))
    assert "?ex=" in att["url"] and "&hm=" in att["url"]

    inter2 = await fake.slash("echo", options={"text": "x", "n": -1, "flag": False})
    await inter2.wait_response()
    assert inter2.content == "x|-1|False|None"

    with pytest.raises(AssertionError, match="required option 'flag'"):
        await fake.slash("echo", options={"text": "x", "n": 1})
    with pytest.raises(AssertionError, match="INTEGER"):
        await fake.slash("echo", options={"text": "x", "n": "1", "flag": True})
    with pytest.raises(AssertionError, match="unknown option"):
        await fake.slash("echo", options={"text": "x", "n": 1, "flag": True, "bogus": 1})
    with pytest.raises(AssertionError, match="not registered"):
        await fake.slash("nope")


async def test_choices_and_autocomplete(env: Env) -> None:
    fake = env.fake
    ac = await fake.autocomplete("style", "name", "c")
    await ac.wait_response()
    assert ac.response_type == 8 and ac.choices == [{"name": "cute", "value": "cute"}]
    inter = await fake.slash("style", options={"name": "cute", "size": 2})
    await inter.wait_response()
    assert inter.content == "cute:Big"
    with pytest.raises(AssertionError, match="not among choices"):
        await fake.slash("style", options={"name": "cute", "size": 3})


async def test_buttons_and_select(env: Env) -> None:
    fake = env.fake
    inter = await fake.slash("panel")
    await inter.wait_response()
    msg = inter.message
    assert msg is not None and msg.content == "panel"
    assert msg.labels() == ["Vary", "🔄", "Later", "Ask"]
    assert [b[2] for b in msg.buttons()] == ["t:vary", "t:redo", "t:later", "t:ask"]

    with pytest.raises(AssertionError, match="Vary"):
        await fake.click(msg.id, "Nope")

    click = await fake.click(msg.id, "Vary")
    await click.wait_response()
    assert click.response_type == 7
    assert click.payload["message"]["components"], "the click must carry the full message"
    assert msg.content == "varied" and msg.edits == 1
    assert ("Vary", None, "t:vary", True) in msg.buttons()
    with pytest.raises(AssertionError, match="disabled"):
        await fake.click(msg.id, "Vary")

    redo = await fake.click(msg.id, emoji="🔄", user_id=555)
    await redo.wait_response()
    assert redo.response_type == 4 and redo.ephemeral and redo.content == "redo ok"
    # a select on the ephemeral reply, which is then updated in place (type 7)
    mode = await fake.select(redo, "Mode", ["fast"])
    await mode.wait_response()
    assert mode.response_type == 7
    assert redo.message is not None and redo.message.content == "mode=fast" and redo.message.components == []

    sel = await fake.select(inter, "Pick one", ["b"])
    await sel.wait_response()
    assert sel.ephemeral and sel.content == "picked b"
    later = await fake.click(msg, "Later")
    await later.wait_followups(1)
    assert later.response_type == 6 and later.message is msg and msg.content == "later"
    assert later.followups[0].ephemeral and later.content == "queued"
    with pytest.raises(AssertionError, match="not among select options"):
        await fake.select(msg.id, "t:pick", ["zzz"])


async def test_modal_round_trip(env: Env) -> None:
    fake = env.fake
    inter = await fake.slash("ask")
    await inter.wait_response()
    assert inter.response_type == 9 and inter.modal is not None and inter.modal["title"] == "Ask"
    sub = await fake.submit_modal(inter, {"Prompt": "a red fox", "t:notes": "wide"})
    await sub.wait_response()
    assert sub.content == "got a red fox / wide (from-slash)"
    with pytest.raises(AssertionError, match="no input"):
        await fake.submit_modal(inter, {"Bogus": "x"})
    with pytest.raises(AssertionError, match="longer than"):
        await fake.submit_modal(inter, {"Prompt": "x" * 51})

    panel = await fake.slash("panel")
    await panel.wait_response()
    assert panel.message is not None
    opened = await fake.click(panel.message.id, "Ask")
    sub2 = await fake.submit_modal(opened, {"t:prompt": "owl"})
    await sub2.wait_response()
    assert sub2.content == "got owl / - (from-button)"


async def test_defer_followup_file_and_channel_send(env: Env) -> None:
    fake = env.fake
    inter = await fake.slash("work")
    await inter.wait_response()
    assert inter.response_type == 5
    final = await fake.wait_message(lambda m: m.content == "progress 100%")
    assert final.edits == 1 and final.interaction_token is None
    assert final.allowed_mentions == {"parse": []}  # AllowedMentions.none() as discord.py sends it
    assert "Vary" in final.labels()

    followup = inter.followups[0]
    # first followup after a thinking-defer replaces the "loading" original message
    assert followup.id == inter.original_message_id and not followup.loading
    assert followup.filenames == ["grid.png"] and followup.attachment("grid.png")["data"] == OUT_BYTES
    assert followup.embeds[0]["image"]["url"] == "attachment://grid.png"
    async with aiohttp.ClientSession() as session, session.get(followup.attachments[0]["url"]) as resp:
        assert resp.status == 200 and await resp.read() == OUT_BYTES
    assert [m.content for m in fake.channel_messages()] == ["done", "progress 100%"]
    assert final.filenames == ["progress.png"]  # kept across the content-only edit
    assert fake.attachment_bytes(final.attachments[0]["url"]) == b"progress"
    assert fake.calls_to("POST", r"^/channels/222/messages$")[0].files == [("progress.png", b"progress")]
    assert len(fake.calls_to("PATCH", r"^/channels/222/messages/\d+$")) == 1

    # a button on a plain channel message works as well
    click = await fake.click(final, "Vary")
    await click.wait_response()
    assert final.content == "varied"


async def test_response_with_files_and_attachment_edits(env: Env) -> None:
    fake = env.fake
    inter = await fake.slash("snap")
    msg = await fake.wait_message(lambda m: m.filenames == ["c.png"])
    assert msg is inter.message and msg.content == "snap 2" and msg.edits == 3
    assert msg.attachment("c.png")["data"] == b"three"
    assert [[a["filename"] for a in h["attachments"]] for h in msg.history] == [
        ["a.png"],
        ["a.png"],
        ["a.png", "b.png"],
    ]
    assert fake.calls_to("POST", r"/interactions/\d+/.+/callback")[-1].files == [("a.png", b"one")]


async def test_ephemeral_defer_and_followups(env: Env) -> None:
    fake = env.fake
    inter = await fake.slash("secret")
    await inter.wait_followups(2)
    await fake.wait_for(lambda: inter.content == "hidden (edited)")
    assert inter.ephemeral
    first, second = inter.followups
    assert first.id == inter.original_message_id and first.ephemeral
    assert second.content == "second" and not second.ephemeral
    assert [m.content for m in fake.channel_messages(include_ephemeral=False)] == ["second"]


async def test_permissions_roles_and_dm(env: Env) -> None:
    fake = env.fake
    plain = await fake.slash("whoami")
    await plain.wait_response()
    assert plain.content == "alice manage_guild=False roles="

    mods = fake.add_role("Mods", permissions=discord.Permissions(manage_guild=True))
    fake.add_member(777, "carol", roles=[mods])
    mod = await fake.slash("whoami", user_id=777)
    await mod.wait_response()
    assert mod.content == "carol manage_guild=True roles=Mods"
    assert env.bot.get_guild(GUILD).get_role(mods) is not None  # type: ignore[union-attr]

    dm = await fake.slash("echo", guild_id=None, options={"text": "dm", "n": 2, "flag": False})
    await dm.wait_response()
    assert dm.content == "dm|2|False|None"
    assert dm.message is not None and dm.message.channel_id == fake.dm_channel_id(444)
    assert "guild_id" not in dm.data  # resolved against the global command


@pytest.mark.allow_error_logs
async def test_bot_errors_are_logged(env: Env) -> None:
    inter = await env.fake.slash("boom")
    await env.fake.wait_for(lambda: env.logs.records)
    assert "kaboom" in str(env.logs.records[0].exc_info)
    assert inter.response_type is None
    env.logs.records.clear()


async def test_resume_after_disconnect(env: Env) -> None:
    fake = env.fake
    await fake.disconnect_all()
    await fake.wait_for(lambda: fake.connected.is_set())
    assert fake.resume_count == 1 and fake.identify_count == 1
    inter = await fake.slash("echo", options={"text": "again", "n": 1, "flag": True})
    await inter.wait_response()
    assert inter.content == "again|1|True|None"


async def test_dispatch_and_user_message(env: Env) -> None:
    seen: list[str] = []

    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    env.bot.add_listener(on_message)
    await env.fake.user_message("hello bot")
    await env.fake.wait_for(lambda: "hello bot" in seen)


async def test_rest_errors_surface_as_http_exceptions(env: Env) -> None:
    channel = env.bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as info:
        await channel.send("x" * 2001)
    assert info.value.code == 50035
    assert "In content: Must be 2000 or fewer in length." in info.value.text
    assert [(v.method, v.path) for v in env.fake.violations] == [("POST", "/channels/222/messages")]
    env.fake.violations.clear()  # provoked on purpose
    with pytest.raises(discord.NotFound):
        await channel.fetch_message(12345)
    msg = await channel.send("keep")
    fetched = await channel.fetch_message(msg.id)
    assert fetched.content == "keep"
    await msg.delete()
    assert env.fake.messages[msg.id].deleted
    assert env.fake.channel_messages() == []


# ------------------------------------------------------------------------------------------------
# strictness, permissions, faults and token lifetimes of the fake itself
# ------------------------------------------------------------------------------------------------

MIB = 1024 * 1024


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A started fake without a bot, for raw REST calls."""
    async with FakeDiscord() as f:
        yield f


async def api(
    fake: FakeDiscord,
    method: str,
    path: str,
    body: Any = None,
    *,
    files: Sequence[tuple[str, bytes]] = (),
) -> tuple[int, Any, Mapping[str, str]]:
    """One raw REST call to the fake, as a bot would make it; returns (status, parsed JSON or None, headers)."""
    kwargs: dict[str, Any] = {}
    if files:
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("payload_json", json.dumps(body or {}), content_type="application/json")
        for i, (name, data) in enumerate(files):
            form.add_field(f"files[{i}]", data, filename=name, content_type="application/octet-stream")
        kwargs["data"] = form
    elif body is not None:
        kwargs["json"] = body
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, fake.api_base + path, headers={"Authorization": "Bot x"}, **kwargs) as resp,
    ):
        data = await resp.json(content_type=None) if resp.status != 204 else None
        return resp.status, data, resp.headers


def form_error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


@contextlib.asynccontextmanager
async def logged_in(fake: FakeDiscord, *cmds: app_commands.Command[Any, Any, Any]) -> AsyncIterator[commands.Bot]:
    """A bot logged in over REST only (no gateway): enough for ``tree.sync``."""
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    for cmd in cmds:
        bot.tree.add_command(cmd, guild=discord.Object(GUILD))
    with patch_discord(fake):
        await bot.login("fake-token")
        try:
            yield bot
        finally:
            await bot.close()


async def add_guild_command(env: Env, cmd: app_commands.Command[Any, Any, Any]) -> None:
    env.bot.tree.add_command(cmd, guild=discord.Object(GUILD))
    await env.bot.tree.sync(guild=discord.Object(GUILD))


def text_channel(env: Env, channel_id: int = CHANNEL) -> discord.TextChannel:
    channel = env.bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


def perms_without(*names: str) -> discord.Permissions:
    perms = discord.Permissions.all()
    perms.administrator = False
    for name in names:
        setattr(perms, name, False)
    return perms


# -- application commands -------------------------------------------------------------------------


async def test_sync_refuses_string_option_max_length_over_6000(fake: FakeDiscord) -> None:
    @app_commands.command(description="make a picture")
    async def imagine(interaction: discord.Interaction, n: int, prompt: app_commands.Range[str, 1, 8192]) -> None:
        pass  # pragma: no cover

    async with logged_in(fake, imagine) as bot:
        with pytest.raises(discord.HTTPException) as info:
            await bot.tree.sync(guild=discord.Object(GUILD))
    assert info.value.status == 400 and info.value.code == 50035
    assert "In 0.options.1.max_length:" in info.value.text
    assert GUILD not in fake.registered_commands  # nothing registered
    [violation] = fake.violations
    assert violation.method == "PUT" and violation.path == f"/applications/333/guilds/{GUILD}/commands"
    assert violation.errors == {
        "0": {
            "options": {
                "1": {"max_length": form_error("NUMBER_TYPE_MAX", "int value should be less than or equal to 6000.")}
            }
        }
    }
    with pytest.raises(AssertionError, match="max_length"):
        fake.assert_clean()
    fake.violations.clear()

    # the same command within the limits syncs
    @app_commands.command(name="imagine", description="make a picture")
    async def imagine_ok(interaction: discord.Interaction, prompt: app_commands.Range[str, 1, 6000]) -> None:
        pass  # pragma: no cover

    async with logged_in(fake, imagine_ok) as bot:
        await bot.tree.sync(guild=discord.Object(GUILD))
    assert [c["name"] for c in fake.registered_commands[GUILD]] == ["imagine"]
    fake.assert_clean()


async def test_command_definition_limits(fake: FakeDiscord) -> None:
    path = f"/applications/333/guilds/{GUILD}/commands"
    good = {"name": "ok", "description": "fine", "type": 1}

    async def refused(cmd: dict[str, Any]) -> dict[str, Any]:
        status, data, _ = await api(fake, "PUT", path, [good, cmd])
        assert status == 400 and data["code"] == 50035 and data["message"] == "Invalid Form Body", data
        return data["errors"]["1"]

    assert await refused({"name": "x", "description": "d" * 101}) == {
        "description": form_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    }
    assert await refused({"name": "x", "description": ""}) == {
        "description": form_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    }
    for bad_name in ("Imagine", "has space", "x" * 33, "", "a!"):
        assert "name" in await refused({"name": bad_name, "description": "d"}), bad_name
    opts = [
        {"type": 3, "name": "style", "description": "d", "required": False},
        {"type": 3, "name": "prompt", "description": "d", "required": True},
    ]
    errors = await refused({"name": "x", "description": "d", "options": opts})
    assert errors == {
        "options": {
            "1": {
                "required": form_error(
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
            }
        }
    }
    many = [{"type": 3, "name": f"o{i}", "description": "d"} for i in range(26)]
    assert "options" in await refused({"name": "x", "description": "d", "options": many})
    choices = [{"name": f"c{i}", "value": f"v{i}"} for i in range(26)]
    errors = await refused(
        {"name": "x", "description": "d", "options": [{"type": 3, "name": "o", "description": "d", "choices": choices}]}
    )
    assert errors["options"]["0"]["choices"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    long_value = [{"name": "c", "value": "v" * 101}]
    errors = await refused(
        {
            "name": "x",
            "description": "d",
            "options": [{"type": 3, "name": "o", "description": "d", "choices": long_value}],
        }
    )
    assert "value" in errors["options"]["0"]["choices"]["0"]
    big = [{"type": 3, "name": f"o{i}", "description": "d" * 100, "choices": choices[:25]} for i in range(25)]
    errors = await refused({"name": "x", "description": "d", "options": big})  # 25 * (2 + 100 + 25 * 4) > 4000
    assert errors["_errors"][0]["code"] == "APPLICATION_COMMAND_TOO_LARGE"
    errors = await refused(
        {"name": "x", "description": "d", "options": [{"type": 3, "name": "o", "description": "d", "min_length": -1}]}
    )
    assert "min_length" in errors["options"]["0"]
    assert GUILD not in fake.registered_commands  # a PUT with one bad command registers nothing
    assert len(fake.violations) == 13
    fake.violations.clear()

    # non-ASCII lowercase letters are fine; 100 chat-input commands are the limit
    status, _, _ = await api(fake, "PUT", path, [{"name": "größe-日本", "description": "d"}])
    assert status == 200
    hundred = [{"name": f"c{i}", "description": "d"} for i in range(100)]
    status, _, _ = await api(fake, "PUT", path, hundred)
    assert status == 200 and len(fake.registered_commands[GUILD]) == 100
    status, data, _ = await api(fake, "PUT", path, [*hundred, {"name": "one-more", "description": "d"}])
    assert status == 400 and data["code"] == 30032
    status, data, _ = await api(fake, "POST", path, {"name": "one-more", "description": "d"})
    assert status == 400 and data["code"] == 30032
    assert len(fake.violations) == 2
    fake.violations.clear()
    fake.assert_clean()


# -- messages -------------------------------------------------------------------------------------


async def test_embed_limits_use_discords_nested_error_shape(fake: FakeDiscord) -> None:
    route = f"/channels/{CHANNEL}/messages"
    status, data, _ = await api(fake, "POST", route, {"embeds": [{"description": "d" * 4000}] * 2})
    assert status == 400
    assert data == {
        "message": "Invalid Form Body",
        "code": 50035,
        "errors": {"embeds": form_error("MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")},
    }
    status, data, _ = await api(fake, "POST", route, {"embeds": [{"title": "t"}, {"description": "d" * 4097}]})
    assert status == 400 and data["errors"] == {
        "embeds": {"1": {"description": form_error("BASE_TYPE_MAX_LENGTH", "Must be 4096 or fewer in length.")}}
    }
    fields = [{"name": "n", "value": ""}, {"name": "n" * 257, "value": "v"}]
    status, data, _ = await api(fake, "POST", route, {"embeds": [{"fields": fields, "footer": {"text": "f" * 2049}}]})
    assert status == 400
    embed_errors = data["errors"]["embeds"]["0"]
    assert set(embed_errors) == {"fields", "footer"}
    assert embed_errors["fields"]["0"]["value"]["_errors"][0]["code"] == "BASE_TYPE_BAD_LENGTH"
    assert embed_errors["fields"]["1"]["name"]["_errors"][0]["code"] == "BASE_TYPE_BAD_LENGTH"
    assert "text" in embed_errors["footer"]
    status, data, _ = await api(fake, "POST", route, {"embeds": [{"title": "t"}] * 11})
    assert status == 400 and data["errors"]["embeds"] == form_error(
        "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length."
    )
    status, data, _ = await api(fake, "POST", route, {"content": "x"}, files=[(f"{i}.txt", b"x") for i in range(11)])
    assert status == 400 and "files" in data["errors"]
    status, data, _ = await api(fake, "POST", route, {"embeds": [{"title": "t" * 256, "description": "d" * 4096}]})
    assert status == 200
    assert len(fake.violations) == 5 and fake.messages
    fake.violations.clear()


def button(label: str, custom_id: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": 2, "style": 1, "label": label, "custom_id": custom_id or f"b:{label}"}
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}


SELECT = {"type": 3, "custom_id": "s", "options": [{"label": "A", "value": "a"}]}


async def test_component_limits(fake: FakeDiscord) -> None:
    route = f"/channels/{CHANNEL}/messages"

    async def errors_of(components: list[dict[str, Any]]) -> dict[str, Any]:
        status, data, _ = await api(fake, "POST", route, {"content": "x", "components": components})
        assert status == 400 and data["code"] == 50035, data
        return data["errors"]["components"]

    six = [{"type": 1, "components": [button(str(i)) for i in range(6)]}]
    assert await errors_of(six) == {
        "0": {"components": form_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")}
    }
    shared = [{"type": 1, "components": [SELECT, button("b")]}]
    assert await errors_of(shared) == {
        "0": {
            "components": {
                "1": form_error("COMPONENT_LAYOUT_WIDTH_EXCEEDED", "The specified component exceeds the maximum width")
            }
        }
    }
    rows = [{"type": 1, "components": [button(f"{r}-{i}") for i in range(5)]} for r in range(6)]
    assert (await errors_of(rows))["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    dup = [{"type": 1, "components": [button("a", "same"), button("b", "same")]}]
    assert (await errors_of(dup))["0"]["components"]["1"]["custom_id"]["_errors"][0]["code"] == (
        "COMPONENT_CUSTOM_ID_DUPLICATED"
    )
    assert (
        "custom_id" in (await errors_of([{"type": 1, "components": [button("a", "c" * 101)]}]))["0"]["components"]["0"]
    )
    assert "label" in (await errors_of([{"type": 1, "components": [button("l" * 81)]}]))["0"]["components"]["0"]
    no_label = {"type": 2, "style": 1, "custom_id": "n"}
    assert "label" in (await errors_of([{"type": 1, "components": [no_label]}]))["0"]["components"]["0"]
    link_with_id = {"type": 2, "style": 5, "label": "site", "url": "https://x.test", "custom_id": "l"}
    assert "custom_id" in (await errors_of([{"type": 1, "components": [link_with_id]}]))["0"]["components"]["0"]
    link_without_url = {"type": 2, "style": 5, "label": "site"}
    assert "url" in (await errors_of([{"type": 1, "components": [link_without_url]}]))["0"]["components"]["0"]
    button_with_url = button("b", url="https://x.test")
    assert "url" in (await errors_of([{"type": 1, "components": [button_with_url]}]))["0"]["components"]["0"]
    big_select = {
        **SELECT,
        "placeholder": "p" * 151,
        "max_values": 2,
        "options": [{"label": "l" * 101, "value": "v"}],
    }
    select_errors = (await errors_of([{"type": 1, "components": [big_select]}]))["0"]["components"]["0"]
    assert set(select_errors) == {"placeholder", "max_values", "options"}
    too_many = {**SELECT, "options": [{"label": str(i), "value": str(i)} for i in range(26)]}
    assert "options" in (await errors_of([{"type": 1, "components": [too_many]}]))["0"]["components"]["0"]
    assert len(fake.violations) == 12
    fake.violations.clear()

    ok = [
        {
            "type": 1,
            "components": [button(str(i)) for i in range(4)]
            + [{"type": 2, "style": 2, "custom_id": "e", "emoji": {"name": "🔄"}}],
        },
        {"type": 1, "components": [SELECT]},
        {"type": 1, "components": [{"type": 2, "style": 5, "label": "site", "url": "https://x.test"}]},
    ]
    status, data, _ = await api(fake, "POST", route, {"content": "x", "components": ok})
    assert status == 200, data
    # an edit is checked against the resulting message
    mid = data["id"]
    status, data, _ = await api(fake, "PATCH", f"{route}/{mid}", {"content": "y" * 2001})
    assert status == 400 and "content" in data["errors"]
    status, data, _ = await api(fake, "PATCH", f"{route}/{mid}", {"content": ""})
    assert status == 200  # components remain, so the message is not empty
    status, data, _ = await api(fake, "POST", route, {"content": ""})
    assert status == 400 and data["code"] == 50006
    status, data, _ = await api(fake, "POST", route, {"content": "plain"})
    plain = data["id"]
    status, data, _ = await api(fake, "PATCH", f"{route}/{plain}", {"content": ""})
    assert (status, data["code"]) == (400, 50006)
    assert fake.messages[int(plain)].content == "plain" and fake.messages[int(plain)].edits == 0  # unchanged
    assert [v.path for v in fake.violations] == [f"{route}/{mid}", route, f"{route}/{plain}"]
    fake.violations.clear()
    fake.assert_clean()


async def test_modal_title_over_45_is_refused(env: Env) -> None:
    outcome: list[Any] = []

    @app_commands.command(description="long modal")
    async def longmodal(interaction: discord.Interaction) -> None:
        modal = discord.ui.Modal(title="T" * 46)
        modal.add_item(discord.ui.TextInput(label="Prompt", custom_id="p"))
        try:
            await interaction.response.send_modal(modal)
        except discord.HTTPException as exc:
            outcome.append(exc)

    await add_guild_command(env, longmodal)
    inter = await env.fake.slash("longmodal")
    await env.fake.wait_for(lambda: outcome)
    [exc] = outcome
    assert exc.status == 400 and exc.code == 50035 and "In data.title: Must be between 1 and 45" in exc.text
    assert inter.response_type is None
    [violation] = env.fake.violations
    assert violation.errors == {
        "data": {"title": form_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")}
    }
    env.fake.violations.clear()


async def test_modal_component_limits(env: Env) -> None:
    fake = env.fake
    inter = await fake.slash("whoami")  # answered by the bot; its token is used below for raw callbacks
    await inter.wait_response()
    late = await fake.slash("whoami")
    await late.wait_response()

    text_input = {
        "type": 4,
        "custom_id": "t",
        "style": 1,
        "label": "L" * 46,
        "max_length": 4001,
        "placeholder": "p" * 101,
    }
    modal = {"custom_id": "m", "title": "ok", "components": [{"type": 1, "components": [text_input]}]}
    inter.response_type = None  # let the fake accept another callback for this interaction
    status, data, _ = await api(
        fake, "POST", f"/interactions/{inter.id}/{inter.token}/callback", {"type": 9, "data": modal}
    )
    assert status == 400 and data["code"] == 50035
    errors = data["errors"]["data"]["components"]["0"]["components"]["0"]
    assert set(errors) == {"label", "max_length", "placeholder"}
    six = {"custom_id": "m", "title": "ok", "components": [{"type": 10, "content": "x"}] * 6}
    status, data, _ = await api(
        fake, "POST", f"/interactions/{inter.id}/{inter.token}/callback", {"type": 9, "data": six}
    )
    assert status == 400 and "components" in data["errors"]["data"]
    assert len(fake.violations) == 2
    fake.violations.clear()


# -- uploads and permissions ----------------------------------------------------------------------


async def test_upload_over_the_size_limit_gets_413(env: Env) -> None:
    fake = env.fake
    channel = text_channel(env)
    with pytest.raises(discord.HTTPException) as info:
        await channel.send(file=discord.File(io.BytesIO(b"x" * (11 * MIB)), "big.png"))
    assert info.value.status == 413 and info.value.code == 40005
    assert fake.refusals == [Refusal("POST", f"/channels/{CHANNEL}/messages", 413, 40005)]
    assert fake.violations == []  # a legitimate outcome, not a malformed request
    assert fake.channel_messages() == []
    await channel.send(file=discord.File(io.BytesIO(b"x" * (10 * MIB)), "ok.png"))  # exactly the limit is fine

    fake.attachment_size_limit = 1000
    inter = await fake.slash("whoami")
    await inter.wait_response()
    assert inter.payload["attachment_size_limit"] == 1000
    status, data, _ = await api(fake, "POST", f"/channels/{CHANNEL}/messages", {}, files=[("a.bin", b"x" * 1001)])
    assert (status, data) == (413, {"message": "Request entity too large", "code": 40005})
    assert "413" in fake.dump()


async def test_channel_permissions_are_enforced_on_channel_routes(env: Env) -> None:
    fake = env.fake
    channel = text_channel(env)
    route = f"/channels/{CHANNEL}/messages"

    fake.set_bot_permissions(CHANNEL, perms_without("send_messages"))
    with pytest.raises(discord.Forbidden) as info:
        await channel.send("hello")
    assert info.value.code == 50013 and info.value.text == "Missing Permissions"

    fake.set_bot_permissions(CHANNEL, perms_without("attach_files"))
    await channel.send("text is fine")
    with pytest.raises(discord.Forbidden) as info:
        await channel.send("pic", file=discord.File(io.BytesIO(b"png"), "a.png"))
    assert info.value.code == 50013
    msg = await channel.send("edit me")
    with pytest.raises(discord.Forbidden):
        await msg.edit(attachments=[discord.File(io.BytesIO(b"png"), "a.png")])
    await msg.edit(content="edited")  # an edit without files is fine

    fake.set_bot_permissions(CHANNEL, perms_without("embed_links"))
    with pytest.raises(discord.Forbidden) as info:
        await channel.send(embed=discord.Embed(title="t"))
    assert info.value.code == 50013
    with pytest.raises(discord.Forbidden):
        await msg.edit(embed=discord.Embed(title="t"))

    fake.set_bot_permissions(CHANNEL, perms_without("read_message_history"))
    with pytest.raises(discord.Forbidden) as info:
        await channel.send("reply", reference=msg)
    assert info.value.code == 50013

    fake.set_bot_permissions(CHANNEL, perms_without("view_channel"))
    with pytest.raises(discord.Forbidden) as info:
        await channel.send("hello")
    assert info.value.code == 50001 and info.value.text == "Missing Access"
    with pytest.raises(discord.Forbidden) as info:
        await channel.fetch_message(msg.id)
    assert info.value.code == 50001
    with pytest.raises(discord.Forbidden):
        await msg.delete()

    # interaction responses are not subject to the channel's permissions
    inter = await fake.slash("echo", options={"text": "still", "n": 1, "flag": True})
    await inter.wait_response()
    assert inter.content == "still|1|True|None"

    fake.set_bot_permissions(CHANNEL, None)
    await channel.send("back")
    assert [(r.method, r.path, r.status, r.code) for r in fake.refusals] == [
        ("POST", route, 403, 50013),
        ("POST", route, 403, 50013),
        ("PATCH", f"{route}/{msg.id}", 403, 50013),
        ("POST", route, 403, 50013),
        ("PATCH", f"{route}/{msg.id}", 403, 50013),
        ("POST", route, 403, 50013),
        ("POST", route, 403, 50001),
        ("GET", f"{route}/{msg.id}", 403, 50001),
        ("DELETE", f"{route}/{msg.id}", 403, 50001),
    ]
    assert fake.violations == []
    assert "Missing Access" in fake.dump()


async def test_threads_need_send_messages_in_threads(env: Env) -> None:
    fake = env.fake
    thread_id = 777_000_000_000_000_001
    fake.add_thread(thread_id, "art", parent_id=CHANNEL)
    guild = env.bot.get_guild(GUILD)
    assert guild is not None
    thread = await fake.wait_for(lambda: guild.get_thread(thread_id))
    assert isinstance(thread, discord.Thread) and thread.parent_id == CHANNEL and thread.name == "art"

    fake.set_bot_permissions(thread_id, perms_without("send_messages_in_threads"))
    with pytest.raises(discord.Forbidden) as info:
        await thread.send("hi")
    assert info.value.code == 50013
    fake.set_bot_permissions(thread_id, perms_without("send_messages"))  # not needed in a thread
    sent = await thread.send("hi")
    assert fake.messages[sent.id].channel_id == thread_id and fake.messages[sent.id].guild_id == GUILD

    # a thread inherits its parent's permissions unless it has its own
    fake.set_bot_permissions(thread_id, None)
    fake.set_bot_permissions(CHANNEL, perms_without("view_channel"))
    with pytest.raises(discord.Forbidden) as info:
        await thread.send("hi")
    assert info.value.code == 50001
    fake.set_bot_permissions(CHANNEL, None)

    inter = await fake.slash("echo", channel_id=thread_id, options={"text": "in thread", "n": 1, "flag": True})
    await inter.wait_response()
    assert inter.payload["channel"]["type"] == 11
    assert inter.message is not None and inter.message.channel_id == thread_id

    # threads present at login come with GUILD_CREATE
    assert thread_id in {int(t["id"]) for t in fake._guild_create_payload()["threads"]}


async def test_app_permissions_follow_set_bot_permissions(env: Env) -> None:
    fake = env.fake
    seen: list[discord.Permissions] = []

    @app_commands.command(description="perms")
    async def perms(interaction: discord.Interaction) -> None:
        seen.append(interaction.app_permissions)
        await interaction.response.send_message("ok", ephemeral=True)

    await add_guild_command(env, perms)
    inter = await fake.slash("perms")
    await inter.wait_response()
    assert int(inter.payload["app_permissions"]) == discord.Permissions.all().value

    limited = discord.Permissions(view_channel=True, send_messages=True)
    fake.set_bot_permissions(CHANNEL, limited)
    inter = await fake.slash("perms")
    await inter.wait_response()
    assert inter.payload["app_permissions"] == str(limited.value)
    assert seen[-1] == limited and not seen[-1].attach_files

    fake.set_bot_permissions(CHANNEL, 0)
    inter = await fake.slash("perms")
    await inter.wait_response()  # the interaction response goes through even with no permissions at all
    assert seen[-1].value == 0

    fake.set_bot_permissions(CHANNEL, None)
    inter = await fake.slash("perms")
    await inter.wait_response()
    assert seen[-1] == discord.Permissions.all()


async def test_deleted_channel_gives_unknown_channel(env: Env) -> None:
    fake = env.fake
    side = 223
    fake.add_channel(side, "side")
    channel = await fake.wait_for(lambda: env.bot.get_channel(side))
    assert isinstance(channel, discord.TextChannel)
    before = await channel.send("before")
    fake.delete_channel(side)
    await fake.wait_for(lambda: env.bot.get_channel(side) is None)
    with pytest.raises(discord.NotFound) as info:
        await channel.send("after")
    assert info.value.code == 10003 and info.value.text == "Unknown Channel"
    with pytest.raises(discord.NotFound) as info:
        await before.edit(content="edited")
    assert info.value.code == 10003
    status, data, _ = await api(fake, "GET", f"/channels/{side}")
    assert (status, data["code"]) == (404, 10003)
    assert fake.violations == [] and fake.refusals == []


# -- fault injection ------------------------------------------------------------------------------


async def test_injected_429_makes_discord_py_wait_and_retry(env: Env) -> None:
    fake = env.fake
    channel = text_channel(env)
    fault = fake.inject_fault("POST", rf"^/channels/{CHANNEL}/messages$", status=429, retry_after=0.6)
    started = time.monotonic()
    msg = await channel.send("after the rate limit")
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 3.0, elapsed
    assert fault.hits == 1 and fault not in fake.faults
    assert fake.messages[msg.id].content == "after the rate limit"
    posts = fake.calls_to("POST", rf"^/channels/{CHANNEL}/messages$")
    assert [(c.status, c.injected) for c in posts] == [(429, True), (200, False)]

    fake.inject_fault(path=r"^/channels/1/", status=429)
    status, data, headers = await api(fake, "POST", "/channels/1/messages", {})
    assert status == 429 and data == {"message": "You are being rate limited.", "retry_after": 1.0, "global": False}
    assert headers["Retry-After"] == "1" and headers["X-RateLimit-Remaining"] == "0"
    assert headers["X-RateLimit-Scope"] == "user" and float(headers["X-RateLimit-Reset-After"]) == 1.0
    assert {"X-RateLimit-Limit", "X-RateLimit-Reset", "X-RateLimit-Bucket", "Via"} <= set(headers)
    fake.inject_fault(path=r"^/channels/1/", status=429, retry_after=2.5, global_=True)
    status, data, headers = await api(fake, "POST", "/channels/1/messages", {})
    assert data["global"] is True and headers["X-RateLimit-Scope"] == "global" and headers["Retry-After"] == "3"
    assert "4xx answers" not in fake.dump()  # injected answers are not listed as the fake's own refusals


async def test_injected_500_is_retried_by_discord_py(env: Env) -> None:
    fake = env.fake
    channel = text_channel(env)
    fault = fake.inject_fault("POST", r"/messages$", status=500)
    started = time.monotonic()
    msg = await channel.send("after a blip")
    assert time.monotonic() - started >= 1.0  # discord.py sleeps 1 s before the first retry
    assert fault.hits == 1 and fake.messages[msg.id].content == "after a blip"

    # 503 is not in discord.py's retry set for bot routes: DiscordServerError at once
    fake.inject_fault("POST", r"/messages$", status=503)
    with pytest.raises(discord.DiscordServerError) as info:
        await channel.send("no retry")
    assert info.value.status == 503 and "Service Unavailable" in info.value.text
    # 403 / 404 faults look like Discord's own
    fake.inject_fault("POST", r"/messages$", status=403, code=50013, message="Missing Permissions")
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("x")
    assert forbidden.value.code == 50013
    fake.inject_fault("GET", r"/messages/\d+$", status=404, code=10008, message="Unknown Message")
    with pytest.raises(discord.NotFound) as not_found:
        await channel.fetch_message(msg.id)
    assert not_found.value.code == 10008
    # an interaction followup (webhook route) is retried on 500 as well
    fake.inject_fault("POST", r"^/webhooks/", status=500)
    inter = await fake.slash("work")
    await inter.wait_followups(1)
    await fake.wait_message(lambda m: m.content == "progress 100%")
    assert [c.status for c in fake.calls_to("POST", r"^/webhooks/")] == [500, 200]
    assert fake.refusals == [] and fake.faults == []


async def test_fault_count_method_removal_and_hold(fake: FakeDiscord) -> None:
    forever = fake.inject_fault("GET", r"^/users/@me$", status=502, count=None)
    for _ in range(3):
        status, data, _ = await api(fake, "GET", "/users/@me")
        assert (status, data) == (502, {"message": "502: Bad Gateway", "code": 0})
    status, _, _ = await api(fake, "POST", "/users/@me/channels", {"recipient_id": "444"})
    assert status == 200  # other method / path
    assert forever.hits == 3
    forever.remove()
    assert (await api(fake, "GET", "/users/@me"))[0] == 200
    fake.inject_fault(status=500, count=None)
    fake.clear_faults()
    assert (await api(fake, "GET", "/users/@me"))[0] == 200

    # hold_s without a status stalls, then handles the request normally
    stall = fake.inject_fault("POST", rf"/channels/{CHANNEL}/messages$", status=None, hold_s=0.5)
    started = time.monotonic()
    status, data, _ = await api(fake, "POST", f"/channels/{CHANNEL}/messages", {"content": "late"})
    assert status == 200 and data["content"] == "late"
    assert time.monotonic() - started >= 0.5 and stall.hits == 1
    # hold_s with a status stalls, then answers the fault
    fake.inject_fault("POST", r"/messages$", status=500, hold_s=0.3)
    started = time.monotonic()
    assert (await api(fake, "POST", f"/channels/{CHANNEL}/messages", {"content": "x"}))[0] == 500
    assert time.monotonic() - started >= 0.3
    assert [c.status for c in fake.calls[-2:]] == [200, 500] and fake.calls[-1].injected
    assert len(fake.channel_messages()) == 1


async def test_stop_does_not_wait_for_held_requests() -> None:
    fake = FakeDiscord()
    await fake.start()
    fake.inject_fault("GET", r"^/users/@me$", status=None, hold_s=30)
    held = asyncio.create_task(api(fake, "GET", "/users/@me"))
    await fake.wait_for(lambda: fake.calls)
    started = time.monotonic()
    await fake.stop()
    assert time.monotonic() - started < 5
    assert (await held)[0] == 503


async def test_hold_stalls_the_bot(env: Env) -> None:
    channel = text_channel(env)
    env.fake.inject_fault("POST", rf"/channels/{CHANNEL}/messages$", status=None, hold_s=0.5)
    task = asyncio.create_task(channel.send("held"))
    await asyncio.sleep(0.3)
    assert not task.done() and env.fake.channel_messages() == []
    msg = await task
    assert env.fake.messages[msg.id].content == "held"


# -- interaction token lifetimes -----------------------------------------------------------------


async def test_late_initial_response_gets_unknown_interaction(env: Env) -> None:
    fake = env.fake
    fake.initial_response_s = 0.3
    outcome: list[Any] = []

    @app_commands.command(description="slow")
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.6)
        try:
            await interaction.response.send_message("too late")
        except discord.NotFound as exc:
            outcome.append(exc)

    await add_guild_command(env, slow)
    inter = await fake.slash("slow")
    await fake.wait_for(lambda: outcome)
    assert outcome[0].code == 10062 and outcome[0].text == "Unknown interaction"
    assert inter.late and inter.response_type is None and not inter.responded.is_set()
    quick = await fake.slash("echo", options={"text": "quick", "n": 1, "flag": True})
    await quick.wait_response()  # within the limit
    assert fake.violations == [] and "10062" in fake.dump()


async def test_expired_interaction_token_gets_unknown_webhook(env: Env) -> None:
    fake = env.fake
    fake.interaction_token_ttl_s = 0.4
    outcome: list[Any] = []

    @app_commands.command(description="very slow")
    async def glacial(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await asyncio.sleep(0.6)
        try:
            await interaction.followup.send("finally")
        except discord.NotFound as exc:
            outcome.append(exc)

    await add_guild_command(env, glacial)
    inter = await fake.slash("glacial")
    await fake.wait_for(lambda: outcome)
    assert outcome[0].code == 10015 and outcome[0].text == "Unknown Webhook"
    assert inter.followups == [] and inter.message is not None and inter.message.loading

    echo = await fake.slash("echo", options={"text": "e", "n": 1, "flag": True})
    await echo.wait_response()
    status, data, _ = await api(fake, "GET", f"/webhooks/333/{echo.token}/messages/@original")
    assert status == 200 and data["content"] == "e|1|True|None"
    await asyncio.sleep(0.5)
    status, data, _ = await api(fake, "PATCH", f"/webhooks/333/{echo.token}/messages/@original", {"content": "x"})
    assert (status, data["code"]) == (404, 10015)
    assert echo.content == "e|1|True|None"


# -- violations -----------------------------------------------------------------------------------


async def test_violations_fail_assert_clean_even_when_the_bot_swallows_them(env: Env) -> None:
    fake = env.fake
    channel = text_channel(env)
    with contextlib.suppress(discord.HTTPException):  # a careless bot swallowing the error
        await channel.send(embed=discord.Embed(description="d" * 4097))
    [violation] = fake.violations
    assert violation == Violation(
        "POST",
        f"/channels/{CHANNEL}/messages",
        {"embeds": {"0": {"description": form_error("BASE_TYPE_MAX_LENGTH", "Must be 4096 or fewer in length.")}}},
    )
    with pytest.raises(AssertionError, match=r"embeds\.0\.description: Must be 4096 or fewer"):
        fake.assert_clean()
    assert "embeds.0.description" in fake.dump()
    fake.expect_violations = True
    fake.assert_clean()
    fake.expect_violations = False
    fake.violations.clear()
    fake.assert_clean()


async def test_enforce_nonce_returns_the_message_already_made(fake: FakeDiscord) -> None:
    route = f"/channels/{CHANNEL}/messages"
    status, first, _ = await api(fake, "POST", route, {"content": "a", "nonce": "mj7", "enforce_nonce": True})
    assert status == 200
    status, again, _ = await api(fake, "POST", route, {"content": "a", "nonce": "mj7", "enforce_nonce": True})
    assert status == 200 and again["id"] == first["id"]
    # without enforce_nonce, or with another nonce, a new message is made
    status, other, _ = await api(fake, "POST", route, {"content": "a", "nonce": "mj7"})
    assert other["id"] != first["id"]
    status, other, _ = await api(fake, "POST", route, {"content": "a", "nonce": "mj8", "enforce_nonce": True})
    assert other["id"] != first["id"]
    status, data, _ = await api(fake, "POST", route, {"content": "a", "nonce": "n" * 26, "enforce_nonce": True})
    assert status == 400 and "nonce" in data["errors"]
    fake.violations.clear()
