"""The one owner of the persistent custom_id format: `mj:v1:<action>:<job_id>:<index>[:<extra>]`.

`job_id` is the Legnext job the follow-up call is made on (the grid job, also for buttons under an upscaled image),
`index` the 0-based image or video number, `extra` a short action-specific value (e.g. the regions picked for
Vary (Region)). At most 100 characters, as Discord allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "mj:v1"
MAX_LEN = 100
ACTION_RE = r"[a-z][a-z0-9_]{0,23}"
JOB_RE = r"[A-Za-z0-9-]{1,64}"
EXTRA_RE = r"[A-Za-z0-9._-]{1,16}"
TEMPLATE = rf"mj:v1:(?P<action>{ACTION_RE}):(?P<job>{JOB_RE}):(?P<index>[0-9]{{1,2}})(?::(?P<extra>{EXTRA_RE}))?"
PATTERN = re.compile(TEMPLATE)


def template_for(action_re: str) -> str:
    """The custom_id template of one `DynamicItem` class: the same format, limited to the actions `action_re`
    matches. Each feature registers its own items; their action patterns must not overlap (select menus use
    actions that start with `sel_`, buttons never do)."""
    return TEMPLATE.replace(f"(?P<action>{ACTION_RE})", f"(?P<action>{action_re})")


@dataclass(frozen=True)
class CustomId:
    action: str
    job_id: str
    index: int = 0
    extra: str | None = None

    def __str__(self) -> str:
        return format_id(self.action, self.job_id, self.index, self.extra)


def format_id(action: str, job_id: str, index: int = 0, extra: str | None = None) -> str:
    value = f"{PREFIX}:{action}:{job_id}:{index}" + (f":{extra}" if extra else "")
    if len(value) > MAX_LEN or not PATTERN.fullmatch(value):
        raise ValueError(f"not a valid custom_id: {value!r}")
    return value


def parse_id(value: str) -> CustomId | None:
    m = PATTERN.fullmatch(value)
    if m is None:
        return None
    return CustomId(m["action"], m["job"], int(m["index"]), m["extra"])
