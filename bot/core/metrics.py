"""The bot's counters, in one object shared by the tracker, delivery and the presenter (read by the benchmark, and
later by /metrics)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Metrics:
    status_reads: int = 0  # job status reads made to the API
    messages_posted: int = 0  # job messages posted to Discord
    messages_edited: int = 0  # job messages edited
    delivery_attempts: int = 0  # attempts to show a finished job
    delivered: int = 0  # finished jobs Discord accepted
    given_up: int = 0  # finished jobs that can never be shown
