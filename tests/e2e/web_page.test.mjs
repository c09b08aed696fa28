// The page at `/` in a real browser: Debian's Chromium, headless, driven by playwright-core.
//
//   node web_page.test.mjs BASE_URL TOKEN UPLOAD_FILE MIC_WAV ARTIFACTS_DIR EXPECTED_TEXT [LIMITED_URL]
//
// BASE_URL is a running `earshot serve` whose model gives EXPECTED_TEXT for every segment
// (tests/testing/scripted_model.h); MIC_WAV is what Chromium's fake microphone plays.
// LIMITED_URL, when given, is a server with the same token, no model and a request_max_size
// between the sizes of MIC_WAV and UPLOAD_FILE (for its 413 and 503 answers).
// Screenshots of each state go to ARTIFACTS_DIR. Prints "ok - <name>" per check and
// "all checks passed" at the end; exits 1 on the first failure.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";

import { chromium } from "playwright-core";

const [baseUrl, token, uploadFile, micWav, artifacts, expectedText, limitedUrl] = process.argv.slice(2);
if (!expectedText) {
  console.error("usage: node web_page.test.mjs BASE_URL TOKEN UPLOAD_FILE MIC_WAV ARTIFACTS_DIR EXPECTED_TEXT");
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const TIMEOUT = 30000;

const browser = await chromium.launch({
  executablePath: process.env.EARSHOT_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // launch() starts Chromium on a fresh temporary profile (its own --user-data-dir).
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    `--use-file-for-fake-audio-capture=${micWav}`,
    "--autoplay-policy=no-user-gesture-required",
  ],
});

// A fresh context (own sessionStorage) and page per check; fails on any CSP violation or
// script error on the page.
async function withPage(options, body, url = baseUrl) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  await context.grantPermissions(["microphone"], { origin: url });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  try {
    await page.goto(url + "/");
    await body(page);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

// Types (pastes) the token and commits it with Enter, which checks it against /v1/models.
async function enterToken(page, value) {
  const field = page.getByLabel("Access token");
  await field.fill(value);
  await field.press("Enter");
}

async function waitForDone(page) {
  await page.locator("#status").filter({ hasText: /^Done:/ }).waitFor();
}

async function segmentTexts(page) {
  return page.locator("#segments .segment .text").allTextContents();
}

const checks = [];
function check(name, body) {
  checks.push({ name, body });
}

check("the page loads without a token and every control has a label", async () => {
  await withPage({}, async (page) => {
    await page.getByRole("heading", { name: "earshot" }).waitFor();
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select")].filter((e) => e.labels.length === 0).map((e) => e.id));
    assert.deepEqual(unlabelled, []);
    assert.equal(await page.locator("#language option").count(), 101); // auto + 100 languages
    await shot(page, "01-empty");
  });
});

check("upload a file: segments appear with timestamps, the models are listed", async () => {
  await withPage({}, async (page) => {
    await enterToken(page, token);
    await page.locator("#token-state").filter({ hasText: "Token accepted" }).waitFor();
    const models = await page.locator("#model option").evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(models, ["whisper-1", "scripted"]);
    await page.locator("#file").setInputFiles(uploadFile);
    await waitForDone(page);
    const texts = await segmentTexts(page);
    assert.deepEqual(texts, [expectedText, expectedText]); // 45 s: two windows
    const times = await page.locator("#segments .segment .time").allTextContents();
    assert.deepEqual(times, ["00:00:00.000 – 00:00:02.800", "00:00:30.000 – 00:00:32.800"]);
    assert.equal(await page.locator("#upload-progress").evaluate((p) => p.value), 1);
    assert.equal(await page.locator("#decode-progress").evaluate((p) => p.value), 1);
    assert.equal(await page.locator("#error").isHidden(), true);
    await shot(page, "02-uploaded");

    // Selecting a segment plays its part of the audio.
    await page.locator("#segments .segment").nth(1).click();
    await page.waitForFunction(() => {
      const p = document.getElementById("player");
      return p.currentTime >= 30 && p.currentTime <= 33;
    });
    // The token stays out of the address and in this tab's sessionStorage.
    assert.equal(page.url(), baseUrl + "/");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("earshot.token")), token);
  });
});

