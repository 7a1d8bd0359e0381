"""What /balance shows. Pure: from the API's balance data and the bot's alert settings to one ephemeral text."""

from __future__ import annotations

from bot.core.alerts import buys_text
from bot.legnext.models import BalanceData

NOT_A_MODERATOR = ("Only moderators can see the Legnext balance (Manage Server permission, or a moderator role set "
                   "by the bot's operator).")


def balance_text(d: BalanceData, *, alert_points: int, alert_channel_id: int) -> str:
    threshold = f" (Legnext's threshold: ${d.alert_threshold:,.2f})" if d.alert_threshold is not None else ""
    legnext_alert = ("**on**: the balance is below Legnext's own alert threshold" if d.low_balance_alert
                     else "off") + threshold
    if alert_points <= 0:
        ours = "The bot's low-balance alert is off (moderation.balance_alert_points = 0)."
    elif alert_channel_id:
        ours = f"The bot alerts <#{alert_channel_id}> when available points fall below {alert_points:,}."
    else:
        ours = (f"The bot notes in its log when available points fall below {alert_points:,} "
                "(no moderation.alert_channel_id to post in).")
    return "\n".join([
        "**Legnext balance**",
        f"Balance: **${d.balance_usd:,.2f}**",
        f"Available credits: **{d.available_credits:,}**",
        f"Available points: **{d.available_points:,}**",
        f"Low-balance alert at Legnext: {legnext_alert}",
        f"At the cost table, {d.available_points:,} points buy {buys_text(d.available_points)}.",
        ours,
    ])
