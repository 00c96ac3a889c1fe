"""`emoavatar ui` in a real browser: headless Chromium (Debian's package) driven by Playwright.

`make test` installs Chromium with apt-get when it runs as root; elsewhere this test is skipped
with the reason. Screenshots go to out/test-artifacts/ui/.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from _support import BIN, EXAMPLES, ROOT
from emoavatar.media import video_info, write_image
from emoavatar.ui import forms

DATA = ROOT / "core" / "emoavatar" / "testing" / "data"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "out" / "test-artifacts" / "ui"


def test_emotion_forms_build_valid_requests():
    assert forms.emotion_request("label", label="happy", intensity=0.7) == {"emotion": "happy", "intensity": 0.7}
    req = forms.emotion_request("mix", mix={"happy": 0.6, "surprised": 0.4, "sad": 0}, au={"AU12": 0.5, "AU1": 0})
    assert req["emotion"] == {"happy": 0.6, "surprised": 0.4} and req["au"] == {"AU12": 0.5}
    tl = forms.add_to_timeline("0: neutral\n3: sad", 1.5, "happy")
    assert tl == "0: neutral\n1.5: happy\n3: sad"
    assert forms.emotion_request("timeline", timeline=tl)["timeline"][1] == {"at": 1.5, "emotion": "happy"}
    assert forms.emotion_request("from_audio") == {"from_audio": True, "intensity": 1.0}
    from emoavatar.errors import EmoAvatarError

    for bad in (dict(mode="mix", mix={}), dict(mode="timeline", timeline="soon: happy"), dict(mode="text"),
                dict(mode="label", label="elated")):
        with pytest.raises(EmoAvatarError):
            forms.emotion_request(bad.pop("mode"), **bad)


def test_pipeline_picker_and_availability():
    from emoavatar.config import parse_config
    from emoavatar.registry import get_registry

    reg = get_registry()
    faces = {a.name: a for a in forms.availability(reg, "faces")}
    assert faces["dlib"].ok
    tmpl = forms.options_template(reg, "renderers", "warp2d")
    assert "teeth:" in tmpl and "#" in tmpl
    base = forms.load_base(EXAMPLES / "default.yaml")
    data = forms.build_pipeline_data(base, {"face": "dlib", "encoder": ["prosody"], "controller": "mixture",
                                            "motion": "facs-rig", "renderer": "warp2d"},
                                     {"renderer": "teeth: 0.3", "encoder": "prosody: {}"})
    cfg = parse_config(data)
    assert cfg.renderer.with_ == {"teeth": 0.3} and [e.use for e in cfg.encoder] == ["prosody"]
    assert cfg.output.chunk_size == 8  # carried over from the starting pipeline (examples/default.yaml)
    from emoavatar.errors import ConfigError

    with pytest.raises(ConfigError, match="not picked"):
        forms.build_pipeline_data(base, {"face": "dlib", "encoder": ["prosody"], "controller": "mixture",
                                         "motion": "facs-rig", "renderer": "warp2d"}, {"encoder": "phonemes: {}"})
    # a component whose options have no usable default (e.g. weights) is unavailable, with the reason
    from emoavatar.spec import ComponentSpec
    from pydantic import BaseModel, ConfigDict

    class NeedsWeights(BaseModel):
        model_config = ConfigDict(extra="forbid")
        checkpoint: str

    from emoavatar.registry import Registry

    spec = ComponentSpec(name="heavy", kind="renderers", factory="x:Y", config=NeedsWeights,
                         consumes=("motion:landmarks68",), produces=("frames",))
    heavy = {a.name: a for a in forms.availability(Registry(extra=[spec]), "renderers")}["heavy"]
    assert not heavy.ok and "checkpoint" in heavy.reason and "unavailable" in heavy.label
    nerf = {a.name: a for a in forms.availability(reg, "renderers")}.get("nerf")
    if nerf is not None:  # installed: usable only once a checkpoint is given
        assert not nerf.ok and "no weights: set checkpoint" in nerf.reason


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium with apt-get when run as root")
    pytest.importorskip("playwright.sync_api", reason="playwright is installed by the test extra")
    pytest.importorskip("gradio", reason="gradio is installed by the ui extra")
    port = _free_port()
    out = tmp_path_factory.mktemp("ui-out")
    proc = subprocess.Popen([str(BIN / "emoavatar"), "ui", "--port", str(port), "--pipeline",
                             str(EXAMPLES / "default.yaml"), "--outdir", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    end = time.time() + 180
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"emoavatar ui exited: {proc.stdout.read()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("emoavatar ui did not answer within 180 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        pg = browser.new_page(viewport={"width": 1280, "height": 1400})
        pg.set_default_timeout(120_000)
        pg.goto(server)
        pg.wait_for_selector("#render")
        yield pg
        browser.close()


@pytest.mark.slow
def test_ui_renders_happy_with_timeline_switch(page, tmp_path):
    page.set_input_files("#portrait input[type=file]", str(DATA / "portrait_256.png"))
    page.wait_for_selector("#face-msg :text('face found')")
    page.set_input_files("#speech input[type=file]", str(DATA / "speech_2s.wav"))
    page.get_by_text("Timeline (emotion changes while talking)").click()
    page.locator("#mode").get_by_text("timeline", exact=True).click()
    page.locator("#timeline textarea").fill("0: happy")
    page.locator("#timeline-at input").fill("1.2")
    page.locator("#timeline-at input").press("Tab")
    emo = page.locator("#timeline-emotion input")
    emo.click()
    emo.fill("surprised")
    emo.press("Enter")
    page.click("#timeline-add")
    page.wait_for_function("document.querySelector('#timeline textarea').value.includes('1.2: surprised')")
    page.get_by_text("Pipeline", exact=True).click()  # options are form fields generated from the config schema
    teeth = page.locator("#opt-renderer-teeth input[type=number]")
    teeth.fill("0.3")
    teeth.press("Enter")
    page.screenshot(path=str(ARTIFACTS / "1-inputs.png"), full_page=True)
    page.click("#render")
    page.wait_for_selector("#status :text('rendered')", timeout=300_000)
    src = page.locator("#result video").get_attribute("src")
    page.screenshot(path=str(ARTIFACTS / "2-result.png"), full_page=True)
    assert src
    body = page.request.get(src if src.startswith("http") else page.url.rstrip("/") + "/" + src.lstrip("/")).body()
    video = tmp_path / "from-ui.mp4"
    video.write_bytes(body)
    info = video_info(video)
    assert info.has_audio and info.video_codec == "h264" and abs(info.audio_duration - 2.0) < 0.1
    assert abs(info.duration - 2.0) < 0.15 and info.n_frames == 50
    run_yaml = page.locator("#run-yaml a").first.get_attribute("href")
    text = page.request.get(run_yaml if run_yaml.startswith("http") else page.url.rstrip("/") + run_yaml).text()
    assert "timeline" in text and "surprised" in text and "at: 1.2" in text
    assert "teeth: 0.3" in text


@pytest.mark.slow
def test_ui_reports_a_portrait_without_a_face(page, tmp_path):
    blank = tmp_path / "wall.png"
    write_image(blank, np.full((200, 200, 3), 128, np.uint8))
    page.set_input_files("#portrait input[type=file]", str(blank))
    page.wait_for_selector("#face-msg :text('no face found')")
    page.click("#render")  # the render refuses it too, as a one-line message in the page
    page.wait_for_function("document.body.innerText.split('no face found in').length > 2")
    page.screenshot(path=str(ARTIFACTS / "3-no-face.png"), full_page=True)
    assert "Traceback" not in page.content() and "File \"" not in page.inner_text("body")