check("download SRT (and VTT, TXT, JSON): the files equal the server's own answers", async () => {
  const serverAnswer = async (format) => {
    const form = new FormData();
    form.append("file", new Blob([readFileSync(uploadFile)]), path.basename(uploadFile));
    form.append("model", "whisper-1");
    form.append("response_format", format);
    const reply = await fetch(`${baseUrl}/v1/audio/transcriptions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      body: form,
    });
    assert.equal(reply.status, 200);
    return reply.text();
  };
  const serverSrt = await serverAnswer("srt");
  assert.equal(serverSrt,
    `1\n00:00:00,000 --> 00:00:02,800\n${expectedText}\n\n2\n00:00:30,000 --> 00:00:32,800\n${expectedText}\n\n`);
  const serverVtt = await serverAnswer("vtt");
  const serverTxt = await serverAnswer("text");
  const serverJson = JSON.parse(await serverAnswer("verbose_json"));

  await withPage({}, async (page) => {
    await enterToken(page, token);
    await page.locator("#file").setInputFiles(uploadFile);
    await waitForDone(page);
    for (const [format, verify] of [
      ["SRT", (text) => assert.equal(text, serverSrt)],
      ["VTT", (text) => assert.equal(text, serverVtt)],
      ["TXT", (text) => assert.equal(text, serverTxt)],
      ["JSON", (text) => {
        const j = JSON.parse(text);
        assert.equal(j.text, serverJson.text);
        assert.equal(j.duration, serverJson.duration);
        assert.deepEqual(j.segments, serverJson.segments.map(({ id, start, end, text: t }) => ({ id, start, end, text: t })));
      }],
    ]) {
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: `Download ${format}` }).click(),
      ]);
      assert.equal(download.suggestedFilename(), `${path.parse(uploadFile).name}.${format.toLowerCase()}`);
      const saved = path.join(artifacts, download.suggestedFilename());
      await download.saveAs(saved);
      verify(readFileSync(saved, "utf8"));
    }
    await shot(page, "03-downloaded");
  });
});

check("record from the microphone: segments appear", async () => {
  await withPage({}, async (page) => {
    await enterToken(page, token);
    const record = page.getByRole("button", { name: "Record" });
    await record.click();
    await page.getByRole("button", { name: "Stop recording" }).waitFor();
    await page.waitForTimeout(3500);
    await shot(page, "04-recording");
    await page.getByRole("button", { name: "Stop recording" }).click();
    await waitForDone(page);
    const texts = await segmentTexts(page);
    assert.ok(texts.length >= 1, "no segment");
    assert.equal(texts[0], expectedText);
    assert.equal(await page.locator("#player").isVisible(), true);
    await shot(page, "05-recorded");
  });
});

check("a wrong token shows what is wrong, in words", async () => {
  await withPage({}, async (page) => {
    await enterToken(page, "not-the-token");
    await page.locator("#token-state").filter({ hasText: "did not accept" }).waitFor();
    await page.locator("#file").setInputFiles(uploadFile);
    const error = page.getByRole("alert");
    await error.filter({ hasText: "The server did not accept this access token" }).waitFor();
    assert.match(await error.textContent(), /Token doesn't exist/);
    assert.equal(await page.locator("#segments li").count(), 0);
    await shot(page, "06-wrong-token");

    await enterToken(page, "");
    await page.getByRole("button", { name: "Transcribe again" }).click();
    await error.filter({ hasText: "needs an access token" }).waitFor();
    await shot(page, "07-no-token");
  });
});

check("word timestamps: the server's words or its refusal are shown, no words are made up", async () => {
  const form = new FormData();
  form.append("file", new Blob([readFileSync(uploadFile)]), path.basename(uploadFile));
  form.append("model", "whisper-1");
  form.append("response_format", "verbose_json");
  form.append("timestamp_granularities[]", "word");
  const reply = await fetch(`${baseUrl}/v1/audio/transcriptions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    body: form,
  });
  const server = await reply.json();
  await withPage({}, async (page) => {
    await enterToken(page, token);
    await page.getByLabel("Word timestamps").check();
    await page.locator("#file").setInputFiles(uploadFile);
    if (reply.status === 400) {
      // A server without word timestamps says so; the page shows its words, not a guess.
      await page.getByRole("alert").filter({ hasText: server.error.message }).waitFor();
      assert.equal(await page.locator("#segments li").count(), 0);
    } else {
      assert.equal(reply.status, 200);
      await waitForDone(page);
      const shown = await page.locator("#segments .word").allTextContents();
      assert.deepEqual(shown, (server.words || []).map((w) => w.word.trim()));
      assert.equal(await page.locator("#error").isHidden(), true);
    }
    await shot(page, "08-word-timestamps");
  });
});

if (limitedUrl) {
  check("a file over the size limit and a server without a model: both explained", async () => {
    await withPage({}, async (page) => {
      await enterToken(page, token);
      const error = page.getByRole("alert");
      await page.locator("#file").setInputFiles(uploadFile);
      await error.filter({ hasText: "The audio is too large for this server" }).waitFor();
      await shot(page, "09-too-large");
      await page.locator("#file").setInputFiles(micWav);
      await error.filter({ hasText: "The server is busy, starting up or shutting down" }).waitFor();
      assert.match(await error.textContent(), /no model is configured/);
      await shot(page, "10-no-model");
    }, limitedUrl);
  });
}

check("a narrow phone screen in dark mode: nothing overflows sideways", async () => {
  await withPage({ viewport: { width: 360, height: 740 }, colorScheme: "dark", isMobile: true }, async (page) => {
    await enterToken(page, token);
    await page.locator("#file").setInputFiles(uploadFile);
    await waitForDone(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(background, "rgb(20, 21, 24)"); // the dark palette
    await shot(page, "11-phone-dark");
  });
});

check("keyboard: Tab reaches the controls and Enter on a segment plays it", async () => {
  await withPage({}, async (page) => {
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.id), "token");
    await page.keyboard.type(token);
    await page.locator("#file").setInputFiles(uploadFile);
    await waitForDone(page);
    await page.locator("#segments .segment").first().focus();
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => {
      const p = document.getElementById("player");
      return !p.paused || p.currentTime > 0;
    });
    await shot(page, "12-keyboard");
  });
});

let failed = false;
for (const { name, body } of checks) {
  try {
    await body();
    console.log(`ok - ${name}`);
  } catch (e) {
    failed = true;
    console.log(`not ok - ${name}\n${e.stack || e}`);
  }
}
await browser.close();
if (failed) process.exit(1);
console.log("all checks passed");
