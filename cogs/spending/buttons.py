"""The queue's `Cancel` button, under every queued job whatever its feature (`bot.ui.screens` draws it).
Custom id: `mj:v1:cancel:q<local job id>:0` (a queued job has no Legnext id yet)."""

from __future__ import annotations

from bot.ui.items import FeatureButton

COG_NAME = "Spending"
CANCEL = "cancel"


class CancelButton(FeatureButton, actions=CANCEL):
    cog_name = COG_NAME


DYNAMIC_ITEMS = (CancelButton,)
