"""Response models of bot.legnext.models: property tests over everything the docs allow, and documented examples."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.legnext.models import (
    Balance,
    BalanceData,
    ErrorBody,
    Job,
    JobConfig,
    JobError,
    JobMeta,
    JobOutput,
    Usage,
    WebhookConfig,
)

ZERO = "0001-01-01T00:00:00Z"
STATUSES = ["pending", "staged", "processing", "completed", "failed"]
TASK_TYPES = [
    "diffusion", "variation", "upscale", "reroll", "blend", "describe", "shorten", "pan", "outpaint", "inpaint",
    "remix", "edit", "upload_paint", "retexture", "remove_background", "enhance", "video_diffusion", "extend_video",
    "video_upscale", "enhance_upscale", "",
]
ACTIONS = ["edit", "inpaint", "outpaint", "pan", "remix", "reroll", "upscale", "variation", "enhance", "extend"]

PROFILE = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------------------------------------ strategies

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
)
# json.loads (and so httpx's resp.json()) also accepts NaN and Infinity
scalars_nan = scalars | st.sampled_from([float("nan"), float("inf"), float("-inf"), 10**400, -(10**30)])
json_values = st.recursive(
    scalars_nan,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
# keys that could collide with pydantic or with our properties
odd_keys = st.sampled_from(
    ["model_config", "model_fields", "usage", "running", "failed", "completed", "error_text", "text", "images",
     "__dict__", "__class__", "copy", "dict", "json", "schema", "fields", "_private", "model_extra"]
)
extra_keys = st.dictionaries(st.text(max_size=10) | odd_keys, json_values, max_size=3)

aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]),
)


@st.composite
def iso_time(draw: st.DrawFn) -> tuple[str, datetime]:
    moment = draw(aware).replace(microsecond=0)
    style = draw(st.sampled_from(["Z", "offset", "nanos"]))
    if style == "Z":
        moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment
    if style == "offset":
        return moment.isoformat(), moment
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ".123456789Z", moment.replace(microsecond=123456)


garbage_times = st.sampled_from(["yesterday", "2025-13-45T99:99:99Z", "0", "null", "T", "2025-10-14 02:22"]) | st.text(
    alphabet=string.ascii_letters + string.digits + ":-TZ+ ", max_size=25
)
timestamps = st.sampled_from(["", ZERO, "0001-01-01T00:00:00+00:00"]) | iso_time().map(lambda t: t[0]) | garbage_times


def with_extra(base: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda b, e: {**e, **b}, base, extra_keys)


urls = st.builds(lambda n: f"https://cdn.legnext.ai/mj/{n}.png", st.integers(0, 10**9))
seeds = st.integers(0, 4294967295) | st.integers(0, 4294967295).map(str) | st.just("")
actions = st.dictionaries(
    st.sampled_from(ACTIONS) | st.text(max_size=8),
    st.lists(st.integers(0, 3), max_size=4, unique=True) | st.booleans(),
    max_size=6,
)

skeletons = st.sampled_from([
    {"image_url": "", "image_urls": None, "seed": ""},
    {"video_urls": None, "seed": ""},
    {"promptEn": "", "description": "", "finalPrompt": "", "prompts": []},
])
grid_out = st.fixed_dictionaries(
    {"image_url": urls | st.just(""), "image_urls": st.lists(urls, min_size=4, max_size=4), "seed": seeds},
    optional={"available_actions": actions},
)
upscale_out = urls.flatmap(lambda u: st.fixed_dictionaries({"image_url": st.just(u), "image_urls": st.just([u]),
                                                             "seed": seeds}))
video_out = st.fixed_dictionaries(
    {"video_urls": st.lists(urls.map(lambda u: u.replace(".png", ".mp4")), min_size=1, max_size=4), "seed": seeds},
    optional={"available_actions": actions},
)
describe_out = st.lists(st.text(min_size=1, max_size=30), min_size=4, max_size=4).map(
    lambda ps: {"promptEn": "\n\n".join(f"{i + 1}\ufe0f\u20e3 {p}" for i, p in enumerate(ps)), "description": "",
                "finalPrompt": "", "prompts": ps}
)
shorten_out = st.lists(st.text(max_size=30), min_size=5, max_size=5).map(
    lambda ps: {"promptEn": "", "description": "The most influential words are: x.",
                "finalPrompt": "**Important tokens**\nx", "prompts": ps}
)
output_shapes = cast(
    "st.SearchStrategy[dict[str, Any]]",
    st.one_of(skeletons, grid_out, upscale_out, video_out, describe_out, shorten_out),
)
outputs = with_extra(output_shapes) | st.none()

usage = with_extra(st.fixed_dictionaries({
    "type": st.just("point") | st.text(max_size=5),
    "frozen": st.integers(0, 10_000) | st.integers(0, 10_000).map(str),
    "consume": st.integers(0, 10_000) | st.floats(0, 10_000),
}))
metas = with_extra(st.fixed_dictionaries(
    {"created_at": timestamps, "started_at": timestamps, "ended_at": timestamps, "usage": usage}
)) | st.none()
errors = with_extra(
    st.just({"code": 0, "raw_message": "", "message": "", "detail": None})
    | st.fixed_dictionaries({
        "code": st.sampled_from([400, 403, 500, 10001]) | st.integers(),
        "message": st.sampled_from(["task failed", "unknown error, please contact support"]) | st.text(max_size=30),
        "raw_message": st.text(max_size=30),
        "detail": json_values,
    })
)
configs = with_extra(st.fixed_dictionaries({
    "service_mode": st.sampled_from(["public", "private", ""]),
    "webhook_config": st.fixed_dictionaries({"endpoint": st.just("") | urls, "secret": st.just("")}),
}))


@st.composite
def documented_jobs(draw: st.DrawFn) -> dict[str, Any]:
    job: dict[str, Any] = {
        "job_id": draw(st.uuids().map(str) | st.just("")),
        "model": "midjourney",
        "task_type": draw(st.sampled_from(TASK_TYPES) | st.text(max_size=15)),
        "status": draw(st.sampled_from(STATUSES) | st.text(max_size=12)),
        "config": draw(configs),
        "input": None,
        "output": draw(outputs),
        "meta": draw(metas),
        "detail": None,
        "logs": [],
    }
    if draw(st.booleans()):
        job["error"] = draw(errors)
    # any documented key may also be missing
    for key in draw(st.sets(st.sampled_from(sorted(job)), max_size=3)):
        del job[key]
    return {**draw(extra_keys), **job}


# ------------------------------------------------------------------------------------------------ properties


def check_status_consistency(raw: dict[str, Any], job: Job) -> None:
    assert job.running != job.finished
    assert job.finished == (job.completed or job.failed)
    assert not (job.completed and job.failed)
    status = raw.get("status")
    normalized = "" if status is None else str(status).strip().lower()
    assert job.failed == (normalized == "failed")
    assert job.completed == (normalized == "completed")
    if normalized in ("pending", "staged", "processing"):
        assert job.running


@PROFILE
@given(documented_jobs())
def test_documented_job_shapes_always_parse(raw: dict[str, Any]) -> None:
    job = Job.model_validate(raw)
    check_status_consistency(raw, job)
    # a round trip through real JSON text changes nothing
    assert Job.model_validate(json.loads(json.dumps(raw))).model_dump_json() == job.model_dump_json()

    out = raw.get("output")
    if isinstance(out, dict):
        assert job.output is not None
        urls_in = out.get("image_urls")
        assert job.output.images() == (urls_in or [])
        seed = out.get("seed")
        assert job.output.seed == (None if seed in ("", None) else str(seed))
        assert job.output.image_url == (out.get("image_url") or None)
        acts = out.get("available_actions")
        if isinstance(acts, dict):
            for name, value in acts.items():
                expected = {0} if value is True else (set(value) if isinstance(value, list) else set())
                assert job.output.action_indexes(name) == expected
        if out.get("prompts"):
            assert job.output.describe_prompts() == [p.strip() for p in out["prompts"] if p.strip()]
    else:
        assert job.output is None

    meta = raw.get("meta")
    if isinstance(meta, dict):
        assert job.meta is not None
        for key in ("created_at", "started_at", "ended_at"):
            value = getattr(job.meta, key)
            text = meta[key]
            if text in ("", ZERO) or text.startswith("0001-01-01"):
                assert value is None
            assert value is None or value.tzinfo is not None  # never naive: elapsed-time maths must work
        assert job.usage.frozen == int(float(meta["usage"]["frozen"]))
        assert job.usage.consume == int(meta["usage"]["consume"])
    else:
        assert job.meta is None
        assert job.usage == Usage()

    err = raw.get("error")
    if isinstance(err, dict):
        assert job.error is not None
        assert job.error_text == (str(err["raw_message"]) or str(err["message"]))
    else:
        assert job.error_text == ""


@PROFILE
@given(iso_time())
def test_valid_timestamps_parse_to_the_same_instant(pair: tuple[str, datetime]) -> None:
    text, moment = pair
    meta = JobMeta.model_validate({"created_at": text, "started_at": ZERO, "ended_at": ""})
    assert meta.created_at == moment
    assert meta.started_at is None and meta.ended_at is None


@PROFILE
@given(garbage_times)
def test_garbage_timestamps_do_not_crash(text: str) -> None:
    meta = JobMeta.model_validate({"created_at": text})
    assert meta.created_at is None or meta.created_at.tzinfo is not None


def test_naive_timestamps_are_taken_as_utc() -> None:
    meta = JobMeta.model_validate({"created_at": "2025-10-14T02:22:04", "started_at": "2025-10-14 02:22"})
    assert meta.created_at == datetime(2025, 10, 14, 2, 22, 4, tzinfo=UTC)
    assert meta.started_at == datetime(2025, 10, 14, 2, 22, tzinfo=UTC)
    assert datetime.now(UTC) - meta.created_at > timedelta(0)


def arbitrary_fields(model: type[Any], *extra: str) -> st.SearchStrategy[dict[str, Any]]:
    names = [f.alias or n for n, f in model.model_fields.items()] + list(extra)
    return st.fixed_dictionaries({}, optional={n: json_values for n in names})


@PROFILE
@given(arbitrary_fields(Job), extra_keys)
def test_job_with_arbitrary_json_values_parses(raw: dict[str, Any], extra: dict[str, Any]) -> None:
    raw = {**extra, **raw}
    job = Job.model_validate(raw)
    check_status_consistency(raw, job)
    assert isinstance(job.job_id, str) and isinstance(job.task_type, str)
    assert isinstance(job.error_text, str) and isinstance(job.usage.frozen, int)


@st.composite
def nested_arbitrary(draw: st.DrawFn) -> dict[str, Any]:
    """Documented keys everywhere, arbitrary JSON in each leaf (where most validators live)."""
    return {
        "job_id": draw(json_values),
        "status": draw(json_values),
        "config": {**draw(arbitrary_fields(JobConfig)),
                   "webhook_config": draw(arbitrary_fields(WebhookConfig))},
        "output": {**draw(arbitrary_fields(JobOutput)), **draw(extra_keys)},
        "meta": {**draw(arbitrary_fields(JobMeta)), "usage": draw(arbitrary_fields(Usage))},
        "error": draw(arbitrary_fields(JobError)),
    }


@PROFILE
@given(nested_arbitrary())
def test_nested_arbitrary_json_values_parse(raw: dict[str, Any]) -> None:
    job = Job.model_validate(raw)
    check_status_consistency(raw, job)
    assert job.output is not None and job.meta is not None and job.error is not None and job.config is not None
    out = job.output
    for lst in (out.image_urls, out.video_urls, out.prompts):
        assert lst is None or all(isinstance(x, str) and x for x in lst)
    for s in (out.image_url, out.seed, out.promptEn, out.description, out.finalPrompt):
        assert s is None or isinstance(s, str)
    assert isinstance(out.describe_prompts(), list)
    for name in ACTIONS:
        assert all(isinstance(i, int) for i in out.action_indexes(name))
    assert isinstance(job.usage.frozen, int) and isinstance(job.usage.consume, int)
    assert isinstance(job.error.code, int) and isinstance(job.error_text, str)
    for t in (job.meta.created_at, job.meta.started_at, job.meta.ended_at):
        assert t is None or isinstance(t, datetime)


@PROFILE
@given(json_values)
def test_error_body_accepts_any_json(raw: Any) -> None:
    body = ErrorBody.model_validate(raw)
    assert isinstance(body.code, int) and isinstance(body.message, str) and isinstance(body.raw_message, str)


@PROFILE
@given(arbitrary_fields(ErrorBody, "error", "job_id", "status", "detail"), arbitrary_fields(JobError))
def test_error_body_with_arbitrary_fields(raw: dict[str, Any], err: dict[str, Any]) -> None:
    ErrorBody.model_validate(raw)
    ErrorBody.model_validate({**raw, "error": err})


@PROFILE
@given(arbitrary_fields(Balance), arbitrary_fields(BalanceData), extra_keys)
def test_balance_with_arbitrary_json_values_parses(raw: dict[str, Any], data: dict[str, Any], extra: Any) -> None:
    for candidate in (raw, {**raw, "data": {**extra, **data}}):
        bal = Balance.model_validate(candidate)
        assert isinstance(bal.code, int) and isinstance(bal.message, str)
        for figure in (bal.data.available_credits, bal.data.available_points):  # an unreadable figure is unknown
            assert figure is None or (isinstance(figure, int) and not isinstance(figure, bool))
        assert bal.data.balance_usd is None or isinstance(bal.data.balance_usd, float)
        assert (bal.data.spendable_points is None) == (
            bal.data.available_credits is None or bal.data.available_points is None)
        assert isinstance(bal.data.low_balance_alert, bool)


@PROFILE
@given(
    st.text(max_size=30),
    st.text(max_size=30),
    st.integers(100, 599),
    st.sampled_from(["", "0", "upstream said no"]),
)
def test_error_body_shapes_agree(message: str, task_type: str, code: int, raw_message: str) -> None:
    flat = ErrorBody.model_validate({"code": code, "message": message, "raw_message": raw_message, "detail": None})
    envelope = ErrorBody.model_validate({
        "job_id": "", "model": "", "task_type": task_type, "status": "failed", "config": None, "input": None,
        "output": None, "meta": None, "detail": None, "logs": [],
        "error": {"code": code, "message": message, "raw_message": raw_message, "detail": None},
    })
    assert flat.message == envelope.message == message
    assert flat.raw_message == envelope.raw_message == raw_message
    assert flat.code == envelope.code == code


# ------------------------------------------------------------------------------------------------ documented examples
# Copied verbatim from /work/shared/seeds/004_1c4017b6bc799af8.readable.md (lines 70, 472, 508, 646, 1260, 1326, 1365).

DOC_AUTH_ERROR = '{ "code": 401, "message": "Failed to verify api key", "raw_message": "", "detail": null }'
DOC_DIFFUSION_PENDING = '{ "job_id": "789320d3-4b20-46d3-a804-6165a079176a", "model": "midjourney", "task_type": "diffusion", "status": "pending", "config": { "service_mode": "public", "webhook_config": { "endpoint": "", "secret": "" } }, "input": null, "output": { "image_url": "", "image_urls": null, "seed": "" }, "meta": { "created_at": "2025-12-17T11:08:36Z", "started_at": "0001-01-01T00:00:00Z", "ended_at": "0001-01-01T00:00:00Z", "usage": { "type": "point", "frozen": 80, "consume": 0 } }, "detail": null, "logs": [], "error": { "code": 0, "raw_message": "", "message": "", "detail": null } }'  # noqa: E501
DOC_VARIATION_PENDING = '{ "job_id": "340721c6-86eb-4620-ba38-8df46fb507b6", "model": "midjourney", "task_type": "variation", "status": "pending", "config": { "service_mode": "public", "webhook_config": { "endpoint": "https://webhook.site/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", "secret": "" } }, "input": null, "output": { "image_url": "", "image_urls": null, "seed": "" }, "meta": { "created_at": "", "started_at": "", "ended_at": "", "usage": { "type": "point", "frozen": 120, "consume": 0 } }, "detail": null, "logs": [], "error": { "code": 0, "raw_message": "", "message": "", "detail": null } }'  # noqa: E501
DOC_DESCRIBE_PENDING = '{ "job_id": "54aeca4b-f443-41f3-8b94-28cbdc2e7e20", "model": "midjourney", "task_type": "describe", "status": "pending", "config": { "service_mode": "public", "webhook_config": { "endpoint": "", "secret": "" } }, "input": null, "output": { "promptEn": "", "description": "", "finalPrompt": "", "prompts": [] }, "meta": { "created_at": "", "started_at": "", "ended_at": "", "usage": { "type": "point", "frozen": 20, "consume": 0 } }, "detail": null, "logs": [], "error": { "code": 0, "raw_message": "", "message": "", "detail": null } }'  # noqa: E501
DOC_ENHANCE_UPSCALE_PENDING = '{ "job_id": "f3efd852-18ad-483d-87f2-0685a60df014", "model": "midjourney", "task_type": "enhance_upscale", "status": "pending", "config": { "service_mode": "public", "webhook_config": { "endpoint": "", "secret": "" } }, "input": null, "output": { "image_url": "", "image_urls": null, "seed": "" }, "meta": { "created_at": "2025-12-17T03:22:29+08:00", "started_at": "0001-01-01T00:00:00Z", "ended_at": "0001-01-01T00:00:00Z", "usage": { "type": "point", "frozen": 300, "consume": 0 } }, "detail": null, "logs": [], "error": { "code": 0, "raw_message": "", "message": "", "detail": null } }'  # noqa: E501
DOC_DIFFUSION_COMPLETED = '{ "job_id": "a616de55-6130-4e1f-b8cd-531ed0599353", "model": "midjourney", "task_type": "diffusion", "status": "completed", "config": { "service_mode": "public", "webhook_config": { "endpoint": "https://webhook.site/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", "secret": "" } }, "input": null, "output": { "image_url": "https://cdn.legnext.ai/temp/1760408558306.png", "image_urls": [ "https://cdn.legnext.ai/mj/a616de55-6130-4e1f-b8cd-531ed0599353_0.png", "https://cdn.legnext.ai/mj/a616de55-6130-4e1f-b8cd-531ed0599353_1.png", "https://cdn.legnext.ai/mj/a616de55-6130-4e1f-b8cd-531ed0599353_2.png", "https://cdn.legnext.ai/mj/a616de55-6130-4e1f-b8cd-531ed0599353_3.png" ], "seed": "1904983176", "available_actions": { "edit": [ 0, 1, 2, 3 ], "inpaint": [ 0, 1, 2, 3 ], "outpaint": [ 0, 1, 2, 3 ], "pan": [ 0, 1, 2, 3 ], "remix": [ 0, 1, 2, 3 ], "reroll": true, "upscale": [ 0, 1, 2, 3 ], "variation": [ 0, 1, 2, 3 ] } }, "meta": { "created_at": "2025-10-14T02:22:04Z", "started_at": "2025-10-14T02:22:06Z", "ended_at": "2025-10-14T02:22:50Z", "usage": { "type": "point", "frozen": 80, "consume": 80 } }, "detail": null, "logs": [], "error": { "code": 0, "raw_message": "", "message": "", "detail": null } }'  # noqa: E501
DOC_BALANCE = '{ "code": 200, "data": { "account_id": 1, "balance_usd": 72.048, "available_credits": 71000, "available_points": 1048, "alert_threshold": 10, "low_balance_alert": false, "updated_at": "2025-11-05T08:22:37.784663288Z" }, "message": "success" }'  # noqa: E501
# Not in the vendor docs: the envelope shape seen on /v1/edit (legnext-notes.md, "Failures").
ENVELOPE_403 = {"job_id": "", "status": "failed", "output": None, "meta": None, "task_type": "",
                "error": {"code": 403, "message": "The prompt is not allowed for this account"}}


def test_doc_diffusion_pending_with_zero_timestamps() -> None:
    job = Job.model_validate_json(DOC_DIFFUSION_PENDING)
    assert job.job_id == "789320d3-4b20-46d3-a804-6165a079176a"
    assert job.task_type == "diffusion" and job.status == "pending" and job.running and not job.failed
    assert job.meta is not None
    assert job.meta.created_at == datetime(2025, 12, 17, 11, 8, 36, tzinfo=UTC)
    assert job.meta.started_at is None and job.meta.ended_at is None
    assert job.usage.frozen == 80 and job.usage.consume == 0 and job.usage.type == "point"
    assert job.output is not None and job.output.image_url is None and job.output.images() == []
    assert job.output.seed is None
    assert job.error is not None and job.error.code == 0 and job.error_text == ""
    assert job.config is not None and job.config.webhook_config is not None
    assert job.config.service_mode == "public" and job.config.webhook_config.endpoint == ""
    assert job.logs == []


def test_doc_variation_pending_with_empty_timestamps() -> None:
    job = Job.model_validate_json(DOC_VARIATION_PENDING)
    assert job.task_type == "variation" and job.running
    assert job.meta is not None
    assert (job.meta.created_at, job.meta.started_at, job.meta.ended_at) == (None, None, None)
    assert job.usage.frozen == 120
    assert job.config is not None and job.config.webhook_config is not None
    assert job.config.webhook_config.endpoint == "https://webhook.site/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"


def test_doc_describe_pending_and_enhance_upscale_with_offset() -> None:
    desc = Job.model_validate_json(DOC_DESCRIBE_PENDING)
    assert desc.output is not None and desc.output.prompts == [] and desc.output.describe_prompts() == []
    assert desc.output.promptEn is None and desc.usage.frozen == 20
    eu = Job.model_validate_json(DOC_ENHANCE_UPSCALE_PENDING)
    assert eu.task_type == "enhance_upscale" and eu.meta is not None
    assert eu.meta.created_at == datetime(2025, 12, 16, 19, 22, 29, tzinfo=UTC)
    assert eu.usage.frozen == 300


def test_doc_completed_diffusion() -> None:
    job = Job.model_validate_json(DOC_DIFFUSION_COMPLETED)
    assert job.completed and job.finished and not job.running and not job.failed
    assert job.output is not None
    assert job.output.image_url == "https://cdn.legnext.ai/temp/1760408558306.png"
    assert job.output.images() == [
        f"https://cdn.legnext.ai/mj/a616de55-6130-4e1f-b8cd-531ed0599353_{i}.png" for i in range(4)
    ]
    assert job.output.seed == "1904983176"
    assert job.output.available_actions is not None
    assert sorted(job.output.available_actions) == [
        "edit", "inpaint", "outpaint", "pan", "remix", "reroll", "upscale", "variation"
    ]
    assert job.output.action_indexes("upscale") == {0, 1, 2, 3}
    assert job.output.action_indexes("reroll") == {0}
    assert job.output.action_indexes("enhance") == set()
    assert job.meta is not None and job.meta.ended_at is not None and job.meta.started_at is not None
    assert job.meta.ended_at - job.meta.started_at == timedelta(seconds=44)
    assert job.usage.consume == 80


def test_doc_balance() -> None:
    bal = Balance.model_validate_json(DOC_BALANCE)
    assert bal.code == 200 and bal.message == "success"
    assert bal.data.account_id == 1
    assert bal.data.balance_usd == pytest.approx(72.048)
    assert bal.data.available_credits == 71000 and bal.data.available_points == 1048
    assert bal.data.alert_threshold == 10 and bal.data.low_balance_alert is False
    assert bal.data.updated_at == "2025-11-05T08:22:37.784663288Z"


@pytest.mark.parametrize(("raw", "figure"), [
    (1048, 1048), ("1048", 1048), (" 1048 ", 1048), (1048.0, 1048), ("1048.9", 1048), (-5, -5),
    (None, None), ("", None), ("n/a", None), (True, None), (False, None), ([], None), ({}, None), ("NaN", None),
    (float("inf"), None), ("1e400", None),
])
def test_balance_figures_are_numbers_or_unknown_never_zero_by_default(raw: Any, figure: int | None) -> None:
    d = Balance.model_validate({"data": {"available_credits": 71000, "available_points": raw}}).data
    assert d.available_points == figure
    assert d.spendable_points == (None if figure is None else 71000 + figure)
    absent = Balance.model_validate({"data": {}})
    assert (absent.data.available_credits, absent.data.available_points, absent.data.balance_usd) == (None,) * 3
    assert absent.problem() == "no readable available_credits or available_points"
    assert Balance.model_validate({"code": 500, "message": "system busy", "data": None}).problem() == (
        "code 500 (system busy)")
    assert Balance.model_validate_json(DOC_BALANCE).problem() is None


def test_doc_flat_error_and_envelope_error() -> None:
    flat = ErrorBody.model_validate_json(DOC_AUTH_ERROR)
    assert (flat.code, flat.message, flat.raw_message) == (401, "Failed to verify api key", "")

    env = ErrorBody.model_validate(ENVELOPE_403)
    assert (env.code, env.message, env.raw_message) == (403, "The prompt is not allowed for this account", "")
    job = Job.model_validate(ENVELOPE_403)  # the envelope is also a (failed, id-less) job
    assert job.job_id == "" and job.task_type == "" and job.failed and job.output is None and job.meta is None
    assert job.error is not None and job.error.code == 403
    assert job.error_text == "The prompt is not allowed for this account"
    assert job.usage == Usage()


def test_error_body_prefers_top_level_message_and_falls_back_to_raw() -> None:
    assert ErrorBody.model_validate({"message": "top", "error": {"message": "inner"}}).message == "top"
    only_raw = ErrorBody.model_validate({"error": {"code": "402", "raw_message": "balance 0"}})
    assert (only_raw.code, only_raw.message, only_raw.raw_message) == (402, "", "balance 0")
    assert ErrorBody.model_validate("<html>Bad Gateway</html>").message == "<html>Bad Gateway</html>"
    assert ErrorBody.model_validate(None).message == ""


# ------------------------------------------------------------------------------------------------ describe prompts


def test_describe_prompts_split_numbered_prompt_en() -> None:
    out = JobOutput.model_validate({"promptEn": "1️⃣ a\n\n2️⃣ b\n\n3️⃣ c\n\n4️⃣ d"})
    assert out.describe_prompts() == ["a", "b", "c", "d"]
    # keycaps without the variation selector, and long prompts with parameters
    out = JobOutput.model_validate({"promptEn": "1\u20e3 a red fox, snow --ar 3:2\n2\u20e3 b --v 7"})
    assert out.describe_prompts() == ["a red fox, snow --ar 3:2", "b --v 7"]


def test_describe_prompts_prefer_prompts_list() -> None:
    out = JobOutput.model_validate({"promptEn": "1️⃣ a\n\n2️⃣ b", "prompts": [" x ", "", "y"]})
    assert out.describe_prompts() == ["x", "y"]
    assert JobOutput.model_validate({"promptEn": "", "prompts": []}).describe_prompts() == []


@PROFILE
@given(st.lists(st.text(alphabet=string.ascii_letters + " ,.-", min_size=1, max_size=40).filter(str.strip),
                min_size=1, max_size=9))
def test_describe_prompts_round_trip(prompts: list[str]) -> None:
    text = "\n\n".join(f"{i + 1}\ufe0f\u20e3 {p}" for i, p in enumerate(prompts))
    assert JobOutput.model_validate({"promptEn": text}).describe_prompts() == [p.strip() for p in prompts]
