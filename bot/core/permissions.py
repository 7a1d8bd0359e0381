"""What the bot needs in a channel to show a job there, checked before anything is spent. No Discord here: the
permission set is the integer Discord sends as an interaction's `app_permissions`."""

from __future__ import annotations

VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
SEND_MESSAGES_IN_THREADS = 1 << 38
ADMINISTRATOR = 1 << 3

NAMES = {
    VIEW_CHANNEL: "View Channel",
    SEND_MESSAGES: "Send Messages",
    SEND_MESSAGES_IN_THREADS: "Send Messages in Threads",
    EMBED_LINKS: "Embed Links",
    ATTACH_FILES: "Attach Files",
    READ_MESSAGE_HISTORY: "Read Message History",
}


def missing_for_results(permissions: int, *, in_thread: bool, attach_files: bool = True,
                        replies: bool = False) -> list[str]:
    """Names of the permissions the bot lacks to post and finish a job message in that channel, in Discord's
    wording (empty when nothing is missing). A reply to another message needs Read Message History."""
    if permissions & ADMINISTRATOR:
        return []
    needed = [VIEW_CHANNEL, SEND_MESSAGES_IN_THREADS if in_thread else SEND_MESSAGES, EMBED_LINKS]
    if attach_files:
        needed.append(ATTACH_FILES)
    if replies:
        needed.append(READ_MESSAGE_HISTORY)
    return [NAMES[bit] for bit in needed if not permissions & bit]
