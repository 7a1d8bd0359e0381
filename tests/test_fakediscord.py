"""Tests of the fake Discord server, driven by a tiny throwaway discord.py bot."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import (
    ErrorLogCollector,
    FakeDiscord,
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
    with pytest.raises(discord.NotFound):
        await channel.fetch_message(12345)
    msg = await channel.send("keep")
    fetched = await channel.fetch_message(msg.id)
    assert fetched.content == "keep"
    await msg.delete()
    assert env.fake.messages[msg.id].deleted
    assert env.fake.channel_messages() == []
