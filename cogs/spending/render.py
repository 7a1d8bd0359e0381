"""The screens of /usage, /info and /limits: pure functions from figures to the text a member reads."""

from __future__ import annotations

from bot.core.launcher import message_link
from bot.core.limits import Limits, until_reset
from bot.core.usage import ServerUsage, Usage, left_today
from bot.storage.jobs import JobRecord, Spend
from bot.ui.screens import cut, safe_text

JOBS_LISTED = 10


def _points(s: Spend) -> str:
    return f"**{s.points}** points ({s.jobs} job{'s' if s.jobs != 1 else ''})"


def _limit(value: int) -> str:
    return f"{value} points" if value else "no limit"


def _job_line(job: JobRecord) -> str:
    what = safe_text(job.prompt or job.action, 60) or job.action
    link = message_link(job)
    if job.queued:
        state = f"queued, position {job.queue_position}" if job.queue_position else "queued"
    else:
        state = "running" if job.status == "processing" else "waiting to start"
    return f"- {what} ({state}, {job.reserved_points or job.frozen_points} points)" + (f" {link}" if link else "")


def _jobs(title: str, jobs: list[JobRecord]) -> list[str]:
    if not jobs:
        return []
    lines = [f"**{title}** ({len(jobs)})"] + [_job_line(j) for j in jobs[:JOBS_LISTED]]
    if len(jobs) > JOBS_LISTED:
        lines.append(f"- and {len(jobs) - JOBS_LISTED} more")
    return lines


def usage_text(who: str, usage: Usage, server: ServerUsage | None, now: float) -> str:
    """/usage: `who` is "Your" or a mention's possessive."""
    lines = [f"**{who} usage** (UTC days; resets {until_reset(now)})",
             f"Today: {_points(usage.today)}", f"Last 7 days: {_points(usage.week)}",
             f"All time: {_points(usage.total)}"]
    lines += _jobs("Running", usage.running) + _jobs("Queued", usage.queued)
    if server is not None:
        lines += ["", "**This server**", f"Today: {_points(server.today)}", f"Last 7 days: {_points(server.week)}",
                  f"All time: {_points(server.total)}"]
        if server.top_today:
            lines.append("Top today: " + ", ".join(f"<@{m}> {p}" for m, p in server.top_today))
        if server.top_week:
            lines.append("Top, last 7 days: " + ", ".join(f"<@{m}> {p}" for m, p in server.top_week))
    return cut("\n".join(lines))


def info_text(usage: Usage, server_today: Spend, limits: Limits, now: float) -> str:
    """/info: the member's jobs, and today's spend against their limits."""
    mine, whole = left_today(limits, usage.today, server_today)
    lines = ["**Your jobs**"]
    jobs = _jobs("Running", usage.running) + _jobs("Queued", usage.queued)
    lines += jobs or ["Nothing running or queued."]
    lines += [
        "",
        f"**Today** (resets at midnight UTC, {until_reset(now)})",
        f"You: {usage.today.points} points of {_limit(limits.member_daily_points)}"
        + (f" ({mine} left)" if mine is not None else ""),
        f"This server: {server_today.points} points of {_limit(limits.server_daily_points)}"
        + (f" ({whole} left)" if whole is not None else ""),
        f"At once: {len(usage.running)} of {limits.running_per_member} running, "
        f"{len(usage.queued)} of {limits.queued_per_member} queued",
    ]
    if limits.paused:
        lines.append("New jobs are **paused** in this server by the moderators.")
    return cut("\n".join(lines))


def limits_text(limits: Limits, changed: list[str] | None = None) -> str:
    """/limits: this server's limits (with what was just changed)."""
    roles = ", ".join(f"<@&{r}>" for r in sorted(limits.allowed_role_ids)) or "everyone"
    channels = ", ".join(f"<#{c}>" for c in sorted(limits.allowed_channel_ids)) or "every channel"
    words = f"{len(limits.banned_words)} (from the config file)" if limits.banned_words else "none"
    head = f"**Limits changed**: {', '.join(changed)}" if changed else "**This server's limits**"
    lines = [
        head,
        f"running_per_member: **{limits.running_per_member}** (a member's jobs at the API at once)",
        f"queued_per_member: **{limits.queued_per_member}** (a member's jobs waiting in the queue)",
        f"member_daily_points: **{_limit(limits.member_daily_points)}** (per member per UTC day)",
        f"server_daily_points: **{_limit(limits.server_daily_points)}** (per UTC day)",
        f"paused: **{'yes' if limits.paused else 'no'}**",
        f"Allowed roles: {roles} · Allowed channels: {channels} · Banned words: {words}",
    ]
    return cut("\n".join(lines))
