"""/video and the buttons under its clips: the Discord side of the feature.

/video's attachments are checked before any call (`bot.core.sources`), its prompt by the video model's rules
(`bot.core.prompt.check_video_prompt`), and the answer states the price (`bot.core.costs`). A clip's `Extend` and
`Upscale` buttons start follow-ups through the core's one launcher: a double press starts one job, and `Extend` stops
after four extensions along the video's lineage (its `parent_job_id` chain). Results are shown with the bot token
(the presenter), so a video that takes longer than an interaction token lives is still delivered.
"""

from __future__ import annotations

from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import NotAvailable, OutcomeUnknownAgain
from bot.core.launcher import Confirm, Launch, Launcher
from bot.core.sources import Attachment, check_image
from bot.storage.jobs import JobRecord, JobRepo
from bot.ui.answers import start_job
from bot.ui.custom_ids import CustomId
from bot.ui.errors import Reporter
from bot.ui.members import member_of, where_of
from cogs.video.buttons import AGAIN, COG_NAME, button
from cogs.video.rules import BY_CODE, PRESSES, VideoAsk, press_launch, price_text, video_plan

PROMPT_MAX = 6000  # Discord refuses a string option with max_length over 6000
DESCRIBES = "Video"  # the words after the prompt in the job's message
LINEAGE_MAX = 64  # a parent chain longer than this is not a real one (a loop): stop walking


class Video(commands.Cog, name=COG_NAME):
    def __init__(self, *, launcher: Launcher, jobs: JobRepo, reporter: Reporter, max_image_mb: float,
                 moderator_role_ids: list[int]) -> None:
        self.launcher = launcher
        self.jobs = jobs
        self.reporter = reporter
        self.max_bytes = int(max_image_mb * 1024 * 1024)
        self.moderator_role_ids = moderator_role_ids

    # ------------------------------------------------------------------------------------------------ /video

    @app_commands.command(name="video", description="Make short videos from a start image with Midjourney")
    @app_commands.describe(
        prompt="How it should move, with video --flags inline (--motion, --loop, --end, --bs, --raw)",
        image="The start frame (PNG, JPEG, WebP or GIF); or start the prompt with a link to one",
        motion="Low: subtle movement (the default); high: large camera and subject movement",
        resolution="480p (the default) or 720p, which costs about three times as much",
        loop="End on the start frame, for a seamless loop",
        end_image="The frame the video should end on",
        batch="How many clips to make (default 4); each clip costs a quarter of four",
    )
    @app_commands.guild_only()
    async def video(self, interaction: discord.Interaction[Any], prompt: app_commands.Range[str, 1, PROMPT_MAX],
                    image: discord.Attachment | None = None, motion: Literal["low", "high"] | None = None,
                    resolution: Literal["480p", "720p"] | None = None, loop: bool | None = None,
                    end_image: discord.Attachment | None = None, batch: Literal[1, 2, 4] | None = None) -> None:
        member = member_of(interaction, self.moderator_role_ids)
        where = where_of(interaction)
        self.launcher.check_channel(where)  # nothing could be shown here: say so before judging the rest
        start = self._image(image, "image")
        end = self._image(end_image, "end_image")
        plan = video_plan(VideoAsk(
            prompt=prompt, image_url=start, image_name=image.filename if image is not None else None,
            motion=motion, resolution=resolution, loop=loop, end_url=end,
            end_name=end_image.filename if end_image is not None else None, batch=batch,
        ))
        what = Launch(request=plan.request(), action="video", prompt=plan.shown, extra={
            "describes": DESCRIBES, "model": "video", "resolution": plan.resolution, "extensions": 0,
            "upload_limit": interaction.filesize_limit,
        })
        await start_job(interaction, self.launcher, what, member, where, note=price_text(plan))

    def _image(self, attachment: discord.Attachment | None, option: str) -> str | None:
        """An uploaded frame's URL, exactly as Discord gave it (its signed query string intact), once checked."""
        if attachment is None:
            return None
        return check_image(Attachment(attachment.filename, attachment.content_type, attachment.size,
                                      attachment.url), max_bytes=self.max_bytes, option=option)

    # ------------------------------------------------------------------------------------------------ buttons

    async def on_component(self, interaction: discord.Interaction[Any], cid: CustomId, values: list[str]) -> None:
        """A press of a clip's button (`buttons.VideoButton`)."""
        try:
            if cid.action == AGAIN:
                press = BY_CODE.get(cid.extra or "")
                if press is None:
                    raise NotAvailable("That button is no longer supported.")
                await self._press(interaction, CustomId(press.action, cid.job_id, cid.index), again=True)
            elif cid.action in PRESSES:
                await self._press(interaction, cid)
            else:
                raise NotAvailable("That button is no longer supported.")
        except Exception as e:
            confirm = isinstance(e, OutcomeUnknownAgain) and e.confirmable
            await self.reporter.report(interaction, e, self._confirm_view(e) if confirm else None)

    @staticmethod
    def _confirm_view(e: BaseException) -> discord.ui.View:
        assert isinstance(e, OutcomeUnknownAgain)
        view = discord.ui.View(timeout=None)
        press = PRESSES.get(e.action)
        if press is not None:
            view.add_item(button(CustomId(AGAIN, e.job_id, e.index, press.code),
                                 "Run it again (may be charged twice)", row=0, style=discord.ButtonStyle.danger))
        return view

    async def _press(self, interaction: discord.Interaction[Any], cid: CustomId, *, again: bool = False) -> None:
        member = member_of(interaction, self.moderator_role_ids)
        reply_to = interaction.message.id if interaction.message is not None else None
        if again:  # the confirmation is an ephemeral message: the result replies to the video's own message
            video = await self.jobs.by_job_id(cid.job_id)
            reply_to = video.message_id if video is not None and video.guild_id == interaction.guild_id else None
        where = where_of(interaction, reply_to)
        self.launcher.check_channel(where)
        if not again:
            existing = await self.launcher.existing(f"{cid.action}:{cid.job_id}:{cid.index}")
            if existing is not None:  # a double press: the first one's link, nothing new
                if existing.message_id is None and not existing.finished:
                    await interaction.response.defer(ephemeral=True, thinking=True)
                    existing = await self.launcher.wait_for_message(existing)
                raise self.launcher.refuse_existing(existing, Confirm(cid.action, cid.job_id, cid.index))
        source = await self.launcher.follow_up_source(cid.job_id, member, guild_id=interaction.guild_id)
        what = press_launch(cid.action, source, cid.index, await self.lineage_extensions(source),
                            upload_limit=interaction.filesize_limit, again_after_unknown=again)
        await start_job(interaction, self.launcher, what, member, where)

    async def lineage_extensions(self, job: JobRecord) -> int:
        """How many times the video `job` shows was extended: its `extend_video` ancestors along `parent_job_id`,
        itself included (at least what was recorded with it when it started)."""
        count = 0
        seen: set[str] = set()
        current: JobRecord | None = job
        while (current is not None and current.task_type == "extend_video" and current.job_id not in seen
               and count < LINEAGE_MAX):
            seen.add(str(current.job_id))
            count += 1
            current = await self.jobs.by_job_id(current.parent_job_id) if current.parent_job_id else None
        recorded = job.extra.get("extensions")
        if isinstance(recorded, int) and not isinstance(recorded, bool):
            count = max(count, recorded)
        return count

