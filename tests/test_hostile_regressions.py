"""Defects a hostile-member attack found, pinned: SSRF through WHATWG URL forms, masked links after the first, a JSON
bomb on the callback, a forged button naming another server's job."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.core.errors import BadInput
from bot.core.sources import check_link
from bot.web.server import CALLBACK_PREFIX
from tests.harness import harness
from tests.test_describe_e2e import posts, refused
from tests.test_web import free_port, http, web_sections


# 1. SSRF: forms that WHATWG URL parsers (Node fetch/undici, browsers, Chrome-based fetchers) read as a local host.
#    node -e 'new URL("http://169.254.169.254\\latest").hostname'  -> 169.254.169.254
#    node -e 'new URL("http://%31%32%37.0.0.1/").hostname'         -> 127.0.0.1
@pytest.mark.parametrize("url", ["http://169.254.169.254\\latest\\meta-data\\",
                                 "http://127.0.0.1\\.example.com/x.png",
                                 "http://%31%32%37.0.0.1/x.png",
                                 "http://%31%36%39.254.169.254/latest/meta-data/"])
def test_link_to_a_local_host_in_whatwg_forms_is_refused(url: str) -> None:
    with pytest.raises(BadInput):
        check_link(url)


async def test_metadata_link_with_backslashes_is_not_sent_to_legnext(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await refused(h, link="http://169.254.169.254\\latest\\meta-data\\iam\\security-credentials\\")
        assert posts(h) == []  # observed: POST /v1/describe {"imgUrl": "http://169.254.169.254\\latest..."}


# 2. A nested-JSON body on the callback path: RecursionError escapes the handler -> 500 + aiohttp ERROR log.
async def test_callback_json_bomb_is_a_400_not_a_500(tmp_path: Path) -> None:
    port = free_port()
    async with harness(tmp_path, web=web_sections(port)) as h:
        url = f"http://127.0.0.1:{port}{CALLBACK_PREFIX}{h.bot.callback_token}"
        status, _ = await http("POST", url, data=b"[" * 200_000)
        assert status == 400  # observed: 500, "ERROR aiohttp.server: Error handling request"


# 3. Masked links survive safe_text when a text holds two: escape_markdown's `\[.+\]\(.+\)` is greedy, so only the
#    first `[` gets a backslash and every later `[label](url)` renders as a clickable masked link in the bot's message.
async def test_second_masked_link_in_a_prompt_is_escaped(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        inter = await h.imagine("a cat [a](https://a.example) [Free Nitro](https://evil.example/phish)")
        assert (await inter.wait_done()).content.startswith("Started: ")
        msg = await h.result()
        shown = msg.content + " ".join(e.get("description") or "" for e in msg.embeds)
        assert not re.search(r"(?<!\\)\[Free Nitro\]\(https://evil", shown), shown


async def test_a_button_naming_another_servers_job_is_refused(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        inter = await h.imagine("a secret garden")
        assert (await inter.wait_done()).content.startswith("Started: ")
        grid = await h.result(lambda m: "secret garden" in m.content and bool(m.buttons()))
        (job,) = await h.bot.jobs_repo.all()
        # the job belongs to another server (its id is all a forged button there needs)
        await h.bot.jobs_repo.db.execute("UPDATE jobs SET guild_id = ? WHERE id = ?", (999_999, job.id))
        press = await h.fake.click(grid.id, "U1")
        assert "no finished job" in (await press.wait_done()).content
        assert h.sim.count("POST", "/v1/upscale") == 0
