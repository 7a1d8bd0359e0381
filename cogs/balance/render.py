"""What /balance shows. Pure: from the API's balance data and the bot's alert settings to one ephemeral text.

What the account can spend is its credits plus its (bonus) points, both in thousandths of a dollar (the docs'
example: $72.048 = 71,000 credits + 1,048 points); jobs cost points at 1,000 per USD. What it buys and the bot's
low-balance alert are reckoned on that sum, the "spendable points"; both figures are shown too."""

from __future__ import annotations

from bot.core.alerts import buys_text
from bot.legnext.models import BalanceData

NOT_A_MODERATOR = ("Only moderators can see the Legnext balance (Manage Server permission, or a moderator role set "
                   "by the bot's operator).")
UNKNOWN = "unknown (not in Legnext's answer)"


def _figure(n: int | None) -> str:
    return UNKNOWN if n is None else f"**{n:,}**"


def balance_text(d: BalanceData, *, alert_points: int, alert_channel_id: int) -> str:
    threshold = f" (Legnext's threshold: ${d.alert_threshold:,.2f})" if d.alert_threshold is not None else ""
    legnext_alert = ("**on**: the balance is below Legnext's own alert threshold" if d.low_balance_alert
                     else "off") + threshold
    if alert_points <= 0:
        ours = "The bot's low-balance alert is off (moderation.balance_alert_points = 0)."
    elif alert_channel_id:
        ours = f"The bot alerts <#{alert_channel_id}> when spendable points fall below {alert_points:,}."
    else:
        ours = (f"The bot notes in its log when spendable points fall below {alert_points:,} "
                "(no moderation.alert_channel_id to post in).")
    spendable = d.spendable_points
    if spendable is None:
        buys = "What the balance buys can't be worked out: Legnext's answer didn't hold both figures."
    else:
        buys = f"At the cost table, {spendable:,} spendable points buy {buys_text(spendable)}."
    return "\n".join([
        "**Legnext balance**",
        f"Balance: {UNKNOWN if d.balance_usd is None else f'**${d.balance_usd:,.2f}**'}",
        f"Available credits: {_figure(d.available_credits)}",
        f"Available points: {_figure(d.available_points)}",
        f"Spendable points (credits + points): {_figure(spendable)}",
        f"Low-balance alert at Legnext: {legnext_alert}",
        buys,
        ours,
    ])
