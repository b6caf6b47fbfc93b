// End-to-end test of the web client (web/) in a real browser: two people, each in their own
// browser context, register through the page, become partners, chat live in a direct channel
// (typing, read receipts, reactions, a thread, an edit, a delete, files: an image and a PDF
// picked with upload progress, a file dropped and one pasted, refusals shown, the thumbnail, the
// image full size, a download), see each other's presence change (also across a network drop
// and the reconnect that follows), and one of them gets a live answer from the assistant, streamed
// in as it is written, and stops a second one half-way. In a group, the channel list shows previews, unread and
// mention badges in activity order, an @-autocomplete mentions Bob, Bob mutes it, and its
// settings (name, description, slow mode) and roles (admin, removal, a new owner) change live
// for both. Messages are found by their words (accents folded, the last word a prefix) across
// channels or in one, and a hit opens its message in its channel. A link with ?ws= must only
// open the settings dialog.
//
//   BASE_URL=http://127.0.0.1:3000 node tests/browser/chat.e2e.mjs
//
// Uses Debian's Chromium (CHROMIUM_PATH, default /usr/bin/chromium) through playwright-core:
// no browser is downloaded. Screenshots go to tests/browser/screenshots/.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const BASE_URL = (process.env.BASE_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
// The gateway's output, where it prints each email moto took (and its verification code).
const GATEWAY_LOG = process.env.GATEWAY_LOG;
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const WAIT = Number(process.env.E2E_WAIT_MS || 10_000);
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), "screenshots");
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

// Unique per run (emails must be; short names keep the pictures readable).
const run = Math.random().toString(36).slice(2, 7);
const stamp = `${Date.now().toString(36)}-${run}`;
const alice = { name: `Alice ${run}`, email: `alice-${stamp}@example.com`, password: "correct horse battery" };
const bob = { name: `Bob ${run}`, email: `bob-${stamp}@example.com`, password: "battery staple horse" };

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

let browser;
const problems = []; // uncaught page errors: a failure even if every step passed

