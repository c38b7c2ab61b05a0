"""The dashboard in a real browser (Debian's Chromium via Playwright) against a real ``roboos up``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from dashboard_testlib import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, Cloud

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class ConsoleWatch:
    """Collects console errors and uncaught page errors."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None
            ),
        )
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))


def open_page(browser: Any, cloud: Cloud, viewport: dict[str, int]) -> tuple[Any, Any, ConsoleWatch]:
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watch = ConsoleWatch(page)
    page.goto(cloud.url + "/")
    page.wait_for_selector("#live.on")  # the event stream is connected
    return context, page, watch


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def wait_hands_free(cloud: Cloud, timeout: float = 10.0) -> None:
    """Until no robot reports holding anything (the planner plans from the reported world)."""
    deadline = time.monotonic() + timeout
    while any(r["holding"] for r in httpx.get(f"{cloud.url}/api/robots", timeout=5).json()):
        assert time.monotonic() < deadline, "a robot still reports holding an object"
        time.sleep(0.1)


def submit(page: Any, instruction: str) -> None:
    """Submit an instruction in the Tasks view and wait until its detail is shown."""
    page.get_by_label("Instruction").fill(instruction)
    page.get_by_role("button", name="Submit").click()
    page.wait_for_function(
        "text => document.querySelector('#task-detail h3')?.textContent === text", arg=instruction
    )


def put_down_held_objects(page: Any, cloud: Cloud) -> None:
    """A robot left holding an object (a cancelled task) is told to put it in the bin, as a user would."""
    for robot in httpx.get(f"{cloud.url}/api/robots", timeout=5).json():
        if robot["holding"]:
            submit(page, f"put the {robot['holding'].replace('_', ' ')} in the bin")
            page.wait_for_selector("[data-testid=task-status]:has-text('succeeded')", timeout=60_000)
    wait_hands_free(cloud)


def goto_view(page: Any, view: str) -> None:
    page.get_by_role("link", name=view.capitalize()).click()
    page.wait_for_selector(f"#view-{view}:not([hidden])")


