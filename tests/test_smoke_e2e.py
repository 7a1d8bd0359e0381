from __future__ import annotations

from pathlib import Path

from tests.harness import GUILD, harness


async def test_imagine_grid_then_upscale(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        assert {c["name"] for c in h.fake.registered_commands[GUILD]} >= {"imagine", "settings"}
        inter = await h.imagine("a red fox in the snow --ar 3:2")
        print(inter.response_type, inter.content)
        msg = await h.result()
        print(msg.content, msg.labels(), msg.filenames, msg.embeds)
        click = await h.fake.click(msg.id, "U2")
        await click.wait_response()
        up = await h.result(lambda m: m.id != msg.id)
        print(up.content, up.labels())
