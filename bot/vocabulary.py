"""The job vocabulary, written once: statuses, task families (expected duration, time-out, cost), the follow-up
window and the zoom range. Everything else imports these names; nothing re-types them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class JobStatus(StrEnum):
    """A job's status in the bot's records (the API's, plus the bot's own `submitting` and `unknown`)."""

    QUEUED = "queued"  # recorded and budgeted, waiting in the bot's own fair queue (nothing sent yet)
    SUBMITTING = "submitting"  # recorded, the submit is on its way
    PENDING = "pending"
    STAGED = "staged"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the submit may or may not have reached the API; never resent
    CANCELLED = "cancelled"  # taken out of the queue before it was sent: it cost nothing


# jobs the bot has sent, or is sending: what `legnext.concurrency` and a member's `running_per_member` count
ACTIVE: tuple[JobStatus, ...] = (JobStatus.SUBMITTING, JobStatus.PENDING, JobStatus.STAGED, JobStatus.PROCESSING)
UNFINISHED: tuple[JobStatus, ...] = (JobStatus.QUEUED, *ACTIVE)
FINISHED: tuple[JobStatus, ...] = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.UNKNOWN, JobStatus.CANCELLED)
WAITING: tuple[JobStatus, ...] = (JobStatus.SUBMITTING, JobStatus.PENDING, JobStatus.STAGED)
# statuses the API reports for a job it still has
API_RUNNING: tuple[JobStatus, ...] = (JobStatus.PENDING, JobStatus.STAGED, JobStatus.PROCESSING)


def sql_list(statuses: tuple[JobStatus, ...]) -> str:
    """`('a', 'b')` for an SQL `IN`: the values are this module's constants, never input."""
    return "(" + ", ".join(f"'{s.value}'" for s in statuses) + ")"


class Family(StrEnum):
    """Kinds of task with their own time-out (`jobs.timeout_<family>_s`)."""

    IMAGE = "image"
    TEXT = "text"
    VIDEO = "video"


@dataclass(frozen=True)
class Task:
    """One API task type: its family, how long it typically runs, and the points it reserves (fast mode)."""

    name: str
    family: Family
    expected_s: float
    cost: int


# Typical durations (legnext-notes.md) aim the tracker's polls; costs are the notes' cost table (fast mode).
TASKS: dict[str, Task] = {t.name: t for t in (
    Task("diffusion", Family.IMAGE, 40, 80),
    Task("variation", Family.IMAGE, 45, 120),
    Task("reroll", Family.IMAGE, 40, 80),
    Task("blend", Family.IMAGE, 45, 80),
    Task("remix", Family.IMAGE, 50, 120),
    Task("edit", Family.IMAGE, 60, 120),
    Task("upscale", Family.IMAGE, 60, 120),
    Task("pan", Family.IMAGE, 90, 80),
    Task("outpaint", Family.IMAGE, 90, 80),
    Task("inpaint", Family.IMAGE, 90, 80),
    Task("enhance", Family.IMAGE, 45, 80),
    Task("retexture", Family.IMAGE, 60, 80),
    Task("remove_background", Family.IMAGE, 20, 80),
    Task("upload_paint", Family.IMAGE, 60, 80),
    Task("enhance_upscale", Family.IMAGE, 60, 120),
    Task("describe", Family.TEXT, 8, 20),
    Task("shorten", Family.TEXT, 6, 20),
    Task("video_diffusion", Family.VIDEO, 180, 480),
    Task("extend_video", Family.VIDEO, 180, 480),
    Task("video_upscale", Family.VIDEO, 300, 480),
)}
DEFAULT_EXPECTED_S = 60.0


def task(name: str) -> Task:
    """The task named `name`; an unknown one (a new API task) counts as a one-minute image task."""
    return TASKS.get(name) or Task(name, Family.IMAGE, DEFAULT_EXPECTED_S, 0)


# Results that are a grid of four images (their buttons: U1-U4, V1-V4, reroll), single upscaled images, videos.
GRID_TASKS = frozenset({"diffusion", "variation", "reroll", "blend", "pan", "outpaint", "inpaint", "remix", "edit"})
UPSCALE_TASKS = frozenset({"upscale"})
VIDEO_TASKS = frozenset(name for name, t in TASKS.items() if t.family is Family.VIDEO)
TEXT_TASKS = frozenset(name for name, t in TASKS.items() if t.family is Family.TEXT)

GRID_SIZE = 4  # images in a grid: every button's image number is below this

# Legnext's follow-up window (docs: "Operation Validity ... 3 days").
FOLLOW_UP_WINDOW_S = 3 * 24 * 3600

# Custom Zoom's scale (the API's outpaint scale).
ZOOM_MIN, ZOOM_MAX = 1.1, 2.0