@pytest.mark.slow  # a browser session of ~12 s
def test_laptop_submit_watch_and_every_view(browser: Any, roboos_up: Cloud) -> None:
    context, page, watch = open_page(browser, roboos_up, LAPTOP)
    try:
        # Robots: both sim robots, online, with their details.
        cards = page.locator("article.robot")
        cards.first.wait_for()
        assert cards.count() == 2
        assert page.locator("article.robot .badge.on").count() == 2
        assert "rover1" in page.locator("#robots").inner_text()
        page.wait_for_function(
            "document.querySelector('#robots').innerText.includes(' ms')"
        )  # link RTT shown
        shot(page, "laptop-robots")

        # Tasks: submit, watch the DAG fill in, succeed.
        goto_view(page, "tasks")
        assert page.locator("#task-detail .empty").is_visible()
        submit(page, "put the apple in the sink and put the toy block in the bin")
        page.wait_for_selector("#submit-status:has-text('submitted')")
        page.wait_for_selector("svg.dag g.node")
        page.wait_for_selector("[data-testid=task-status]:has-text('succeeded')", timeout=60_000)
        nodes = page.locator("svg.dag g.node")
        assert nodes.count() >= 4
        page.wait_for_function(
            "document.querySelectorAll('svg.dag g.node.st-succeeded').length"
            " === document.querySelectorAll('svg.dag g.node').length"
        )
        assert page.locator("table.steps tbody tr").count() == nodes.count()
        detail = page.locator("#task-detail").inner_text()
        assert "offline rule-based planner" in detail and "Replans" in detail and "prompt" in detail
        assert page.locator("#task-list .task-item").count() >= 1
        shot(page, "laptop-tasks")

        # A failing step (injected: open_container fails twice) is retried, then the task is replanned.
        submit(page, "put the milk on the dining table")
        page.wait_for_selector("[data-testid=task-status]:has-text('succeeded')", timeout=60_000)
        page.wait_for_selector("#task-detail .incidents")
        incidents = page.locator("#task-detail .incidents").inner_text()
        assert "failed" in incidents and "replanning" in incidents, incidents
        assert int(page.locator("#task-detail dd").nth(3).inner_text()) >= 1  # Replans
        assert page.locator("svg.dag g.node[data-step^='r']").count() >= 1  # replanned steps: r<n>-
        shot(page, "laptop-tasks-replanned")
        wait_hands_free(roboos_up)  # a STATE sent before the last place may still say "holding milk"

        # An impossible instruction fails with its reason shown (error state), no cancel button left.
        submit(page, "put the unicorn in the sink")
        page.wait_for_selector("[data-testid=task-status]:has-text('failed')")
        assert "unicorn" in page.locator("#task-detail").inner_text()
        assert page.get_by_role("button", name="Cancel task").count() == 0

        # A long task: the Robots view shows the running subtask, then Cancel stops it.
        submit(
            page,
            "put the apple in the sink, put the red cup on the dining table, put the book on the shelf "
            "and put the banana in the bin",
        )
        status = page.locator("[data-testid=task-status]")
        page.wait_for_function(
            "['running', 'failed'].includes(document.querySelector('[data-testid=task-status]').textContent)"
        )
        assert status.inner_text() == "running", page.locator("#task-detail").inner_text()
        goto_view(page, "robots")
        page.wait_for_function("document.querySelector('#robots').innerText.includes('— task ')")
        goto_view(page, "tasks")
        page.get_by_role("button", name="Cancel task").click()
        page.wait_for_selector("[data-testid=task-status]:has-text('cancelled')")
        assert page.locator("svg.dag g.node.st-succeeded").count() < page.locator("svg.dag g.node").count()

        # Skills: connected robots' cards, search ranks 'pick' for grasping.
        goto_view(page, "skills")
        page.wait_for_selector("#skills-connected details.skill")
        assert page.locator("#skills-connected details.skill").count() >= 8
        assert "garden_skills 1.0.0" in page.locator("#skills-store").inner_text()
        page.get_by_label("Search skills").fill("pick up an object")
        page.get_by_role("button", name="Search").click()
        first = page.locator("#skill-results ol.results li").first
        first.wait_for()
        assert "pick" in first.inner_text()
        first.locator("summary").click()
        assert first.locator("ul.params").is_visible()
        shot(page, "laptop-skills")

        # History: the finished task's timeline, replayed from the start.
        goto_view(page, "history")
        page.wait_for_selector("ol.timeline li")
        page.get_by_label("Task", exact=True).select_option(
            label="put the apple in the sink and put the toy block in the bin — succeeded"
        )
        page.wait_for_selector(
            "ol.timeline li:has-text('task accepted: put the apple in the sink and put the toy block')"
        )
        total = page.locator("ol.timeline li").count()
        page.get_by_label("Position").fill("0")
        assert page.locator("ol.timeline li.past").count() == 0
        assert page.locator("#history-body svg.dag").count() == 0  # before the plan event: no plan yet
        page.get_by_role("button", name="Replay").click()
        page.wait_for_function(f"document.querySelectorAll('ol.timeline li.past').length === {total}")
        assert page.locator("#history-body svg.dag g.node.st-succeeded").count() >= 4
        shot(page, "laptop-history")

        # Cameras: the kinematic robots have none (empty state); the top-down world picture loads.
        goto_view(page, "cameras")
        img = page.locator("#cameras img[data-world]")
        img.wait_for()
        page.wait_for_function("document.querySelector('#cameras img[data-world]').naturalWidth === 640")
        assert "top-down" in img.get_attribute("alt")
        assert "No robot streams a camera" in page.locator("#cameras").inner_text()
        shot(page, "laptop-cameras")

        # Channel: links and an RTT histogram per robot.
        goto_view(page, "channel")
        page.wait_for_selector("#channel svg.hist")
        assert page.locator("#channel table tbody tr").count() == 2
        assert page.locator("#channel svg.hist").count() == 2
        shot(page, "laptop-channel")
    finally:
        context.close()
    assert watch.errors == []