async function openPerson(person) {
  // Reduced motion: no sliding sidebar half-way through a screenshot.
  const context = await browser.newContext({ viewport: DESKTOP, deviceScaleFactor: 1, reducedMotion: "reduce" });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on("pageerror", (error) => problems.push(`${person.name}: uncaught ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/WebSocket|Failed to load resource|ERR_INTERNET_DISCONNECTED/.test(message.text())) {
      problems.push(`${person.name}: console error ${message.text()}`);
    }
  });
  person.context = context;
  person.page = page;
  return page;
}

async function shoot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

// A calm picture: no pointer hovering a message, no notices on top.
async function tidy(page) {
  await page.mouse.move(1, 1);
  // Notices expire by themselves: one gone before its click is no reason to wait for it.
  const dismiss = page.getByRole("button", { name: "Dismiss" });
  for (let i = 0; i < 10 && (await dismiss.count()) > 0; i++) await dismiss.first().click({ timeout: 1000 }).catch(() => {});
}

// Waits until at least one element of the locator is visible (hidden matches, e.g. in the
// other sidebar tab, do not count).
async function visible(locator, what) {
  try {
    await locator.filter({ visible: true }).first().waitFor({ state: "visible", timeout: WAIT });
  } catch (error) {
    throw new Error(`expected to see ${what} within ${WAIT / 1000} s\n${error.message.split("\n")[0]}`);
  }
}

// Starts waiting for the locator at once and returns a check to await later: for notices that
// last 6 s, so the wait begins before the action that causes them, not after earlier waits.
function watch(locator, what) {
  const outcome = visible(locator, what).then(
    () => null,
    (error) => error,
  );
  return async () => {
    const error = await outcome;
    if (error) throw error;
  };
}

// Waits until no element of the locator is visible.
async function gone(locator, what) {
  const deadline = Date.now() + WAIT;
  while ((await locator.filter({ visible: true }).count()) > 0) {
    if (Date.now() > deadline) throw new Error(`expected ${what} to disappear within ${WAIT / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const sidebar = (page) => page.getByRole("navigation", { name: "Chats and people" });
const messages = (page) => page.getByRole("list", { name: "Messages" });
const thread = (page) => page.getByRole("complementary", { name: "Thread" });
const message = (page, text) => messages(page).getByRole("listitem").filter({ hasText: text });
// Stored messages only: a pending item (sending… or not sent) has no data-message-id.
const stored = (page, text) => messages(page).locator("li[data-message-id]").filter({ hasText: text });
const dot = (page, person, state) => page.getByRole("img", { name: `${person.name} is ${state}` });

async function showTab(page, name) {
  const tab = sidebar(page).getByRole("tab", { name: new RegExp(`^${name}`) });
  await tab.click();
  assert.equal(await tab.getAttribute("aria-selected"), "true");
}

async function register(person) {
  const page = await openPerson(person);
  await page.goto(`${BASE_URL}/`);
  await page.getByRole("tab", { name: "Create account" }).click();
  const form = page.getByRole("tabpanel", { name: "Create account" });
  await form.getByLabel("Name", { exact: true }).fill(person.name);
  await form.getByLabel("Email").fill(person.email);
  await form.getByLabel("Password").fill(person.password);
  await form.getByRole("button", { name: "Create account" }).click();
  await visible(page.getByRole("heading", { name: `Welcome, ${person.name}` }), `${person.name}'s welcome`);
  await visible(page.getByRole("status").filter({ hasText: /^Live$/ }), `${person.name}'s socket to be live`);
}

// The latest verification code the gateway printed for `email`.
async function emailedCode(email) {
  assert.ok(GATEWAY_LOG, "GATEWAY_LOG names the gateway's output");
  const pattern = new RegExp(`email to ${escape(email)}: .*\\(verification code (\\d{6})\\)`, "g");
  const deadline = Date.now() + WAIT;
  for (;;) {
    const codes = [...readFileSync(GATEWAY_LOG, "utf8").matchAll(pattern)].map((match) => match[1]);
    if (codes.length) return codes[codes.length - 1];
    if (Date.now() > deadline) throw new Error(`no verification code for ${email} in the gateway's output`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// The HTTP API straight, for the people who need no browser (a crowd, a newcomer).
async function callApi(method, path, token, body) {
  const response = await fetch(`${BASE_URL}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  return response.status === 204 ? null : response.json();
}

// A real PNG, drawn on a canvas in the page (noise makes it some 45 KB, so a throttled upload
// takes a moment): the check decodes it and makes its thumbnail.
async function drawPng(page, width, height, label) {
  const base64 = await page.evaluate(
    ({ width, height, label }) => {
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      const context = canvas.getContext("2d");
      const gradient = context.createLinearGradient(0, 0, width, height);
      gradient.addColorStop(0, "#4f46e5");
      gradient.addColorStop(1, "#ec4899");
      context.fillStyle = gradient;
      context.fillRect(0, 0, width, height);
      const pixels = context.getImageData(0, 0, width, height);
      for (let i = 0; i < pixels.data.length; i += 4) pixels.data[i + 1] ^= Math.floor(Math.random() * 48);
      context.putImageData(pixels, 0, 0);
      context.fillStyle = "#fff";
      context.font = "bold 26px sans-serif";
      context.textAlign = "center";
      context.fillText(label, width / 2, height / 2 + 9);
      return canvas.toDataURL("image/png").split(",")[1];
    },
    { width, height, label },
  );
  return Buffer.from(base64, "base64");
}

// A small valid PDF.
const PDF = Buffer.from(
  "%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n" +
    "3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 200 200]>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n",
);

// The files in the channel's composer: one chip per file.
const tray = (page) => page.locator("#composer").getByRole("list", { name: "Files to send" });
const chip = (page, name) => tray(page).getByRole("listitem").filter({ hasText: name });

async function pickFiles(page, files) {
  const [chooser] = await Promise.all([
    page.waitForEvent("filechooser"),
    page.locator("#composer").getByRole("button", { name: "Attach files" }).click(),
  ]);
  await chooser.setFiles(files);
}

async function send(page, text, { box = "composer-input" } = {}) {
  const input = page.locator(`#${box}`);
  await input.fill(text);
  await input.press("Enter");
}

// Every step depends on the ones before: after a failure the rest are skipped, not failed.
let failed = false;
function step(t, name, fn) {
  return t.test(name, async (s) => {
    if (failed) return s.skip("an earlier step failed");
    try {
      await fn();
    } catch (error) {
      failed = true;
      throw error;
    }
  });
}

test(`web client end to end against ${BASE_URL}`, { timeout: 240_000 }, async (t) => {
  rmSync(SHOTS, { recursive: true, force: true });
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ["--no-sandbox"] });
  // Notices watched from one step to the next (see watch()).
  let bobRequestNotice;
  let aliceAcceptNotice;
  try {
    await step(t, "both register through the page and go live", async () => {
      await Promise.all([register(alice), register(bob)]);
    });

    await step(t, "both confirm their email with the code the gateway printed; Bob turns notification emails off", async () => {
      for (const person of [alice, bob]) {
        const banner = person.page.getByRole("region", { name: /Confirm your email/ });
        await visible(banner, `${person.name}'s verification banner`);
        const code = await emailedCode(person.email);
        const wrong = code.slice(0, 5) + ((Number(code[5]) + 1) % 10);
        await banner.getByLabel("Verification code").fill(wrong);
        await banner.getByRole("button", { name: "Verify" }).click();
        await visible(banner.getByRole("alert").filter({ hasText: "is wrong" }), "the wrong code refused");
        await banner.getByLabel("Verification code").fill(code);
        await banner.getByRole("button", { name: "Verify" }).click();
        await gone(banner, `${person.name}'s banner once verified`);
      }
      const page = bob.page;
      await page.getByRole("button", { name: "Your account" }).click();
      const dialog = page.getByRole("dialog", { name: "Your account" });
      await visible(dialog.getByText(`${bob.email} is confirmed.`), "Bob's confirmed address");
      const box = dialog.getByLabel(/Email me when someone sends or accepts/);
      assert.equal(await box.isChecked(), true, "notification emails are on by default");
      await box.uncheck();
      await visible(page.getByText("Notification emails off."), "the notice of the change");
      await dialog.getByRole("button", { name: "Close" }).click();
      const me = await page.evaluate(async () => {
        const key = Object.keys(localStorage).find((k) => k.startsWith("chat.session:"));
        return JSON.parse(localStorage.getItem(key)).user;
      });
      assert.equal(me.email_notifications, false, "kept with the session");
    });

    await step(t, "a link with ?ws= opens the settings dialog instead of connecting there", async () => {
      const page = alice.page;
      const sockets = [];
      page.on("websocket", (socket) => sockets.push(socket.url()));
      await page.goto(`${BASE_URL}/?ws=${encodeURIComponent("ws://127.0.0.1:9/")}`);
      const dialog = page.getByRole("dialog", { name: "Server settings" });
      await visible(dialog, "the settings dialog opened by the link");
      assert.equal(await dialog.getByLabel("WebSocket address").inputValue(), "ws://127.0.0.1:9/");
      const docs = await dialog.getByRole("link", { name: "API reference" }).getAttribute("href");
      const reference = await page.request.get(docs);
      assert.equal(reference.status(), 200, `the API reference at ${docs}`);
      assert.match(await reference.text(), /swagger-ui/, "the reference page is Swagger UI");
      assert.ok(!new URL(page.url()).searchParams.has("ws"), "?ws= is taken out of the address");
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await gone(dialog, "the settings dialog after Cancel");
      await visible(page.getByRole("heading", { name: `Welcome, ${alice.name}` }), "Alice still signed in");
      await visible(page.getByRole("status").filter({ hasText: /^Live$/ }), "Alice live on the usual socket");
      assert.equal(await page.evaluate(() => localStorage.getItem("chat.wsBase")), null, "nothing saved without Save");
      assert.deepEqual(sockets.filter((url) => new URL(url).port === "9"), [], "no socket to the linked address");
    });

    await step(t, "Bob logs out; a wrong password shows the API's error; he logs in again", async () => {
      const page = bob.page;
      await page.getByRole("button", { name: "Log out" }).click();
      const form = page.getByRole("tabpanel", { name: "Log in" });
      await form.getByLabel("Email").fill(bob.email);
      await form.getByLabel("Password").fill("not the password");
      await form.getByRole("button", { name: "Log in" }).click();
      await visible(form.getByRole("alert").filter({ hasText: "[unauthorized]" }), "the login error");
      assert.equal(await form.getByLabel("Password").getAttribute("aria-invalid"), "true", "the password marked invalid");
      await form.getByLabel("Password").fill(bob.password);
      await form.getByRole("button", { name: "Log in" }).click();
      await visible(page.getByRole("heading", { name: `Welcome, ${bob.name}` }), "Bob's welcome after logging in");
      await visible(page.getByRole("status").filter({ hasText: /^Live$/ }), "Bob's socket to be live again");
    });

    await step(t, "Alice sends Bob a partner request with a message", async () => {
      const page = alice.page;
      await showTab(page, "People");
      await sidebar(page).getByLabel("Filter people by name").fill(bob.name);
      await sidebar(page).getByRole("button", { name: `Add partner: ${bob.name}` }).click();
      const dialog = page.getByRole("dialog", { name: `Partner request to ${bob.name}` });
      await dialog.getByLabel("Message").fill("Shall we work together?");
      bobRequestNotice = watch(bob.page.getByText(`${alice.name} sent you a partner request.`), "the request notice");
      await dialog.getByRole("button", { name: "Send request" }).click();
      await gone(dialog, "the request dialog");
      await visible(sidebar(page).getByRole("button", { name: `Cancel request to ${bob.name}` }), "the sent request");
    });

    await step(t, "Bob gets it live in his inbox and accepts it", async () => {
      const page = bob.page;
      await bobRequestNotice();
      await showTab(page, "People");
      const inbox = sidebar(page).getByRole("list", { name: "Requests received" });
      await visible(inbox.getByText("Shall we work together?", { exact: false }), "the request's message");
      aliceAcceptNotice = watch(alice.page.getByText(`${bob.name} accepted your partner request.`), "the acceptance notice");
      await inbox.getByRole("button", { name: `Accept request from ${alice.name}` }).click();
      const partners = sidebar(page).getByRole("list", { name: "Partners" });
      await visible(partners.getByText(alice.name, { exact: true }), "Alice among Bob's partners");
      await visible(partners.getByRole("img", { name: `${alice.name} is online` }), "Alice online in Bob's partners");
    });

    await step(t, "Alice sees the acceptance live, with Bob online", async () => {
      const page = alice.page;
      await aliceAcceptNotice();
      const partners = sidebar(page).getByRole("list", { name: "Partners" });
      await visible(partners.getByText(bob.name, { exact: true }), "Bob among Alice's partners");
      await visible(partners.getByRole("img", { name: `${bob.name} is online` }), "Bob online in Alice's partners");
    });

    await step(t, "Alice opens a direct channel with Bob and writes", async () => {
      const page = alice.page;
      await sidebar(page).getByRole("list", { name: "Partners" }).getByRole("button", { name: `Message ${bob.name}` }).click();
      await visible(page.getByRole("heading", { name: bob.name, level: 1 }), "the direct channel's title");
      await send(page, "Hi Bob! The launch is on Friday.");
      await visible(stored(page, "Hi Bob! The launch is on Friday."), "Alice's message stored");
    });

    await step(t, "Bob gets the message live and the channel appears for him", async () => {
      const page = bob.page;
      await showTab(page, "Chats");
      const channel = sidebar(page).getByRole("button", { name: new RegExp(escape(alice.name)) });
      await visible(channel, "the new direct channel in Bob's list");
      await visible(sidebar(page).getByRole("button", { name: /1 unread/ }), "an unread count");
      await channel.click();
      await visible(message(page, "Hi Bob! The launch is on Friday."), "Alice's message in Bob's window");
    });

    await step(t, "Alice sees that Bob has read it", async () => {
      await visible(message(alice.page, "Hi Bob!").getByText(`Seen by ${bob.name}`), '"Seen by Bob" under Alice\'s message');
    });

    await step(t, "Bob types: Alice sees the typing indicator, then the message live", async () => {
      const input = bob.page.getByRole("textbox", { name: `Message ${alice.name}` });
      await input.click();
      await input.pressSequentially("Great, I'll prep", { delay: 40 });
      await visible(alice.page.getByText(`${bob.name} is typing…`), "Bob's typing indicator");
      await input.pressSequentially(" the demo.", { delay: 20 });
      await input.press("Enter");
      await visible(message(alice.page, "Great, I'll prep the demo."), "Bob's message in Alice's window");
      await gone(alice.page.getByText(`${bob.name} is typing…`), "the typing indicator");
    });

    await step(t, "Bob sees that Alice has read his reply", async () => {
      await visible(message(bob.page, "Great, I'll prep the demo.").getByText(`Seen by ${alice.name}`), '"Seen by Alice" under Bob\'s message');
    });

    await step(t, "Alice reacts; Bob sees the reaction live", async () => {
      const item = message(alice.page, "Great, I'll prep the demo.");
      await item.hover();
      await item.getByRole("button", { name: "Add reaction" }).click();
      await alice.page.getByRole("dialog", { name: "Add a reaction" }).getByRole("button", { name: "React with party" }).click();
      await visible(item.getByRole("button", { name: /^🎉 1, from you/ }), "Alice's own reaction");
      await visible(message(bob.page, "Great, I'll prep the demo.").getByRole("button", { name: new RegExp(`^🎉 1, from ${escape(alice.name)}`) }), "the reaction in Bob's window");
    });

    await step(t, "Bob replies in the thread of Alice's message; Alice sees the reply count and the reply", async () => {
      const item = message(bob.page, "Hi Bob!");
      await item.hover();
      await item.getByRole("button", { name: "Reply in thread" }).click();
      await visible(thread(bob.page), "Bob's thread panel");
      await send(bob.page, "Friday works. Which room?", { box: "thread-input" });
      await visible(thread(bob.page).getByRole("list", { name: "Replies" }).getByText("Friday works. Which room?"), "the reply in Bob's thread");
      await visible(message(alice.page, "Hi Bob!").getByRole("button", { name: "1 reply: open thread" }), "the reply count in Alice's window");
      await message(alice.page, "Hi Bob!").getByRole("button", { name: "1 reply: open thread" }).click();
      await visible(thread(alice.page).getByText("Friday works. Which room?"), "the reply in Alice's thread");
      await send(alice.page, "Room 4, at 10:00.", { box: "thread-input" });
      await visible(thread(bob.page).getByText("Room 4, at 10:00."), "Alice's reply live in Bob's thread");
      await visible(message(bob.page, "Hi Bob!").getByRole("button", { name: "2 replies: open thread" }), "two replies in Bob's window");
    });

    await step(t, "Alice edits her message; Bob sees the edit live", async () => {
      const item = message(alice.page, "Hi Bob!");
      await item.hover();
      await item.getByRole("button", { name: "Edit message" }).click();
      const editor = messages(alice.page).getByRole("textbox", { name: "Edit message" });
      await editor.fill("Hi Bob! The launch is on Friday at 10:00.");
      await editor.press("Enter");
      await visible(message(bob.page, "Friday at 10:00.").getByText("(edited)"), "the edit in Bob's window");
    });

    await step(t, "Alice sends and deletes a message; Bob sees it deleted", async () => {
      await send(alice.page, "Oops, wrong chat");
      await visible(message(bob.page, "Oops, wrong chat"), "the message in Bob's window");
      const item = message(alice.page, "Oops, wrong chat");
      await item.hover();
      await item.getByRole("button", { name: "Delete message" }).click();
      await alice.page.getByRole("dialog", { name: "Delete message" }).getByRole("button", { name: "Delete" }).click();
      await visible(messages(bob.page).getByText("This message was deleted."), "the deleted message in Bob's window");
      await gone(messages(bob.page).getByText("Oops, wrong chat"), "the deleted text");
    });

    await step(t, "Alice picks an image and a PDF: the chips show the upload's progress; a type not allowed and a false image show why they cannot go", async () => {
      const page = alice.page;
      const image = await drawPng(page, 200, 120, "Launch board");
      // A slow uplink for a moment, so the progress bar is there to be seen.
      const cdp = await alice.context.newCDPSession(page);
      await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 16 * 1024 });
      await pickFiles(page, [
        { name: "launch-board.png", mimeType: "image/png", buffer: image },
        { name: "launch-plan.pdf", mimeType: "application/pdf", buffer: PDF },
      ]);
      const bar = tray(page).getByRole("progressbar", { name: "Uploading launch-board.png" });
      await visible(bar, "the image's upload progress bar");
      await visible(chip(page, "launch-board.png").getByText(/uploading [1-9]\d*%/), "the percentage uploaded going up");
      await tidy(page);
      await shoot(page, "alice-uploading");
      await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await cdp.detach();
      await gone(bar, "the progress bar once the image is up");
      for (const name of ["launch-board.png", "launch-plan.pdf"]) {
        await visible(chip(page, name).getByText(/· (checking…|ready)$/), `${name} uploaded`);
      }
      // The API refuses a type; the check refuses bytes that are not what they claim to be.
      await pickFiles(page, [
        { name: "setup.exe", mimeType: "application/x-msdownload", buffer: Buffer.from("MZ not really") },
        { name: "holiday.png", mimeType: "image/png", buffer: Buffer.from("not a picture at all") },
      ]);
      await visible(chip(page, "setup.exe").getByText("the file type must be one of the types attachments may have", { exact: false }), "the API's refusal of the type");
      await visible(chip(page, "holiday.png").getByText("not attached: the file's content is not of the declared type"), "the check's reason");
      await visible(chip(page, "launch-board.png").getByText(/· ready$/), "the image checked");
      await tidy(page);
      await shoot(page, "alice-files-to-send");
      for (const name of ["setup.exe", "holiday.png"]) {
        await chip(page, name).getByRole("button", { name: `Remove ${name}` }).click();
        await gone(chip(page, name), `${name} removed`);
      }
      assert.equal(await tray(page).getByRole("listitem").count(), 2, "the image and the PDF still to send");
      await send(page, "The launch board and the plan.");
      const sent = stored(page, "The launch board and the plan.");
      await visible(sent.getByRole("button", { name: "Open launch-board.png full size" }), "the thumbnail in Alice's message");
      await visible(sent.getByRole("button", { name: "Download launch-plan.pdf" }), "the PDF in Alice's message");
      await gone(tray(page), "the files out of the composer");
    });

    await step(t, "Bob sees the image's thumbnail and the PDF, opens the image full size and downloads the PDF (URLs expired or refused are fetched again)", async () => {
      const page = bob.page;
      const item = stored(page, "The launch board and the plan.");
      const open = item.getByRole("button", { name: "Open launch-board.png full size" });
      // Once checked (a missed push is made up for by asking after 8 s).
      await open.waitFor({ state: "visible", timeout: WAIT + 10_000 });
      const thumbnail = open.locator("img");
      assert.equal(await thumbnail.getAttribute("alt"), "launch-board.png", "the file name as its alt text");
      assert.deepEqual([await thumbnail.getAttribute("width"), await thumbnail.getAttribute("height")], ["200", "120"], "sized before it loads");
      await thumbnail.evaluate((img) => img.decode());
      assert.ok((await thumbnail.evaluate((img) => img.naturalWidth)) > 0, "the thumbnail is a real image");
      await visible(item.getByText("launch-plan.pdf"), "the PDF's chip");
      await tidy(page);
      await shoot(page, "bob-files");

      // Sixteen minutes on, the URLs the message came with have expired: opening the image
      // asks the API for new ones first.
      const refetched = () =>
        page.waitForRequest((request) => request.method() === "GET" && request.url().startsWith(`${BASE_URL}/channels/`) && /\/attachments\/[^/]+$/.test(request.url()));
      await page.evaluate(() => {
        window.realNow = Date.now;
        Date.now = () => window.realNow() + 16 * 60 * 1000;
      });
      const renewed = refetched();
      await open.click();
      await renewed;
      await page.evaluate(() => {
        Date.now = window.realNow;
      });
      const dialog = page.getByRole("dialog", { name: "launch-board.png" });
      await visible(dialog, "the image dialog");
      const full = dialog.locator("img");
      await full.waitFor({ state: "visible" });
      assert.equal(await full.evaluate((img) => img.naturalWidth), 200, "the image full size");
      await shoot(page, "bob-image-full-size");
      await page.keyboard.press("Escape");
      await gone(dialog, "the image dialog after Escape");
      assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), "Open launch-board.png full size", "the focus back on the thumbnail");

      // The storage refuses the first try, as it does an expired URL: the page asks the API
      // for the attachment again and downloads with the new URL.
      let refused = 0;
      const objects = /\/attachments\/[^/?]+\/[^/?]+\?/;
      await page.route(objects, (route) => {
        if (refused++ > 0) return route.continue();
        return route.fulfill({ status: 403, headers: { "access-control-allow-origin": BASE_URL }, contentType: "application/xml", body: "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>" });
      });
      const asked = refetched();
      const downloaded = page.waitForEvent("download");
      await item.getByRole("button", { name: "Download launch-plan.pdf" }).click();
      await asked;
      const download = await downloaded;
      await page.unroute(objects);
      assert.equal(download.suggestedFilename(), "launch-plan.pdf");
      const bytes = readFileSync(await download.path());
      assert.equal(bytes.subarray(0, 4).toString(), "%PDF", "the PDF's bytes");
      assert.equal(refused, 2, "refused once, then fetched with the new URL");
    });

    await step(t, "Bob drops a text file on the conversation and pastes an image: his message of files alone reaches Alice", async () => {
      const page = bob.page;
      const files = await page.evaluateHandle(() => {
        const data = new DataTransfer();
        data.items.add(new File(["Agenda\n1. Demo\n2. Launch\n"], "agenda-notes.txt", { type: "text/plain" }));
        return data;
      });
      await page.dispatchEvent("#messages", "dragenter", { dataTransfer: files });
      await visible(page.getByText("Drop files to attach them"), "the drop area");
      await shoot(page, "bob-drop");
      await page.dispatchEvent("#messages", "drop", { dataTransfer: files });
      await gone(page.getByText("Drop files to attach them"), "the drop area after the drop");
      await visible(chip(page, "agenda-notes.txt"), "the dropped file in Bob's composer");
      // A screenshot pasted from the clipboard (a browser names it image.png).
      await page.locator("#composer-input").evaluate(async (input) => {
        const canvas = document.createElement("canvas");
        canvas.width = 90;
        canvas.height = 60;
        const context = canvas.getContext("2d");
        context.fillStyle = "#14935a";
        context.fillRect(0, 0, 90, 60);
        const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
        const data = new DataTransfer();
        data.items.add(new File([blob], "image.png", { type: "image/png" }));
        input.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
      });
      await visible(chip(page, "image.png"), "the pasted image in Bob's composer");
      for (const name of ["agenda-notes.txt", "image.png"]) {
        await visible(chip(page, name).getByText(/· (checking…|ready)$/), `${name} uploaded`);
      }
      // No text: files alone make a message.
      await page.locator("#composer-input").press("Enter");
      await gone(tray(page), "the files out of Bob's composer");
      const item = messages(alice.page).locator("li[data-message-id]").filter({ hasText: "agenda-notes.txt" });
      await visible(item.getByRole("button", { name: "Download agenda-notes.txt" }), "the text file in Alice's window, checked");
      await item.getByRole("button", { name: "Open image.png full size" }).waitFor({ state: "visible", timeout: WAIT + 10_000 });
      await item.locator('img[alt="image.png"]').evaluate((img) => img.decode());
      await visible(sidebar(page).getByRole("button", { name: new RegExp(escape(alice.name)) }).getByText("📎 Attachment"), "the preview of a message of files");
    });

    await step(t, "a message sent before its image is checked shows it being checked, then its thumbnail in place", async () => {
      // Alice, from another device over the API: the message takes the upload before the file is even there.
      const token = await alice.page.evaluate(() => {
        const key = Object.keys(localStorage).find((k) => k.startsWith("chat.session:"));
        return JSON.parse(localStorage.getItem(key)).token;
      });
      const channelId = await sidebar(bob.page).getByRole("button", { name: new RegExp(escape(alice.name)) }).getAttribute("data-channel-id");
      const image = await drawPng(bob.page, 160, 100, "Sketch");
      const { attachment, upload } = await callApi("POST", `/channels/${channelId}/attachments`, token, { name: "late-sketch.png", content_type: "image/png", size: image.length });
      await callApi("POST", `/channels/${channelId}/messages`, token, { body: "A sketch, still on its way.", attachment_ids: [attachment.id] });
      const item = stored(bob.page, "A sketch, still on its way.");
      await visible(item.getByText("checking…"), "the image being checked");
      await tidy(bob.page);
      await shoot(bob.page, "bob-image-checking");
      const form = new FormData();
      for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
      form.append("file", new Blob([image], { type: "image/png" }), "late-sketch.png");
      const uploaded = await fetch(upload.url, { method: upload.method, body: form });
      assert.equal(uploaded.status, 204, "the storage took the file");
      const thumbnail = item.getByRole("button", { name: "Open late-sketch.png full size" }).locator("img");
      await visible(thumbnail, "the thumbnail in place once checked");
      await thumbnail.evaluate((img) => img.decode());
      await gone(item.getByText("checking…"), "the checking state");
    });

    await step(t, "screenshots at desktop size", async () => {
      await tidy(alice.page);
      await tidy(bob.page);
      await bob.page.locator("#thread-input").focus();
      await shoot(alice.page, "alice-desktop-people");
      await shoot(bob.page, "bob-desktop");
    });

    await step(t, "Bob's network drops: Alice sees him offline; he comes back and catches up", async () => {
      await bob.context.setOffline(true);
      await visible(bob.page.getByRole("status").filter({ hasText: /^Offline/ }), "Bob's offline status");
      await visible(dot(alice.page, bob, "offline"), "Bob offline in Alice's window");
      await send(alice.page, "Did you get the agenda?");
      await visible(stored(alice.page, "Did you get the agenda?"), "Alice's message stored");
      await bob.context.setOffline(false);
      await visible(bob.page.getByRole("status").filter({ hasText: /^Live$/ }), "Bob live again");
      await visible(message(bob.page, "Did you get the agenda?"), "the missed message after the reconnect");
      await visible(dot(alice.page, bob, "online"), "Bob online again in Alice's window");
    });

    // The assistant's replies in the open channel, and the text of one of them.
    const replies = (page) => messages(page).getByRole("listitem", { name: /^Assistant\b/ });
    const replyText = (reply) => reply.locator(".message-body").evaluate((el) => el.textContent);
    // The complete text of the first reply, to compare the stopped one with.
    let helpAnswer = "";

    await step(t, "Alice asks the assistant: the reply streams in, growing in place behind a caret, then completes", async () => {
      const page = alice.page;
      await showTab(page, "Chats");
      await sidebar(page).getByRole("button", { name: "Assistant", exact: true }).click();
      await visible(page.getByRole("heading", { name: /^Assistant/, level: 1 }), "the assistant channel");
      const before = await replies(page).count();
      // "help" gets the rules' 33-word answer, a word per 120 ms here (browser-test.sh).
      await send(page, "Hello! Can you help me plan the launch?");
      await visible(message(page, "Hello! Can you help me plan the launch?"), "the question");
      const reply = replies(page).nth(before);
      await visible(reply, "the assistant's reply");
      // Sampled until it ends: its text and whether it is busy (streaming); a mark on its body
      // tells whether the body was rebuilt (a re-render) or grew in place.
      const samples = [];
      const deadline = Date.now() + 30_000;
      for (;;) {
        const sample = await reply.evaluate((el) => {
          const body = el.querySelector(".message-body");
          const kept = body.dataset.probe === "1";
          body.dataset.probe = "1";
          return {
            text: body.textContent,
            busy: el.getAttribute("aria-busy") === "true",
            kept,
            caret: getComputedStyle(body, "::after").content !== "none",
            stop: Boolean(el.querySelector(".stop-reply")),
          };
        });
        samples.push(sample);
        if (!sample.busy) break;
        if (samples.length === 8) await shoot(page, "alice-assistant-streaming");
        assert.ok(Date.now() < deadline, "the reply ends within 30 s");
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      const streaming = samples.filter((sample) => sample.busy);
      const partial = [...new Set(streaming.map((sample) => sample.text).filter(Boolean))];
      assert.ok(partial.length >= 2, `at least two partial texts while it streamed (saw ${JSON.stringify(partial)})`);
      assert.ok(streaming.every((sample) => sample.stop && sample.caret), "a caret and a Stop button while it streams");
      assert.ok(streaming.slice(1).every((sample) => sample.kept), "the text grew in place (the message was not re-rendered)");
      for (let i = 1; i < streaming.length; i++) {
        assert.ok(streaming[i].text.startsWith(streaming[i - 1].text), "each partial text goes on from the one before");
      }
      helpAnswer = await replyText(reply);
      // The last piece may come before the end (the status): only the first partial text must be short of it.
      for (const text of partial) assert.ok(helpAnswer.startsWith(text), `the final text ${JSON.stringify(helpAnswer)} goes on from ${JSON.stringify(text)}`);
      assert.ok(partial[0].length < helpAnswer.length, "the reply was seen before it was whole");
      assert.equal(await reply.getAttribute("aria-busy"), null, "no longer busy");
      assert.equal(await reply.getByRole("button", { name: "Stop reply" }).count(), 0, "no Stop button once complete");
      assert.equal(await reply.locator(".reply-note").count(), 0, "no note on a complete reply");
      assert.equal(samples.at(-1).caret, false, "no caret once complete");
      // The channel list previews the finished reply (a piece is not a new message: no badge).
      const entry = sidebar(page).getByRole("list", { name: "Your channels" }).getByRole("button", { name: /^Assistant/ });
      await visible(entry.getByText(`Assistant: ${helpAnswer.slice(0, 40)}`), "the reply previewed in the list");
      assert.equal(await entry.locator(".badge").count(), 0, "no unread badge for the open channel");
      await tidy(page);
      await shoot(page, "alice-assistant");
    });

    await step(t, "Alice asks again and stops the reply while it streams: it says Stopped and grows no more", async () => {
      const page = alice.page;
      const before = await replies(page).count();
      await send(page, "help");
      const reply = replies(page).nth(before);
      await visible(reply, "the second reply");
      await visible(reply.getByRole("button", { name: "Stop reply" }), "the Stop button while it streams");
      // Some 14 words in (1.7 s), then Stop: the reply keeps what was streamed when its writer
      // noticed the stop (within a second), so no word shown is taken back.
      const deadline = Date.now() + WAIT;
      while ((await replyText(reply)).trim().split(/\s+/).length < 14) {
        assert.ok(Date.now() < deadline, "the reply's first words within the wait");
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      assert.equal(await reply.getAttribute("aria-busy"), "true", "still streaming when Stop is pressed");
      const shown = await replyText(reply);
      await reply.getByRole("button", { name: "Stop reply" }).click();
      await visible(reply.getByText("Stopped", { exact: true }), "the Stopped note");
      await gone(reply.getByRole("button", { name: "Stop reply" }), "the Stop button once stopped");
      assert.equal(await reply.getAttribute("aria-busy"), null, "no longer busy");
      assert.ok((await replyText(reply)).startsWith(shown), "no word shown is taken back");
      // The writer's last word comes within a second; then nothing more.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const stopped = await replyText(reply);
      assert.ok(stopped.startsWith(shown), "the stopped reply keeps every word that was shown");
      assert.ok(helpAnswer.startsWith(stopped) && stopped.length < helpAnswer.length, `only the beginning of the answer: ${JSON.stringify(stopped)}`);
      // The rest of the answer would take seconds more: nothing is added meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(await replyText(reply), stopped, "the text no longer grows");
      assert.equal(await page.evaluate(() => document.activeElement.id), "composer-input", "the focus back in the composer");
      await tidy(page);
      await shoot(page, "alice-assistant-stopped");
    });

    await step(t, "Alice creates a public group with Bob; Bob gets its first message live", async () => {
      const page = alice.page;
      const group = `Launch team ${run}`;
      await sidebar(page).getByRole("button", { name: "New group" }).click();
      const dialog = page.getByRole("dialog", { name: "New group" });
      await dialog.getByLabel("Name").fill(group);
      await dialog.getByRole("radio", { name: /^Public/ }).check();
      await dialog.getByRole("checkbox", { name: bob.name }).check();
      await dialog.getByRole("button", { name: "Create group" }).click();
      await gone(dialog, "the group dialog");
      await visible(page.getByRole("heading", { name: group, level: 1 }), "the new group's title");
      await visible(page.getByText("Public group · 2 members"), "the group's subtitle");
      await send(page, "Welcome to the launch team!");
      const channel = sidebar(bob.page).getByRole("button", { name: new RegExp(`${escape(group)}.*1 unread`) });
      await visible(channel, "the group with an unread message in Bob's list");
      await channel.click();
      await visible(message(bob.page, "Welcome to the launch team!"), "the group's message in Bob's window");
      await sidebar(bob.page).getByRole("button", { name: new RegExp(escape(alice.name)) }).click();
      await visible(message(bob.page, "Did you get the agenda?"), "Bob back in the direct channel");
    });

    await step(t, "Bob reports a message in the group; Alice, its owner, sees the report", async () => {
      const group = `Launch team ${run}`;
      await sidebar(bob.page).getByRole("button", { name: new RegExp(escape(group)) }).click();
      const welcome = message(bob.page, "Welcome to the launch team!");
      await welcome.hover();
      await welcome.getByRole("button", { name: "Report message" }).click();
      const dialog = bob.page.getByRole("dialog", { name: "Report message" });
      await dialog.getByRole("radio", { name: "Harassment" }).check();
      await dialog.getByLabel("Note").fill("not nice");
      await dialog.getByRole("button", { name: "Report", exact: true }).click();
      await gone(dialog, "the report dialog");
      await visible(bob.page.getByText("Thanks: the message is reported."), "the confirmation");
      const page = alice.page;
      await sidebar(page).getByRole("button", { name: new RegExp(escape(group)) }).click();
      await page.getByRole("button", { name: "Members", exact: true }).click();
      const members = page.getByRole("dialog", { name: "Members" });
      const reports = members.getByRole("list", { name: "Reports" });
      await visible(reports.getByText(`${bob.name} reported a message as harassment: not nice`), "the report in Alice's members dialog");
      await members.getByRole("button", { name: "Close" }).click();
      await gone(members, "the members dialog");
      await sidebar(bob.page).getByRole("button", { name: new RegExp(escape(alice.name)) }).click();
    });

    await step(t, "Bob leaves the direct channel; Alice's next message brings it back", async () => {
      const page = bob.page;
      await page.getByRole("button", { name: "Leave channel" }).click();
      const confirm = page.getByRole("dialog", { name: "Leave channel" });
      await confirm.getByRole("button", { name: "Leave" }).click();
      const entry = sidebar(page).getByRole("button", { name: new RegExp(escape(alice.name)) });
      await gone(entry, "the direct channel in Bob's list");
      await page.reload();
      await visible(page.getByRole("status").filter({ hasText: /^Live$/ }), "Bob live after the reload");
      assert.equal(await entry.filter({ visible: true }).count(), 0, "still hidden after a reload");
      await sidebar(alice.page).getByRole("button", { name: new RegExp(escape(bob.name)) }).click();
      await send(alice.page, "Still there?");
      await visible(entry, "the direct channel back in Bob's list");
      await entry.click();
      await visible(message(page, "Still there?"), "Alice's new message in Bob's window");
    });

    await step(t, "a big group shows its first 100 members, and the rest on request", async () => {
      const page = alice.page;
      const api = callApi;
      const crowd = [];
      for (let start = 0; start < 101; start += 8) {
        const batch = Array.from({ length: Math.min(8, 101 - start) }, (_, i) =>
          api("POST", "/auth/register", null, {
            email: `crowd-${start + i}-${stamp}@example.com`,
            name: `Crowd ${start + i}`,
            password: "correct horse battery",
          }),
        );
        crowd.push(...(await Promise.all(batch)));
      }
      const group = `Crowd ${run}`;
      const channel = await api("POST", "/channels", crowd[0].token, { name: group, private: false });
      for (let start = 1; start < crowd.length; start += 8) {
        await Promise.all(crowd.slice(start, start + 8).map((member) => api("POST", `/channels/${channel.id}/join`, member.token)));
      }
      const session = await page.evaluate(() =>
        Object.keys(localStorage)
          .filter((key) => key.startsWith("chat.session:"))
          .map((key) => JSON.parse(localStorage.getItem(key)))
          .find(Boolean),
      );
      // Alice (no partner of the crowd) joins from another device of hers: this page learns of
      // the channel from member.joined, and it shows in her list.
      await api("POST", `/channels/${channel.id}/join`, session.token);
      const entry = sidebar(page).getByRole("button", { name: new RegExp(escape(group)) });
      await visible(entry, "the crowd's group in Alice's list");
      await entry.click();
      await visible(page.getByText("Public group · 102 members"), "the big group's subtitle");
      await page.getByRole("button", { name: "Members", exact: true }).click();
      const dialog = page.getByRole("dialog", { name: "Members" });
      const rows = dialog.getByRole("list").getByRole("listitem");
      await visible(rows.nth(99), "the first 100 members");
      assert.equal(await rows.count(), 100, "a channel shows its first 100 members");
      const more = dialog.getByRole("button", { name: "Show more (2 more)" });
      await visible(more, "the button for the other 2");
      await more.click();
      await visible(rows.nth(101), "all 102 members");
      assert.equal(await rows.count(), 102);
      await visible(dialog.getByText(`${alice.name} (you)`), "Alice, joined last");
      await gone(more, "the button once every member is shown");
      await page.keyboard.press("Escape");
      await gone(dialog, "the members dialog");
    });

    const group = `Launch team ${run}`;
    const renamed = `Launch crew ${run}`;
    const channelList = (page) => sidebar(page).getByRole("list", { name: "Your channels" });
    const entryOf = (page, pattern) => sidebar(page).getByRole("button", { name: new RegExp(pattern) });

    await step(t, "a message to a channel not open shows in the list: preview, unread badge, first place; opening it clears the badge", async () => {
      const first = channelList(bob.page).getByRole("button").first();
      await visible(first.filter({ hasText: alice.name }), "the direct channel first in Bob's list");
      await entryOf(alice.page, escape(group)).click();
      await visible(alice.page.getByRole("heading", { name: group, level: 1 }), "the group open in Alice's window");
      await send(alice.page, "The agenda draft is ready.");
      const entry = entryOf(bob.page, `^${escape(group)}.*1 unread`);
      await visible(entry, "the group with 1 unread in Bob's list");
      await visible(entry.getByText(`${alice.name}: The agenda draft is ready.`), "the preview of the message");
      await visible(first.filter({ hasText: group }), "the group first in Bob's list");
      // The server counts it too: the badge is still there after a reload.
      await bob.page.reload();
      await visible(bob.page.getByRole("status").filter({ hasText: /^Live$/ }), "Bob live after the reload");
      await visible(entry, "the unread badge from the server's count");
      await visible(first.filter({ hasText: group }), "the group still first");
      assert.equal(await bob.page.title(), "(1) Chat", "the unread count in the title");
      await entry.click();
      await visible(message(bob.page, "The agenda draft is ready."), "the message in Bob's window");
      await gone(entryOf(bob.page, `^${escape(group)}.*unread`), "the badge once the group is open");
      assert.equal(await bob.page.title(), "Chat");
    });

    await step(t, "Alice mentions Bob with the @-autocomplete; Bob sees a mention badge and the message marked for him", async () => {
      // Bob elsewhere, so that the group's badge shows.
      await entryOf(bob.page, escape(alice.name)).click();
      await visible(message(bob.page, "Still there?"), "Bob back in the direct channel");
      const input = alice.page.getByRole("textbox", { name: `Message ${group}` });
      await input.click();
      await input.pressSequentially("@");
      const suggestions = alice.page.getByRole("listbox", { name: "Mention a member" });
      const option = suggestions.getByRole("option", { name: bob.name });
      await visible(option, "Bob suggested");
      assert.equal(await option.getAttribute("aria-selected"), "true", "the first suggestion is the active one");
      await shoot(alice.page, "alice-mention-autocomplete");
      await input.press("ArrowDown");
      await input.press("Enter");
      await gone(suggestions, "the suggestions once Bob is picked");
      assert.equal(await input.inputValue(), `@${bob.name} `, "the name written into the message");
      await input.pressSequentially("can you review it?");
      await input.press("Enter");
      await visible(stored(alice.page, "can you review it?").locator("strong.mention", { hasText: `@${bob.name}` }), "the mention emphasized for Alice");
      const entry = entryOf(bob.page, `^${escape(group)}.*1 mention.*1 unread`);
      await visible(entry, "the mention badge in Bob's list");
      await entry.click();
      const mentioned = messages(bob.page).getByRole("listitem", { name: /mentions you/ }).filter({ hasText: "can you review it?" });
      await visible(mentioned, "the message marked as mentioning Bob");
      await visible(mentioned.locator("strong.mention-me", { hasText: `@${bob.name}` }), "Bob's name emphasized");
      await gone(entryOf(bob.page, `^${escape(group)}.*mention`), "the mention badge once the group is open");
    });

    await step(t, "Bob mutes the group: his list shows it muted, its messages leave his unread total, and a read elsewhere clears it", async () => {
      await bob.page.getByRole("button", { name: "Mute channel" }).click();
      await visible(bob.page.getByRole("button", { name: "Unmute channel" }), "the button to unmute");
      await visible(entryOf(bob.page, `^${escape(group)}.*muted`), "the group marked muted in Bob's list");
      await entryOf(bob.page, escape(alice.name)).click();
      await visible(message(bob.page, "Still there?"), "Bob back in the direct channel");
      await send(alice.page, "Coffee at 9?");
      const entry = entryOf(bob.page, `^${escape(group)}.*muted.*1 unread`);
      await visible(entry, "the muted group's unread count");
      assert.equal(await entry.locator(".badge-muted").count(), 1, "the count shown muted");
      assert.equal(await bob.page.locator("#chats-count").isHidden(), true, "nothing added to the Chats count");
      assert.equal(await bob.page.title(), "Chat", "nor to the title");
      // Bob reads it on another device: the badge goes here too (read_receipt to his own connections).
      const token = await bob.page.evaluate(() => {
        const key = Object.keys(localStorage).find((k) => k.startsWith("chat.session:"));
        return JSON.parse(localStorage.getItem(key)).token;
      });
      const channelId = await entry.getAttribute("data-channel-id");
      const { items } = await callApi("GET", `/channels/${channelId}/messages?limit=1`, token);
      await callApi("POST", `/channels/${channelId}/read`, token, { message_id: items[0].id });
      await gone(entryOf(bob.page, `^${escape(group)}.*unread`), "the badge after reading on another device");
    });

    await step(t, "Alice renames the group, describes it and turns slow mode on; Bob's list and header follow live, and slow mode holds him", async () => {
      await entryOf(bob.page, `^${escape(group)}`).click();
      await visible(bob.page.getByRole("heading", { name: group, level: 1 }), "the group open in Bob's window");
      await alice.page.getByRole("button", { name: "Channel settings" }).click();
      const dialog = alice.page.getByRole("dialog", { name: "Channel settings" });
      assert.equal(await dialog.getByLabel("Name", { exact: true }).inputValue(), group);
      await dialog.getByLabel("Name", { exact: true }).fill(renamed);
      await dialog.getByLabel("Description").fill("Everything about Friday's launch");
      await dialog.getByLabel("Slow mode").selectOption({ label: "30 seconds" });
      await dialog.getByRole("button", { name: "Save" }).click();
      await gone(dialog, "the settings dialog after Save");
      await visible(alice.page.getByRole("heading", { name: renamed, level: 1 }), "the new name in Alice's header");
      await visible(bob.page.getByRole("heading", { name: renamed, level: 1 }), "the new name in Bob's header");
      await visible(bob.page.getByRole("main").getByText("Everything about Friday's launch"), "the description in Bob's header");
      await visible(bob.page.getByRole("main").getByText("Slow mode: 30 s"), "the slow mode in Bob's header");
      await visible(entryOf(bob.page, `^${escape(renamed)}`), "the new name in Bob's list");
      await send(bob.page, "Count me in.");
      await visible(stored(bob.page, "Count me in."), "Bob's first message");
      await send(bob.page, "And I'll bring snacks.");
      await visible(message(bob.page, "And I'll bring snacks.").getByText(/^not sent/), "the second one refused");
      await visible(bob.page.getByRole("alert").getByText(/slow mode is on.*wait/i), "why, and that he must wait");
      await message(bob.page, "And I'll bring snacks.").getByRole("button", { name: "Discard" }).click();
      await bob.page.mouse.move(1, 1);
      await shoot(bob.page, "bob-slow-mode");
    });

    await step(t, "Alice makes Bob an admin; Bob removes a newcomer; Alice hands the group over to Bob", async () => {
      const carol = `Carol ${run}`;
      const channelId = await entryOf(alice.page, `^${escape(renamed)}`).getAttribute("data-channel-id");
      const newcomer = await callApi("POST", "/auth/register", null, { email: `carol-${stamp}@example.com`, name: carol, password: "correct horse battery" });
      await callApi("POST", `/channels/${channelId}/join`, newcomer.token);
      await visible(alice.page.getByText("Public group · 3 members"), "Carol counted in Alice's header");
      const dialog = (page) => page.getByRole("dialog", { name: "Members" });
      const row = (page, name) => dialog(page).getByRole("list", { name: "Members" }).getByRole("listitem").filter({ hasText: name });
      for (const person of [alice, bob]) {
        await person.page.getByRole("button", { name: "Members", exact: true }).click();
        await visible(row(person.page, carol), `Carol in ${person.name}'s members dialog`);
      }
      await visible(row(alice.page, alice.name).getByText("owner", { exact: true }), "Alice shown as the owner");
      await row(alice.page, bob.name).getByRole("button", { name: `Make ${bob.name} an admin` }).click();
      for (const person of [alice, bob]) {
        await visible(row(person.page, bob.name).getByText("admin", { exact: true }), `Bob an admin in ${person.name}'s dialog`);
      }
      // An admin removes members.
      await row(bob.page, carol).getByRole("button", { name: `Remove ${carol}` }).click();
      await bob.page.getByRole("dialog", { name: "Remove member" }).getByRole("button", { name: "Remove" }).click();
      for (const person of [alice, bob]) await gone(row(person.page, carol), `Carol gone from ${person.name}'s dialog`);
      const left = await callApi("GET", "/channels", newcomer.token);
      assert.ok(!left.items.some((channel) => channel.id === channelId), "the group gone from Carol's list");
      await row(alice.page, bob.name).getByRole("button", { name: `Make ${bob.name} the owner` }).click();
      await alice.page.getByRole("dialog", { name: "Transfer ownership" }).getByRole("button", { name: "Make owner" }).click();
      for (const person of [alice, bob]) {
        await visible(row(person.page, bob.name).getByText("owner", { exact: true }), `Bob the owner in ${person.name}'s dialog`);
        await visible(row(person.page, alice.name).getByText("admin", { exact: true }), `Alice an admin in ${person.name}'s dialog`);
      }
      await bob.page.mouse.move(1, 1);
      await shoot(bob.page, "bob-members-owner");
      for (const person of [alice, bob]) {
        await person.page.keyboard.press("Escape");
        await gone(dialog(person.page), `${person.name}'s members dialog`);
      }
      await visible(bob.page.getByRole("button", { name: "Channel settings" }), "the settings open to Bob, the owner now");
      // Back where the steps below expect Bob.
      await entryOf(bob.page, escape(alice.name)).click();
      await visible(message(bob.page, "Friday at 10:00."), "Bob back in the direct channel");
    });

    await step(t, "screenshots at phone width", async () => {
      const page = bob.page;
      await page.setViewportSize(PHONE);
      await visible(page.getByRole("button", { name: "Show chats and people" }), "the sidebar toggle at phone width");
      await tidy(page);
      await shoot(page, "bob-phone");
      await message(page, "Friday at 10:00.").getByRole("button", { name: "2 replies: open thread" }).click();
      await visible(thread(page), "the thread panel at phone width");
      // What an overlay covers is out of reach of Tab (inert) until it closes.
      const chatInert = () => page.locator("#chat").evaluate((el) => el.inert);
      assert.equal(await chatInert(), true, "the conversation is inert behind the thread panel");
      await shoot(page, "bob-phone-thread");
      await page.keyboard.press("Escape");
      await gone(thread(page), "the thread panel after Escape");
      assert.equal(await chatInert(), false, "the conversation is reachable again");
      await page.getByRole("button", { name: "Show chats and people" }).click();
      await visible(sidebar(page).getByRole("tab", { name: /^Chats/ }), "the sidebar at phone width");
      assert.equal(await chatInert(), true, "the conversation is inert behind the sidebar");
      await shoot(page, "bob-phone-sidebar");
      await page.keyboard.press("Escape");
      await gone(sidebar(page).getByRole("tab", { name: /^Chats/ }), "the sidebar after Escape");
      assert.equal(await chatInert(), false, "the conversation is reachable after the sidebar closes");
    });

    await step(t, "Bob closes his window: Alice sees him go offline", async () => {
      const page = alice.page;
      await sidebar(page).getByRole("button", { name: new RegExp(escape(bob.name)) }).first().click();
      await visible(dot(page, bob, "online"), "Bob online before he leaves");
      await message(page, "Friday at 10:00.").getByRole("button", { name: "2 replies: open thread" }).click();
      await visible(thread(page).getByText("Room 4, at 10:00."), "the thread in Alice's window");
      await tidy(page);
      await shoot(page, "alice-desktop");
      await bob.page.close();
      await visible(dot(alice.page, bob, "offline"), "Bob offline after his window closed");
    });

    await step(t, "Alice blocks Bob from one of his messages, then unblocks him in People", async () => {
      const page = alice.page;
      const his = message(page, "Great, I'll prep the demo.");
      await his.hover();
      await his.getByRole("button", { name: `Block ${bob.name}` }).click();
      const confirm = page.getByRole("dialog", { name: "Block user" });
      await confirm.getByRole("button", { name: "Block", exact: true }).click();
      await visible(page.getByText(`${bob.name} is blocked.`), "the confirmation");
      await gone(message(page, "Great, I'll prep the demo."), "Bob's message in Alice's view after the block");
      await showTab(page, "People");
      const everyone = sidebar(page).getByRole("list", { name: "Everyone" });
      await visible(everyone.getByRole("button", { name: `Unblock ${bob.name}` }), "Bob blocked in Alice's list");
      const partners = sidebar(page).getByRole("list", { name: "Partners" });
      await gone(partners.getByText(bob.name, { exact: true }), "Bob among Alice's partners after the block");
      await everyone.getByRole("button", { name: `Unblock ${bob.name}` }).click();
      await visible(everyone.getByRole("button", { name: `Add partner: ${bob.name}` }), "Bob can be asked again");
      await showTab(page, "Chats");
    });

    // Search: the box at the top of the sidebar; its hits are buttons in a list.
    const searchBox = (page) => sidebar(page).getByRole("searchbox", { name: "Search messages" });
    const results = (page) => sidebar(page).getByRole("list", { name: "Search results" });
    const hits = (page) => results(page).getByRole("button");
    const searchStatus = (page) => sidebar(page).getByRole("status");
    // The index is written off the request path (the event router): the search is asked again
    // (Enter) until it finds `text`.
    async function searchUntil(page, query, text) {
      const box = searchBox(page);
      await box.fill(query);
      await box.press("Enter");
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          await hits(page).filter({ hasText: text }).first().waitFor({ state: "visible", timeout: 1000 });
          return;
        } catch {
          if (Date.now() > deadline) throw new Error(`the search for "${query}" did not find "${text}" within 15 s`);
          await box.press("Enter");
        }
      }
    }
    const crowd = `Crowd ${run}`;
    const rehearsal = "Launch rehearsal moves to Friday morning.";
    const party = "Launch party on Friday night!";
    const cafe = "Café au lait for the crew at 4?";

    await step(t, "Alice's messages are found by their words across her channels, newest first, accents folded", async () => {
      const page = alice.page;
      await entryOf(page, `^${escape(renamed)}`).click();
      await visible(page.getByRole("heading", { name: renamed, level: 1 }), "the renamed group open");
      await send(page, rehearsal);
      await visible(stored(page, rehearsal), "the message in the group");
      await entryOf(page, `^${escape(crowd)}`).click();
      await visible(page.getByRole("heading", { name: crowd, level: 1 }), "the crowd's group open");
      await send(page, cafe);
      await visible(stored(page, cafe), "the first message in the crowd's group");
      await send(page, party);
      await visible(stored(page, party), "the second message in the crowd's group");

      // Two words, the last one cut short.
      await searchUntil(page, "launch fri", party);
      await searchUntil(page, "launch fri", rehearsal);
      await visible(searchStatus(page).filter({ hasText: /^\d+ messages found/ }), "the count of the results");
      const texts = await hits(page).allTextContents();
      assert.ok(texts[0].includes(party) && texts[0].includes(crowd), `the newest first, with its channel: ${JSON.stringify(texts[0])}`);
      assert.ok(texts[1].includes(rehearsal) && texts[1].includes(renamed), `then the older one, with its channel: ${JSON.stringify(texts[1])}`);
      assert.ok(texts[0].includes(alice.name), "the sender named");
      assert.deepEqual(await hits(page).first().locator("mark").allTextContents(), ["Launch", "Friday"], "the words found marked");
      await tidy(page);
      await shoot(page, "alice-search");

      // Without its accent; a word found nowhere.
      await searchUntil(page, "cafe", cafe);
      assert.equal(await hits(page).count(), 1, "one message holds a word beginning with cafe");
      assert.deepEqual(await hits(page).first().locator("mark").allTextContents(), ["Café"]);
      await searchBox(page).fill(`nowhere${run}`);
      await visible(searchStatus(page).filter({ hasText: "No messages found" }), "the empty state");
      assert.equal(await hits(page).count(), 0);
    });

    await step(t, "a hit opens its message in its channel, marked; the channel's own search finds only its message; Escape closes the search", async () => {
      const page = alice.page;
      await searchUntil(page, "launch fri", rehearsal);
      await hits(page).filter({ hasText: rehearsal }).click();
      await visible(page.getByRole("heading", { name: renamed, level: 1 }), "the hit's channel open");
      const found = messages(page).locator("li.found[data-message-id]").filter({ hasText: rehearsal });
      await visible(found, "the message marked as the one found");
      // The mark fades after 3 s: the rest is checked on the message itself.
      const item = stored(page, rehearsal);
      const inView = await item.evaluate((el) => {
        const box = document.getElementById("messages").getBoundingClientRect();
        const rect = el.getBoundingClientRect();
        return rect.top >= box.top - 1 && rect.bottom <= box.bottom + 1;
      });
      assert.ok(inView, "the message scrolled into view");
      assert.equal(
        await page.evaluate(() => document.activeElement.dataset.messageId),
        await item.getAttribute("data-message-id"),
        "the focus on the message",
      );
      await shoot(page, "alice-search-found");

      await page.getByRole("button", { name: "Search in this channel" }).click();
      await visible(sidebar(page).getByText(`In ${renamed} only`), "the search limited to the group");
      await visible(searchStatus(page).filter({ hasText: `1 message found in ${renamed}` }), "one result in the group");
      assert.equal(await hits(page).count(), 1, "only the group's message");
      assert.ok((await hits(page).first().textContent()).includes(rehearsal));
      await searchBox(page).press("Escape");
      await gone(results(page), "the results after Escape");
      await visible(channelList(page), "the channel list back");
      assert.equal(await searchBox(page).inputValue(), "", "the search box emptied");
      assert.equal(await page.evaluate(() => document.activeElement.id), "search-input", "the focus in the search box");
    });

    await step(t, "no uncaught error in either page", async () => {
      assert.deepEqual(problems, [], `the pages reported errors:\n${problems.join("\n")}`);
    });
  } finally {
    if (failed) {
      for (const person of [alice, bob]) {
        if (person.page && !person.page.isClosed()) {
          await shoot(person.page, `failure-${person.name.split(" ")[0].toLowerCase()}`).catch(() => {});
        }
      }
      console.error(`screenshots of the failure are in ${SHOTS}`);
    }
    await browser.close();
  }
});