def test_phone_width_every_view_fits(browser: Any, roboos_up: Cloud) -> None:
    context, page, watch = open_page(browser, roboos_up, PHONE)
    try:
        for view in ("robots", "tasks", "skills", "history", "cameras", "channel"):
            goto_view(page, view)
            page.wait_for_timeout(300)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{view}: page is {width}px wide at a {PHONE['width']}px viewport"
            shot(page, f"phone-{view}")
        goto_view(page, "tasks")
        put_down_held_objects(page, roboos_up)
        submit(page, "put the red cup on the dining table")
        page.wait_for_selector("[data-testid=task-status]:has-text('succeeded')", timeout=60_000)
        shot(page, "phone-tasks-done")
    finally:
        context.close()
    assert watch.errors == []


def test_accessible_names(browser: Any, roboos_up: Cloud) -> None:
    context, page, watch = open_page(browser, roboos_up, LAPTOP)
    try:
        assert page.get_by_role("navigation", name="Dashboard views").is_visible()
        assert page.get_by_role("link", name="Robots").get_attribute("aria-current") == "page"
        for view in ("tasks", "skills", "history", "cameras", "channel"):
            goto_view(page, view)
            # every form control in the visible view has an accessible name
            unnamed = page.evaluate("""() => [...document.querySelectorAll('main section:not([hidden]) input,'
                + 'main section:not([hidden]) select, main section:not([hidden]) button')]
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                              && !el.textContent.trim()).map(el => el.outerHTML)""")
            assert unnamed == [], f"{view}: controls without a label: {unnamed}"
    finally:
        context.close()
    assert watch.errors == []


STREAM_IMAGES = "#cameras figure.stream img"
PIXEL_STATS = """() => [...document.querySelectorAll('#cameras figure.stream img')].map(img => {
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let sum = 0, sq = 0, n = 0;
  for (let i = 0; i < d.length; i += 4) { const v = (d[i] + d[i + 1] + d[i + 2]) / 3; sum += v; sq += v * v; n++; }
  const mean = sum / n;
  return {alt: img.alt, width: img.naturalWidth, mean, std: Math.sqrt(sq / n - mean * mean)};
})"""


@pytest.mark.slow
def test_cameras_show_live_mujoco_frames(browser: Any, roboos_up_mujoco: Cloud) -> None:
    """MuJoCo robots stream their two cameras each; the page shows the real, refreshing frames."""
    context, page, watch = open_page(browser, roboos_up_mujoco, LAPTOP)
    try:
        goto_view(page, "cameras")
        page.wait_for_function(f"document.querySelectorAll('{STREAM_IMAGES}').length === 4")
        page.wait_for_function(
            f"[...document.querySelectorAll('{STREAM_IMAGES}')].every(i => i.complete && i.naturalWidth > 0)"
        )
        stats = page.evaluate(PIXEL_STATS)
        assert sorted(s["alt"] for s in stats) == [
            "Camera image of robot arm1", "Camera image of robot rover1",
            "Camera wrist_image of robot arm1", "Camera wrist_image of robot rover1",
        ]
        for item in stats:  # a rendered scene: 224 px wide and far from one flat colour
            assert item["width"] == 224 and item["std"] > 10, item
        captions = page.locator("#cameras figure.stream figcaption").all_inner_texts()
        assert any(c.startswith("arm1 · wrist_image · 224×224 · ") for c in captions), captions
        # the frames refresh: the figure's frame number moves on and the caption keeps a fresh age
        first = page.locator("#cameras figure.stream").first
        seq = first.get_attribute("data-seq")
        page.wait_for_function(
            "seq => document.querySelector('#cameras figure.stream').dataset.seq !== seq", arg=seq
        )
        assert "stale" not in first.inner_text()
        page.wait_for_function("document.querySelector('#cameras img[data-world]').naturalWidth === 640")
        shot(page, "laptop-cameras-mujoco")
    finally:
        context.close()
    context, page, phone_watch = open_page(browser, roboos_up_mujoco, PHONE)
    try:
        goto_view(page, "cameras")
        page.wait_for_function(
            f"[...document.querySelectorAll('{STREAM_IMAGES}')].filter(i => i.naturalWidth > 0).length === 4"
        )
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"cameras: page is {width}px wide at a {PHONE['width']}px viewport"
        shot(page, "phone-cameras-mujoco")
    finally:
        context.close()
    assert watch.errors == [] and phone_watch.errors == []
