// The open channel: history (newest page first, older pages on scroll up), live messages,
// threads, reactions, edits and deletes, typing, read receipts, mentions (an @-autocomplete),
// files (uploads.js for the composers, attachments.js for the messages), and sending over the
// socket (with the REST route as the fallback; the same client_id makes a retry harmless); its
// header's mute and settings, and its members' roles.

import { api, allPages } from "./api.js";
import {
  h,
  clear,
  icon,
  avatar,
  announce,
  busy,
  showError,
  describeError,
  toast,
  shortTime,
  longTime,
  confirmDialog,
  newClientId,
  formError,
  formatSeconds,
} from "./dom.js";
import {
  state,
  emit,
  on,
  nameOf,
  rememberName,
  channelTitle,
  otherMember,
  compareIds,
  countUnread,
  clearUnread,
  myRole,
  ASSISTANT_ID,
} from "./store.js";
import { presenceDot } from "./presence.js";
import {
  attachmentList,
  describeFiles,
  forgetAttachments,
  initAttachments,
  latest,
  onAttachmentFetched,
  remember,
} from "./attachments.js";
import { createTray, acceptDrops } from "./uploads.js";
import {
  storeChannel,
  refreshChannels,
  noteMessage,
  refreshPreviewSoon,
  forgetChannel,
  isPhoneLayout,
  updateInert,
  keepFocus,
  blockUser,
} from "./sidebar.js";

const $ = (id) => document.getElementById(id);

const PAGE = 50;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOW_MS = 6000;
const ACK_TIMEOUT_MS = 6000;
const GROUP_WINDOW_MS = 5 * 60 * 1000;
// A message shown from elsewhere (a search hit): older pages loaded to reach it at most, and
// how long it stays marked.
const FIND_PAGES = 10;
const FOUND_MS = 3000;
// A streaming reply followed by its stored body (which catches up every second) after a missed
// piece: fetched this often, then more slowly once it has streamed longer than a reply can.
const REPLY_POLL_MS = 1000;
const REPLY_POLL_SLOW_MS = 5000;
const REPLY_POLLS_FAST = 90;
// What an ended reply says under its text, by status.
const REPLY_NOTES = { stopped: "Stopped", failed: "The model was unavailable; fallback answer" };

const EMOJIS = [
  ["👍", "thumbs up"],
  ["❤️", "heart"],
  ["😂", "laughing"],
  ["🎉", "party"],
  ["😮", "surprised"],
  ["😢", "sad"],
  ["🙏", "thanks"],
  ["👀", "eyes"],
];

let realtime = null;
export function bindRealtime(instance) {
  realtime = instance;
}

// Everything about the open channel; replaced when another one opens.
let view = emptyView(null);
let openSeq = 0;
// Messages being sent, by client_id (across channels: an ack may come after a switch).
const pending = new Map();
// The files of the channel's composer and of the thread's.
let trays = { main: null, thread: null };

function emptyView(channelId) {
  return {
    channelId,
    messages: new Map(), // id → message (replies included), `deleted` set by message.deleted
    versions: new Map(), // id → counter bumped on every change (drives re-rendering)
    cursor: null, // next (older) page of the history
    loadingOlder: null, // the promise of the older page on its way
    historyLoaded: false,
    receipts: new Map(), // user id → last_read_message_id
    myMarker: null,
    markSent: null,
    typing: new Map(), // user id → timer
    streams: new Map(), // id → {next, polling, polls, timer}: the assistant replies being written
    thread: null, // {parentId, loading}
    editing: null, // {id, inThread}: the message being edited, and where
    visible: new Set(), // message ids on screen
    found: null, // the id of the message just shown by revealMessage (marked for a moment)
    mainEls: new Map(),
    threadEls: new Map(),
  };
}

// ---------------------------------------------------------------- set-up

export function initChat() {
  $("send-button").appendChild(icon("send", { size: 18 }));
  $("thread-composer").querySelector("button").appendChild(icon("send", { size: 18 }));
  $("thread-close").appendChild(icon("close"));
  $("members-button").appendChild(icon("users"));
  $("leave-button").appendChild(icon("door"));
  $("delete-channel-button").appendChild(icon("trash"));
  $("channel-settings-button").appendChild(icon("settings"));
  $("jump-latest").append(icon("down", { size: 16 }), " New messages");

  trays = {
    main: setupComposer($("composer"), $("composer-input"), () => null),
    thread: setupComposer($("thread-composer"), $("thread-input"), () => view.thread && view.thread.parentId),
  };
  // Files dropped on the conversation go with the next message; on the thread, with the next reply.
  acceptDrops($("chat-pane"), trays.main, $("composer-input"));
  acceptDrops($("thread"), trays.thread, $("thread-input"));
  initAttachments();
  // A file fetched again (new URLs, or the check's outcome when its push was missed): the
  // messages' copies take new URLs quietly, and show a new state.
  onAttachmentFetched((attachment) => {
    trays.main.update(attachment);
    trays.thread.update(attachment);
    applyAttachment(attachment, { quiet: true });
  });

  $("messages").addEventListener("scroll", onScroll, { passive: true });
  $("jump-latest").addEventListener("click", () => {
    scrollToBottom($("messages"));
    $("composer-input").focus();
  });
  $("thread-close").addEventListener("click", () => closeThread());
  // Escape closes the thread panel (dialogs, the phone sidebar and the message editor take
  // their Escape first).
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented || !view.thread) return;
    if (document.querySelector("dialog[open]")) return;
    event.preventDefault();
    closeThread();
  });
  $("members-button").addEventListener("click", openMembersDialog);
  $("mute-button").addEventListener("click", toggleMute);
  $("channel-settings-button").addEventListener("click", openChannelSettings);
  $("channel-settings-form").addEventListener("submit", submitChannelSettings);
  $("leave-button").addEventListener("click", leaveChannel);
  $("delete-channel-button").addEventListener("click", deleteChannel);
  $("add-member-form").addEventListener("submit", addMember);
  $("report-form").addEventListener("submit", submitReport);

  const grid = $("emoji-grid");
  for (const [emoji, label] of EMOJIS) {
    grid.appendChild(
      h("button", { type: "submit", class: "emoji-button", value: emoji, "aria-label": `React with ${label}`, title: label }, emoji),
    );
  }
  $("emoji-dialog").addEventListener("click", (event) => {
    if (event.target === $("emoji-dialog")) $("emoji-dialog").close("");
  });

  observer = new IntersectionObserver(onVisibility, { root: null, threshold: [0, 0.25, 0.5, 0.75, 1] });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") maybeMarkRead();
    else stopTyping();
  });
  window.addEventListener("focus", maybeMarkRead);

  // The direct channel's header says "online"/"offline" in words too.
  on("presence", () => {
    if (view.channelId && state.channels.get(view.channelId)?.kind === "direct") renderHeader();
  });
  on("channels", () => {
    if (view.channelId) renderHeader();
  });
}

// ---------------------------------------------------------------- opening and closing

export async function openChannel(channelId) {
  if (view.channelId === channelId && view.historyLoaded) {
    $("composer-input").focus();
    return;
  }
  stopTyping();
  closeThread({ quiet: true });
  for (const timer of view.typing.values()) clearTimeout(timer);
  stopStreams();
  observer && observer.disconnect();
  clear($("message-list"));
  clear($("thread-list"));
  view = emptyView(channelId);
  const seq = ++openSeq;
  state.currentChannelId = channelId;
  clearUnread(channelId);
  emit("unread");
  emit("channels");
  $("chat-empty").hidden = true;
  $("chat-pane").hidden = false;
  renderTrays();
  renderHeader();
  renderTyping();
  $("history-status").textContent = "Loading messages…";
  try {
    const [channel, page, receipts] = await Promise.all([
      api.channel(channelId),
      api.messages(channelId, { limit: PAGE }),
      api.readReceipts(channelId),
    ]);
    if (seq !== openSeq) return;
    storeChannel(channel);
    view.cursor = page.next_cursor;
    mergeMessages(page.items);
    applyReceipts(receipts.items);
    view.historyLoaded = true;
    renderHeader();
    render({ toBottom: true });
    $("composer-input").focus();
    await fillViewport(seq);
  } catch (error) {
    if (seq !== openSeq) return;
    $("history-status").textContent = "";
    showError(error, "Could not open the channel");
  }
}

/** Signing out: nothing of this session stays behind. */
export function resetChat() {
  for (const item of pending.values()) clearTimeout(item.timer);
  pending.clear();
  trays.main?.reset();
  trays.thread?.reset();
  forgetAttachments();
  closeChannel();
}

/** Each composer shows the files of the open channel. */
function renderTrays() {
  trays.main?.render();
  trays.thread?.render();
}

export function closeChannel() {
  const hadFocus = $("chat-pane").contains(document.activeElement) || $("thread").contains(document.activeElement);
  stopTyping();
  closeThread({ quiet: true });
  for (const timer of view.typing.values()) clearTimeout(timer);
  stopStreams();
  observer && observer.disconnect();
  view = emptyView(null);
  openSeq++;
  state.currentChannelId = null;
  clear($("message-list"));
  renderTyping();
  renderTrays();
  $("chat-pane").hidden = true;
  $("chat-empty").hidden = false;
  emit("channels");
  // The focused control just disappeared: give the focus a place to be.
  if (hadFocus) focusHome();
}

/** Focus after the open channel went away: the channel list, else the welcome heading. */
function focusHome() {
  // On phones the list is in the closed sidebar; it may also be in the tab not shown.
  const first = isPhoneLayout() || $("panel-chats").hidden ? null : $("channel-list").querySelector("button");
  (first || $("welcome-title")).focus();
}

/** While the history does not fill the screen (replies take page slots), load older pages. */
async function fillViewport(seq) {
  const scroller = $("messages");
  for (let i = 0; i < 5; i++) {
    if (seq !== openSeq || !view.cursor) return;
    if (scroller.scrollHeight > scroller.clientHeight + 40) return;
    await loadOlder();
  }
}

/** The next older page of the history; while one is on its way, that one. True once it is merged. */
function loadOlder() {
  if (view.loadingOlder) return view.loadingOlder;
  if (!view.cursor || !view.channelId) return Promise.resolve(false);
  const loading = view;
  loading.loadingOlder = loadOlderPage().finally(() => {
    loading.loadingOlder = null;
    if (loading === view) renderHistoryStatus();
  });
  return loading.loadingOlder;
}

async function loadOlderPage() {
  const seq = openSeq;
  $("history-status").textContent = "Loading earlier messages…";
  try {
    const page = await api.messages(view.channelId, { cursor: view.cursor, limit: PAGE });
    if (seq !== openSeq) return false;
    view.cursor = page.next_cursor;
    mergeMessages(page.items);
    render({ keepScroll: true });
    return true;
  } catch (error) {
    if (seq === openSeq) showError(error, "Could not load earlier messages");
    return false;
  }
}

function onScroll() {
  const scroller = $("messages");
  if (scroller.scrollTop < 160) loadOlder();
  if (isNearBottom(scroller)) $("jump-latest").hidden = true;
}

/** After a reconnect: the newest page again, merged by id; what vanished from it was deleted. */
export async function resync() {
  const channelId = view.channelId;
  if (!channelId || !view.historyLoaded) return;
  const seq = openSeq;
  const [page, receipts, channel] = await Promise.all([
    api.messages(channelId, { limit: PAGE }),
    api.readReceipts(channelId),
    api.channel(channelId),
  ]);
  if (seq !== openSeq) return;
  storeChannel(channel);
  const fetched = new Set(page.items.map((message) => message.id));
  const oldest = page.items.reduce((min, message) => (min === null || message.id < min ? message.id : min), null);
  const newest = page.items.reduce((max, message) => (max === null || message.id > max ? message.id : max), null);
  const newestKnown = [...view.messages.keys()].reduce((max, id) => (max === null || id > max ? id : max), null);
  // Only ids the page vouches for are judged: a message that arrived (event or ack) while it
  // was being fetched is newer than its newest item and is kept as it is.
  if (page.next_cursor && oldest && newestKnown && oldest > newestKnown) {
    // More was missed than one page holds: start again from the newest page.
    for (const id of [...view.messages.keys()]) if (id <= newest) view.messages.delete(id);
    // Replies being written start again from their stored copies.
    stopStreams();
    view.cursor = page.next_cursor;
  } else if (newest) {
    // A complete history (no next page) vouches for everything older than its newest item too.
    const lower = page.next_cursor ? oldest : "";
    for (const [id, message] of view.messages) {
      if (id >= lower && id <= newest && !fetched.has(id) && !message.deleted) {
        endStream(id);
        message.deleted = true;
        bump(id);
      }
    }
  }
  mergeMessages(page.items);
  applyReceipts(receipts.items);
  if (view.thread) await loadThread(view.thread.parentId);
  renderHeader();
  render({});
}

// ---------------------------------------------------------------- message state

function bump(id) {
  view.versions.set(id, (view.versions.get(id) || 0) + 1);
}

function mergeMessages(messages) {
  for (const message of messages) upsert(message);
}

/** Stores a message; true when it was new. */
function upsert(message) {
  rememberName(message.sender.id, message.sender.name);
  // The best copy of each file: a check's news that came before the message is not lost.
  if (message.attachments?.length) message.attachments = message.attachments.map(remember);
  const known = view.messages.get(message.id);
  const merged = known ? mergeReply(known, message) : message;
  const stored = known && known.deleted ? { ...merged, deleted: true } : merged;
  view.messages.set(message.id, stored);
  bump(message.id);
  followStream(stored);
  if (known && known.status === "streaming" && !stored.deleted && stored.status !== "streaming") announceReply(stored);
  return !known;
}

/**
 * A newer copy of an assistant reply: a final status never goes back to streaming, and of two
 * copies still streaming the longer text wins (both are beginnings of the same reply; a stored
 * body lags the deltas by up to a second). A final status brings the authoritative text.
 */
function mergeReply(known, incoming) {
  // A stop answers with the stored text, up to a second behind the pieces shown; the writer's
  // own message.updated brings what it streamed. Meanwhile no word shown is taken back.
  const behind = known.body.length > incoming.body.length && known.body.startsWith(incoming.body);
  if (incoming.status === "stopped" && !known.deleted && behind) return { ...incoming, body: known.body };
  if (incoming.status !== "streaming" || known.deleted) return incoming;
  if (known.status && known.status !== "streaming") return { ...incoming, status: known.status, body: known.body };
  if (known.status !== "streaming") return incoming;
  if (known.body.length >= incoming.body.length) return { ...incoming, body: known.body };
  // The stored text is ahead of the pieces applied here: some were missed.
  const stream = view.streams.get(known.id);
  if (stream) stream.next = null;
  return incoming;
}

// ---------------------------------------------------------------- streamed assistant replies

/**
 * Keeps track of a reply while it streams. One seen from its start (an empty body) takes its
 * message.delta pieces from seq 0; one met half-way (history, a reload, a missed piece) cannot
 * place them, and follows its stored body instead, until the message.updated that ends it.
 */
function followStream(message) {
  const stream = view.streams.get(message.id);
  if (message.status !== "streaming" || message.deleted) {
    if (stream) endStream(message.id);
    return;
  }
  if (!stream) view.streams.set(message.id, { next: message.body === "" ? 0 : null, polling: false, polls: 0, timer: null });
  if (view.streams.get(message.id).next === null) schedulePoll(message.id);
}

function endStream(id) {
  const stream = view.streams.get(id);
  if (!stream) return;
  clearTimeout(stream.timer);
  view.streams.delete(id);
}

function stopStreams() {
  for (const stream of view.streams.values()) clearTimeout(stream.timer);
  view.streams.clear();
}

/** A piece of a reply being written. Not a new message: no unread count, preview or announcement. */
function onDelta(event) {
  if (event.channel_id !== view.channelId) return;
  if (typeof event.delta !== "string" || !Number.isInteger(event.seq)) return;
  const message = view.messages.get(event.message_id);
  if (!message) {
    // Its message.created was missed (while reconnecting): fetch it, then follow its stored body.
    // (While the history loads, it will bring the reply.)
    if (view.historyLoaded && !view.streams.has(event.message_id)) {
      view.streams.set(event.message_id, { next: null, polling: false, polls: 0, timer: null });
      schedulePoll(event.message_id, 0);
    }
    return;
  }
  // Ended (or stopped here): pieces still on their way are dropped.
  if (message.deleted || message.status !== "streaming") return;
  const stream = view.streams.get(message.id);
  if (!stream || stream.next === null || event.seq < stream.next) return;
  if (event.seq > stream.next) {
    // A piece was missed: the stored body takes over.
    stream.next = null;
    schedulePoll(message.id, 0);
    return;
  }
  stream.next += 1;
  appendToReply(message, event.delta);
}

/** Adds text to a reply in place, in every list that shows it: no re-render, scroll kept pinned. */
function appendToReply(message, text) {
  if (!text) return;
  message.body += text;
  const main = $("messages");
  const side = $("thread-scroller");
  const pinned = { main: isNearBottom(main), side: Boolean(view.thread) && isNearBottom(side) };
  for (const where of ["", "p-", "t-"]) {
    const body = document.getElementById(`body-${where}${message.id}`);
    if (body && body.tagName === "P") body.append(text);
  }
  if (pinned.main) scrollToBottom(main);
  if (pinned.side) scrollToBottom(side);
}

function schedulePoll(id, delay = null) {
  const stream = view.streams.get(id);
  if (!stream || stream.polling) return;
  stream.polling = true;
  const wait = delay ?? (stream.polls < REPLY_POLLS_FAST ? REPLY_POLL_MS : REPLY_POLL_SLOW_MS);
  stream.timer = setTimeout(() => pollReply(id, stream), wait);
}

/** Reads a reply's stored copy; again a moment later while it streams and its pieces cannot be placed. */
async function pollReply(id, stream) {
  const streams = view.streams;
  const channelId = view.channelId;
  if (streams.get(id) !== stream) return;
  stream.polls += 1;
  let fresh = null;
  try {
    fresh = await api.message(channelId, id);
  } catch (error) {
    if (error.status === 404 && view.streams === streams) {
      endStream(id);
      markDeleted(id);
      onMessageGone(channelId, id);
    } else {
      console.warn("assistant reply", error);
    }
  }
  // The channel closed, or the reply ended, meanwhile.
  if (view.streams !== streams || streams.get(id) !== stream) return;
  stream.polling = false;
  if (fresh) applyFetchedReply(fresh);
  if (streams.get(id) === stream && stream.next === null) schedulePoll(id);
}

/** A fetched copy of a reply: new words of one still streaming are added in place; anything else re-renders. */
function applyFetchedReply(fresh) {
  const known = view.messages.get(fresh.id);
  if (known && !known.deleted && known.status === "streaming" && fresh.status === "streaming" && fresh.body.startsWith(known.body)) {
    appendToReply(known, fresh.body.slice(known.body.length));
    return;
  }
  const isNew = upsert(fresh);
  if (isNew && fresh.parent_id) bumpReplyCount(fresh.parent_id, 1);
  if (isNew) {
    noteMessage(fresh);
    emit("channels");
  }
  scheduleRender();
}

/** The stop button: the reply ends with what is written; it may have ended already (409). */
async function stopReply(button, message) {
  const inThread = listOf(button)?.id !== "message-list";
  button.disabled = true;
  try {
    const stopped = await api.stopReply(message.channel_id, message.id);
    if (stopped && stopped.channel_id === view.channelId) {
      upsert(stopped);
      scheduleRender();
    }
  } catch (error) {
    if (error.status === 409) {
      // Not streaming any more: its message.updated has come or is on its way; a read makes sure.
      if (message.channel_id === view.channelId) schedulePoll(message.id, 0);
    } else {
      button.disabled = false;
      showError(error, "Could not stop the reply");
    }
  }
  // The button goes with the stream: the focus goes where the next question is asked.
  setTimeout(() => {
    if (!document.activeElement || document.activeElement === document.body) {
      $(inThread && view.thread ? "thread-input" : "composer-input").focus();
    }
  }, 0);
}

/** A reply that streamed here has ended: read out, as a finished message is. */
function announceReply(message) {
  const where = message.parent_id ? " (in a thread)" : "";
  const note = REPLY_NOTES[message.status] ? ` (${REPLY_NOTES[message.status]})` : "";
  announce(`Assistant${where}: ${message.body.slice(0, 300)}${note}`);
}

function applyReceipts(items) {
  for (const receipt of items) setReceipt(receipt.user_id, receipt.last_read_message_id);
}

function setReceipt(userId, messageId) {
  if (state.me && userId === state.me.id) {
    if (!view.myMarker || messageId > view.myMarker) view.myMarker = messageId;
    return;
  }
  const before = view.receipts.get(userId);
  if (!before || messageId > before) view.receipts.set(userId, messageId);
}

function topLevel() {
  return [...view.messages.values()].filter((message) => !message.parent_id).sort((a, b) => compareIds(a.id, b.id));
}

function repliesOf(parentId) {
  return [...view.messages.values()]
    .filter((message) => message.parent_id === parentId && !message.deleted)
    .sort((a, b) => compareIds(a.id, b.id));
}

/** What a pending message shows: its state, and its files' (checked while it is sent). */
function pendingVersion(item) {
  return `${item.status}|${item.note}|${item.attachments.map((attachment) => latest(attachment).status).join(",")}`;
}

function pendingIn(channelId, parentId) {
  return [...pending.values()].filter((item) => item.channel_id === channelId && (item.parent_id || null) === (parentId || null));
}

// ---------------------------------------------------------------- rendering

let renderQueued = null;

function render({ toBottom = false, keepScroll = false } = {}) {
  const scroller = $("messages");
  const wasNearBottom = isNearBottom(scroller);
  const beforeHeight = scroller.scrollHeight;
  const beforeTop = scroller.scrollTop;

  renderMain();
  renderThread();
  renderHistoryStatus();

  if (toBottom || (wasNearBottom && !keepScroll)) scrollToBottom(scroller);
  else if (keepScroll) scroller.scrollTop = beforeTop + (scroller.scrollHeight - beforeHeight);
  maybeMarkRead();
}

/** Batches renders caused by a burst of events. */
function scheduleRender(options = {}) {
  if (renderQueued) {
    renderQueued.toBottom ||= options.toBottom;
    return;
  }
  renderQueued = { ...options };
  queueMicrotask(() => {
    const opts = renderQueued;
    renderQueued = null;
    if (view.channelId) render(opts);
  });
}

function renderHistoryStatus() {
  const status = $("history-status");
  clear(status);
  if (!view.historyLoaded) return;
  if (view.loadingOlder) status.textContent = "Loading earlier messages…";
  else if (view.cursor) {
    status.appendChild(
      h("button", { type: "button", class: "button small ghost", onclick: () => loadOlder() }, "Load earlier messages"),
    );
  } else {
    const channel = state.channels.get(view.channelId);
    status.textContent = channel ? `This is the beginning of ${channelTitle(channel)}.` : "";
  }
}

function seenByMap(messages) {
  const seen = new Map();
  for (const [userId, marker] of view.receipts) {
    if (userId === ASSISTANT_ID || (state.me && userId === state.me.id)) continue;
    for (let i = messages.length - 1; i >= 0; i--) {
      const message = messages[i];
      if (message.id <= marker && message.sender.id !== userId && !message.deleted) {
        if (!seen.has(message.id)) seen.set(message.id, []);
        seen.get(message.id).push(nameOf(userId));
        break;
      }
    }
  }
  return seen;
}

function renderMain() {
  const messages = topLevel();
  const seen = seenByMap(messages);
  const items = [];
  let previous = null;
  for (const message of messages) {
    const compact = Boolean(
      previous &&
        !previous.deleted &&
        !message.deleted &&
        previous.sender.id === message.sender.id &&
        new Date(message.created_at) - new Date(previous.created_at) < GROUP_WINDOW_MS,
    );
    const seenBy = seen.get(message.id) || null;
    items.push({
      key: message.id,
      version: `${view.versions.get(message.id)}|${compact}|${seenBy}|${isEditing(message.id, false)}|${message.deleted}`,
      build: () => buildMessage(message, { compact, seenBy }),
    });
    previous = message;
  }
  for (const item of pendingIn(view.channelId, null)) {
    items.push({ key: `pending:${item.client_id}`, version: pendingVersion(item), build: () => buildPending(item) });
  }
  reconcile($("message-list"), items, view.mainEls);
}

function renderThread() {
  const thread = view.thread;
  if (!thread) return;
  const parent = view.messages.get(thread.parentId);
  const parentBox = $("thread-parent");
  const parentVersion = parent ? `${view.versions.get(parent.id)}|${isEditing(parent.id, true)}|${parent.deleted}` : "none";
  if (parentBox.dataset.version !== parentVersion) {
    const focusKey = focusKeyWithin(parentBox);
    clear(parentBox);
    if (parent) parentBox.appendChild(buildMessage(parent, { inThread: true, isParent: true, tag: "div" }));
    parentBox.dataset.version = parentVersion;
    restoreFocus(parentBox, focusKey);
  }
  const replies = repliesOf(thread.parentId);
  const count = Math.max(parent ? parent.reply_count : 0, replies.length);
  $("thread-count").textContent = thread.loading ? "Loading replies…" : count === 1 ? "1 reply" : `${count} replies`;
  const items = replies.map((message) => ({
    key: message.id,
    version: `${view.versions.get(message.id)}|${isEditing(message.id, true)}`,
    build: () => buildMessage(message, { inThread: true }),
  }));
  for (const item of pendingIn(view.channelId, thread.parentId)) {
    items.push({ key: `pending:${item.client_id}`, version: pendingVersion(item), build: () => buildPending(item) });
  }
  const scroller = $("thread-scroller");
  const nearBottom = isNearBottom(scroller);
  reconcile($("thread-list"), items, view.threadEls);
  if (nearBottom) scrollToBottom(scroller);
}

/** Keyed update of a list: rebuilds only the items whose version changed, keeps focus. */
function reconcile(list, items, cache) {
  const keep = new Set();
  let cursor = list.firstElementChild;
  for (const item of items) {
    keep.add(item.key);
    let el = cache.get(item.key);
    if (!el || el.dataset.version !== String(item.version)) {
      const fresh = item.build();
      fresh.dataset.version = String(item.version);
      fresh.dataset.key = item.key;
      if (el && el.parentNode === list) {
        const focusKey = focusKeyWithin(el);
        if (cursor === el) cursor = fresh;
        el.replaceWith(fresh);
        restoreFocus(fresh, focusKey);
      }
      if (el) observer.unobserve(el);
      cache.set(item.key, fresh);
      el = fresh;
      if (!item.key.startsWith("pending:")) observer.observe(el);
    }
    if (el === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(el, cursor);
  }
  for (const [key, el] of cache) {
    if (!keep.has(key)) {
      observer.unobserve(el);
      el.remove();
      cache.delete(key);
      view.visible.delete(key);
    }
  }
}

function focusKeyWithin(el) {
  const active = document.activeElement;
  if (!active || !el.contains(active)) return null;
  return active.dataset.focusKey || (active === el ? "self" : null);
}

function restoreFocus(el, key) {
  if (!key) return;
  const target = key === "self" ? el : el.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
  if (target) target.focus();
}

function isNearBottom(scroller) {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
}

function scrollToBottom(scroller) {
  scroller.scrollTop = scroller.scrollHeight;
}

/** The owner and the admins delete others' messages and see reports. */
function canModerate() {
  const role = myRole(state.channels.get(view.channelId));
  return role === "owner" || role === "admin";
}

function buildMessage(message, { compact = false, seenBy = null, inThread = false, isParent = false, tag = "li" } = {}) {
  const own = message.sender.id === state.me.id;
  const assistant = message.role === "assistant" || message.sender.id === ASSISTANT_ID;
  const author = assistant ? "Assistant" : message.sender.name;
  const classes = ["message"];
  if (own) classes.push("own");
  if (assistant) classes.push("from-assistant");
  if (compact) classes.push("compact");
  if (message.deleted) classes.push("deleted");
  if (isParent) classes.push("thread-root");
  const mentionsMe = !own && !message.deleted && (message.mentions || []).includes(state.me.id);
  if (mentionsMe) classes.push("mentions-me");
  // Still marked if it is rebuilt (a receipt, a reaction) while it is being shown.
  if (view.found === message.id && !isParent) classes.push("found");
  const authorId = `author-${message.id}`;
  const where = isParent ? "p-" : inThread ? "t-" : "";
  const bodyId = `body-${where}${message.id}`;
  const cueId = `mention-${where}${message.id}`;
  const files = message.deleted ? [] : message.attachments || [];
  const filesId = `files-${where}${message.id}`;
  // An assistant reply being written: a caret after its text, a Stop button, busy to assistive
  // technology; once ended, a note when it was stopped or is the rules' fallback.
  const streaming = message.status === "streaming" && !message.deleted;
  if (streaming) classes.push("streaming");
  const note = message.deleted ? null : REPLY_NOTES[message.status];
  const noteId = `note-${where}${message.id}`;
  const el = h(tag, {
    class: classes.join(" "),
    // Focusable by a tap, so touch screens (no hover) can reach the message's tools.
    tabindex: "-1",
    dataset: { messageId: message.id },
    "aria-busy": streaming ? "true" : null,
    "aria-labelledby": `${authorId}-${inThread ? "t" : "m"}${mentionsMe ? ` ${cueId}` : ""} ${bodyId}${note ? ` ${noteId}` : ""}${files.length ? ` ${filesId}` : ""}`,
  });

  el.appendChild(
    h("div", { class: "message-gutter" }, compact ? h("time", { class: "gutter-time", datetime: message.created_at, "aria-hidden": "true" }, shortTime(message.created_at)) : avatar(message.sender.id, author, { assistant })),
  );
  const main = h("div", { class: "message-main" });
  main.appendChild(
    h(
      "div",
      { class: `message-meta${compact ? " visually-hidden" : ""}` },
      h("span", { class: "message-author", id: `${authorId}-${inThread ? "t" : "m"}` }, author),
      assistant ? h("span", { class: "tag tag-assistant" }, "assistant") : null,
      mentionsMe ? h("span", { class: "tag tag-mention", id: cueId }, "mentions you") : null,
      h("time", { datetime: message.created_at, title: longTime(message.created_at) }, shortTime(message.created_at)),
      message.edited_at && !message.deleted ? h("span", { class: "edited", title: `Edited ${longTime(message.edited_at)}` }, "(edited)") : null,
    ),
  );

  if (message.deleted) {
    main.appendChild(h("p", { class: "message-body deleted-body", id: bodyId }, "This message was deleted."));
    el.appendChild(main);
    return el;
  }

  const editing = isEditing(message.id, inThread);
  if (editing) main.appendChild(buildEditor(message, bodyId));
  else main.appendChild(h("p", { class: "message-body", id: bodyId }, message.body ? withMentions(message) : null));
  if (note) main.appendChild(h("p", { class: "reply-note", id: noteId }, note));
  if (streaming) {
    main.appendChild(
      h(
        "div",
        { class: "reply-actions" },
        h(
          "button",
          {
            type: "button",
            class: "button small stop-reply",
            "aria-label": "Stop reply",
            title: "Stop the reply here",
            dataset: { focusKey: "stop" },
            onclick: (event) => stopReply(event.currentTarget, message),
          },
          icon("stop", { size: 14 }),
          "Stop",
        ),
      ),
    );
  }
  if (files.length) {
    // The image dialog gives the focus back to the same control, in the same list.
    const box = isParent ? $("thread-parent") : inThread ? $("thread-list") : $("message-list");
    main.appendChild(attachmentList(files, { summaryId: filesId, restoreFocus: (key) => focusMessage(message.id, key, box) }));
  }

  const reactions = Object.entries(message.reactions || {}).filter(([, users]) => users.length);
  if (reactions.length) {
    const row = h("div", { class: "reactions", role: "group", "aria-label": "Reactions" });
    for (const [emoji, users] of reactions) {
      const mine = users.includes(state.me.id);
      const names = users.map((id) => (id === state.me.id ? "you" : nameOf(id))).join(", ");
      row.appendChild(
        h(
          "button",
          {
            type: "button",
            class: `reaction${mine ? " mine" : ""}`,
            "aria-pressed": String(mine),
            "aria-label": `${emoji} ${users.length}, from ${names}${mine ? ": remove yours" : ": add yours"}`,
            title: names,
            dataset: { focusKey: `reaction-${emoji}` },
            onclick: (event) => toggleReaction(event.currentTarget, message, emoji, mine),
          },
          h("span", { class: "reaction-emoji", "aria-hidden": "true" }, emoji),
          h("span", { class: "reaction-count", "aria-hidden": "true" }, String(users.length)),
        ),
      );
    }
    main.appendChild(row);
  }

  if (!inThread && message.reply_count > 0) {
    main.appendChild(
      h(
        "button",
        {
          type: "button",
          class: "replies-link",
          dataset: { focusKey: "replies" },
          "aria-label": `${message.reply_count === 1 ? "1 reply" : `${message.reply_count} replies`}: open thread`,
          onclick: () => openThread(message.id),
        },
        icon("thread", { size: 14 }),
        message.reply_count === 1 ? " 1 reply" : ` ${message.reply_count} replies`,
      ),
    );
  }

  if (seenBy && seenBy.length) {
    main.appendChild(h("p", { class: "seen-by" }, icon("check", { size: 14 }), ` Seen by ${seenBy.join(", ")}`));
  }
  el.appendChild(main);

  if (!editing) {
    const tools = h("div", { class: "message-tools", role: "group", "aria-label": `Actions for the message from ${author}` });
    tools.appendChild(
      toolButton("smile", "Add reaction", "react", (event) => pickReaction(event.currentTarget, message)),
    );
    if (!inThread && !message.parent_id) {
      tools.appendChild(toolButton("thread", "Reply in thread", "thread", () => openThread(message.id)));
    }
    if (own && !assistant) tools.appendChild(toolButton("edit", "Edit message", "edit", () => startEdit(message.id, inThread)));
    if (own || canModerate()) {
      tools.appendChild(toolButton("trash", "Delete message", "delete", (event) => deleteMessage(event.currentTarget, message)));
    }
    if (!own && !assistant) {
      tools.appendChild(toolButton("flag", "Report message", "report", () => openReportDialog(message)));
      tools.appendChild(
        toolButton("block", `Block ${author}`, "block", (event) => blockSender(event.currentTarget, message.sender)),
      );
    }
    el.appendChild(tools);
  }
  return el;
}

/** The body as text nodes, with the "@Name" of each user it mentions emphasized. */
function withMentions(message) {
  const body = message.body;
  const tokens = (message.mentions || [])
    .map((id) => ({ text: `@${nameOf(id)}`, me: id === state.me.id }))
    .sort((a, b) => b.text.length - a.text.length);
  if (!tokens.length) return [body];
  const parts = [];
  let plain = 0;
  for (let i = body.indexOf("@"); i >= 0 && i < body.length; i = body.indexOf("@", i)) {
    const token = tokens.find((candidate) => body.startsWith(candidate.text, i));
    if (!token) {
      i += 1;
      continue;
    }
    if (plain < i) parts.push(body.slice(plain, i));
    parts.push(h("strong", { class: `mention${token.me ? " mention-me" : ""}` }, token.text));
    i += token.text.length;
    plain = i;
  }
  if (plain < body.length) parts.push(body.slice(plain));
  return parts;
}

function toolButton(iconName, label, key, onclick) {
  return h(
    "button",
    { type: "button", class: "icon-button small", "aria-label": label, title: label, dataset: { focusKey: key }, onclick },
    icon(iconName, { size: 16 }),
  );
}

function buildPending(item) {
  const failed = item.status === "failed";
  const el = h("li", { class: `message own pending${failed ? " failed" : ""}` });
  el.appendChild(h("div", { class: "message-gutter" }, avatar(state.me.id, state.me.name)));
  el.appendChild(
    h(
      "div",
      { class: "message-main" },
      h(
        "div",
        { class: "message-meta" },
        h("span", { class: "message-author" }, state.me.name),
        h("span", { class: "muted small" }, failed ? `not sent${item.note ? `: ${item.note}` : ""}` : "sending…"),
      ),
      item.body ? h("p", { class: "message-body" }, item.body) : null,
      item.attachments.length ? attachmentList(item.attachments, { summaryId: `files-${item.client_id}` }) : null,
      failed
        ? h(
            "div",
            { class: "pending-actions" },
            h("button", { type: "button", class: "button small", onclick: () => restSend(item.client_id) }, "Retry"),
            h(
              "button",
              {
                type: "button",
                class: "button small ghost",
                onclick: () => {
                  pending.delete(item.client_id);
                  scheduleRender();
                },
              },
              "Discard",
            ),
          )
        : null,
    ),
  );
  return el;
}

function buildEditor(message, bodyId) {
  const textarea = h("textarea", { class: "edit-input", rows: "2", maxlength: "4000", "aria-label": "Edit message", id: bodyId });
  // The draft survives a re-render (a reaction or an edit arriving meanwhile).
  textarea.value = view.editing && view.editing.draft != null ? view.editing.draft : message.body;
  textarea.addEventListener("input", () => {
    if (view.editing) view.editing.draft = textarea.value;
  });
  const save = async () => {
    const body = textarea.value.trim();
    if (!body) return;
    if (body === message.body) return cancel();
    textarea.disabled = true;
    try {
      const updated = await api.edit(view.channelId, message.id, body);
      view.editing = null;
      upsert(updated);
      scheduleRender();
      focusMessage(message.id, "edit");
    } catch (error) {
      textarea.disabled = false;
      showError(error, "Could not edit the message");
    }
  };
  const cancel = () => {
    view.editing = null;
    bump(message.id);
    scheduleRender();
    focusMessage(message.id, "edit");
  };
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      save();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      cancel();
    }
  });
  setTimeout(() => {
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  }, 0);
  return h(
    "div",
    { class: "editor" },
    textarea,
    h(
      "div",
      { class: "editor-buttons" },
      h("span", { class: "muted small" }, "Enter to save, Escape to cancel"),
      h("button", { type: "button", class: "button small", onclick: cancel }, "Cancel"),
      h("button", { type: "button", class: "button small primary", onclick: save }, "Save"),
    ),
  );
}

/** Which list a message's control is in (the thread's root is in two). */
function listOf(el) {
  return el.closest("#message-list, #thread-parent, #thread-list");
}

/** Focuses a control of a message by its focus key, in `prefer` first (after any re-render). */
function focusMessage(messageId, key, prefer = null) {
  setTimeout(() => {
    const boxes = [$("message-list"), $("thread-parent"), $("thread-list")];
    if (prefer) boxes.unshift(prefer);
    for (const box of boxes) {
      const el = box.querySelector(`[data-message-id="${CSS.escape(messageId)}"] [data-focus-key="${key}"]`);
      if (el) return el.focus();
    }
    return undefined;
  }, 0);
}

function renderHeader() {
  const channel = state.channels.get(view.channelId);
  if (!channel) return;
  $("chat-title").textContent = channelTitle(channel);
  const subtitle = clear($("chat-subtitle"));
  const members = channel.members || [];
  if (channel.kind === "direct") {
    const other = otherMember(channel);
    subtitle.append("Direct message");
    if (other) subtitle.append(" · ", presenceDot(other), h("span", { class: "presence-text" }, state.presence.get(other)?.online ? "online" : "offline"));
  } else if (channel.kind === "assistant") {
    subtitle.append("The assistant answers every message here");
  } else {
    subtitle.append(`${channel.private ? "Private" : "Public"} group · ${channel.member_count} ${channel.member_count === 1 ? "member" : "members"}`);
    if (channel.slow_mode_seconds > 0) {
      subtitle.append(
        " · ",
        h("span", { class: "slow-mode", title: "Members send at most one message in this time" }, `Slow mode: ${formatSeconds(channel.slow_mode_seconds)}`),
      );
    }
  }
  const description = $("chat-description");
  description.textContent = channel.kind === "direct" ? "" : channel.description || "";
  description.title = description.textContent;
  description.hidden = !description.textContent;
  const stack = clear($("chat-members"));
  stack.hidden = channel.kind !== "group";
  for (const member of channel.kind === "group" ? members.slice(0, 6) : []) {
    if (member.user_id === ASSISTANT_ID) continue;
    stack.appendChild(
      h(
        "li",
        { class: "avatar-wrap", title: member.name },
        avatar(member.user_id, member.name, { size: "sm" }),
        presenceDot(member.user_id),
      ),
    );
  }
  const role = myRole(channel);
  const owner = role === "owner";
  // A direct channel is left (hidden until its next message) or deleted by either of the two;
  // a group's owner leaves too, handing it over.
  $("leave-button").hidden = channel.kind === "assistant";
  $("delete-channel-button").hidden = !owner && channel.kind !== "direct";
  // Direct channels have no settings; an assistant channel only its name and description.
  $("channel-settings-button").hidden = !(channel.kind === "group" ? owner || role === "admin" : channel.kind === "assistant" && owner);
  const mute = clear($("mute-button"));
  mute.appendChild(icon(channel.muted ? "bellOff" : "bell"));
  mute.setAttribute("aria-label", channel.muted ? "Unmute channel" : "Mute channel");
  mute.title = channel.muted ? "Unmute: its messages count as unread again" : "Mute: its messages stop counting as unread";
  $("composer-input").setAttribute("placeholder", channel.kind === "assistant" ? "Ask the assistant" : `Message ${channelTitle(channel)}`);
  $("composer-label").textContent = `Message ${channelTitle(channel)}`;
}

// ---------------------------------------------------------------- composer, sending, typing

function setupComposer(form, input, parentOf) {
  const grow = () => {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  };
  // Before the Enter handler below: an open autocomplete takes Enter for itself.
  const mentions = setupMentions(form, input, grow);
  input.addEventListener("keydown", (event) => {
    if (event.defaultPrevented) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    grow();
    if (input.value.trim()) noteTyping();
    else stopTyping();
  });
  input.addEventListener("blur", () => stopTyping());
  const tray = createTray(form, input, () => view.channelId);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!view.channelId) return;
    const body = input.value.trim();
    const files = tray.status();
    if (files.uploading) {
      toast("Your files are still uploading: send once they are done.", { kind: "notice", timeout: 4000 });
      return;
    }
    // A message is text, files, or both.
    if (!body && !files.sendable) return;
    if (body.length > 4000) {
      toast("A message can hold at most 4,000 characters.");
      return;
    }
    const mentionIds = mentions.idsIn(body);
    input.value = "";
    mentions.reset();
    grow();
    send(body, parentOf(), mentionIds, tray.take());
  });
  return tray;
}

const MAX_SUGGESTIONS = 8;

/**
 * The @-autocomplete of a composer: "@" and the start of a name list the channel's members in
 * a listbox the text box points into (aria-activedescendant, so the focus stays in the text);
 * picking one writes "@Name " and remembers who that is, for the send's mention_ids.
 */
function setupMentions(form, input, grow) {
  const list = h("ul", { class: "mention-list", role: "listbox", id: `${input.id}-mentions`, "aria-label": "Mention a member", hidden: true });
  form.appendChild(list);
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  const picked = new Map(); // user id → name
  let matches = [];
  let active = 0;
  let start = -1; // where the "@" is

  const candidates = () => {
    const channel = state.channels.get(view.channelId);
    return (channel?.members || [])
      .filter((member) => member.user_id !== state.me.id && member.user_id !== ASSISTANT_ID)
      .sort((a, b) => a.name.localeCompare(b.name));
  };
  const close = () => {
    if (list.hidden) return;
    list.hidden = true;
    matches = [];
    input.removeAttribute("aria-activedescendant");
  };
  const pick = (index) => {
    const member = matches[index];
    if (!member) return;
    input.setRangeText(`@${member.name} `, start, input.selectionStart, "end");
    picked.set(member.user_id, member.name);
    close();
    grow();
    input.focus();
  };
  const show = () => {
    const opening = list.hidden;
    clear(list);
    matches.forEach((member, index) =>
      list.appendChild(
        h(
          "li",
          {
            role: "option",
            id: `${list.id}-${index}`,
            class: "mention-option",
            "aria-selected": String(index === active),
            // The text box keeps the focus (and its caret) while an option is clicked.
            onmousedown: (event) => event.preventDefault(),
            onclick: () => pick(index),
          },
          avatar(member.user_id, member.name, { size: "sm" }),
          h("span", { class: "mention-name" }, member.name),
        ),
      ),
    );
    list.hidden = false;
    input.setAttribute("aria-activedescendant", `${list.id}-${active}`);
    list.children[active].scrollIntoView({ block: "nearest" });
    if (opening) {
      const count = matches.length === 1 ? "1 member" : `${matches.length} members`;
      announce(`${count} to mention: arrow keys to choose, Enter to pick.`);
    }
  };
  const update = () => {
    const caret = input.selectionStart;
    if (caret !== input.selectionEnd) return close();
    const before = input.value.slice(0, caret);
    const at = before.lastIndexOf("@");
    const query = before.slice(at + 1);
    // A mention starts a word; the name typed so far has no line break and does not start blank.
    if (at < 0 || (at > 0 && !/\s/.test(before[at - 1])) || query.length > 50 || /^\s|\n/.test(query)) return close();
    const prefix = query.toLowerCase();
    const found = candidates()
      .filter((member) => member.name.toLowerCase().startsWith(prefix))
      .slice(0, MAX_SUGGESTIONS);
    if (!found.length) return close();
    const activeId = matches[active] && matches[active].user_id;
    active = Math.max(0, found.findIndex((member) => member.user_id === activeId));
    start = at;
    matches = found;
    return show();
  };
  input.addEventListener("keydown", (event) => {
    if (list.hidden || event.isComposing) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      active = (active + (event.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
      show();
    } else if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey) {
      event.preventDefault();
      pick(active);
    } else if (event.key === "Escape") {
      // Only the list closes (not the thread panel behind it).
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  });
  input.addEventListener("input", update);
  input.addEventListener("click", update);
  input.addEventListener("keyup", (event) => {
    if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) update();
  });
  input.addEventListener("blur", close);
  return {
    /** Those picked whose "@Name" is still in the text (and who are in this channel). */
    idsIn(body) {
      const members = new Set(candidates().map((member) => member.user_id));
      return [...picked].filter(([id, name]) => members.has(id) && mentionsName(body, name)).map(([id]) => id);
    },
    reset() {
      picked.clear();
      close();
    },
  };
}

/** Whether `body` holds "@name" as a whole name (not the start of a longer one). */
function mentionsName(body, name) {
  const token = `@${name}`;
  for (let i = body.indexOf(token); i >= 0; i = body.indexOf(token, i + 1)) {
    const next = body[i + token.length];
    if (next === undefined || !/[\p{L}\p{N}_]/u.test(next)) return true;
  }
  return false;
}

let typingSentAt = 0;
let typingActive = false;
let typingChannel = null;
let typingIdle = null;

function noteTyping() {
  if (!view.channelId || !realtime) return;
  const now = Date.now();
  if (!typingActive || now - typingSentAt > TYPING_SEND_EVERY_MS || typingChannel !== view.channelId) {
    if (realtime.send({ action: "typing", channel_id: view.channelId, is_typing: true })) {
      typingSentAt = now;
      typingActive = true;
      typingChannel = view.channelId;
    }
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(typingIdle);
  if (typingActive && realtime && typingChannel) {
    realtime.send({ action: "typing", channel_id: typingChannel, is_typing: false });
  }
  typingActive = false;
  typingSentAt = 0;
  typingChannel = null;
}

function send(body, parentId, mentionIds = [], attachments = []) {
  stopTyping();
  const item = {
    client_id: newClientId(),
    channel_id: view.channelId,
    parent_id: parentId || null,
    body,
    mention_ids: mentionIds,
    attachments,
    status: "sending",
    note: "",
    timer: null,
  };
  pending.set(item.client_id, item);
  render({ toBottom: !parentId });
  if (parentId) scrollToBottom($("thread-scroller"));
  const frame = { action: "sendMessage", channel_id: item.channel_id, body, client_id: item.client_id };
  if (parentId) frame.parent_id = parentId;
  if (mentionIds.length) frame.mention_ids = mentionIds;
  if (attachments.length) frame.attachment_ids = attachments.map((attachment) => attachment.id);
  if (realtime && realtime.send(frame)) {
    // No ack in time (socket half-dead): the REST route with the same client_id answers the
    // message if it was stored, or stores it once.
    item.timer = setTimeout(() => restSend(item.client_id), ACK_TIMEOUT_MS);
  } else {
    restSend(item.client_id);
  }
}

async function restSend(clientId) {
  const item = pending.get(clientId);
  if (!item) return;
  clearTimeout(item.timer);
  item.status = "sending";
  scheduleRender();
  try {
    const message = await api.send(
      item.channel_id,
      item.body,
      item.client_id,
      item.parent_id,
      item.mention_ids,
      item.attachments.map((attachment) => attachment.id),
    );
    settle(message);
  } catch (error) {
    if (!pending.has(clientId)) return;
    failSend(item, error);
  }
}

/** A send refused (by the REST route or the socket): the pending copy offers Retry. */
function failSend(item, error) {
  clearTimeout(item.timer);
  item.status = "failed";
  const channel = state.channels.get(item.channel_id);
  const slow = Boolean(channel && channel.slow_mode_seconds > 0);
  item.note = error.code === "rate_limited" ? (slow ? "slow mode" : "too fast") : "";
  scheduleRender();
  if (error.code !== "rate_limited") {
    showError(error, "Message not sent");
    return;
  }
  // The socket's error frame has no retry_after_seconds: the channel's slow mode bounds it.
  const seconds = error.details && error.details.retry_after_seconds;
  const wait = seconds ? `wait ${formatSeconds(seconds)}` : slow ? `wait up to ${formatSeconds(channel.slow_mode_seconds)}` : "wait a moment";
  toast(
    slow
      ? `Message not sent: slow mode is on in ${channelTitle(channel)}. Please ${wait}, then press Retry.`
      : `Message not sent: you are sending too fast. Please ${wait}, then press Retry.`,
  );
}

/** A message of mine is stored: the pending copy gives way to it. */
function settle(message) {
  const item = message.client_id ? pending.get(message.client_id) : null;
  if (item) {
    clearTimeout(item.timer);
    pending.delete(message.client_id);
  }
  noteMessage(message);
  if (message.channel_id === view.channelId) {
    const fresh = upsert(message);
    if (fresh && message.parent_id) bumpReplyCount(message.parent_id, 1);
    scheduleRender({ toBottom: !message.parent_id });
  }
  emit("channels");
}

function bumpReplyCount(parentId, delta) {
  const parent = view.messages.get(parentId);
  if (!parent) return;
  parent.reply_count = Math.max(0, (parent.reply_count || 0) + delta);
  bump(parentId);
}

function renderTyping() {
  const names = [...view.typing.keys()].map((id) => nameOf(id));
  const el = $("typing");
  const text = !names.length
    ? ""
    : names.length === 1
      ? `${names[0]} is typing…`
      : names.length === 2
        ? `${names[0]} and ${names[1]} are typing…`
        : "Several people are typing…";
  // A live region: rewriting the same words on every typing frame would re-announce them.
  if (el.textContent !== text) el.textContent = text;
}

// ---------------------------------------------------------------- read markers

let observer = null;
let markTimer = null;

function onVisibility(entries) {
  for (const entry of entries) {
    const key = entry.target.dataset.key;
    if (!key) continue;
    // Seen: half of it on screen, or a good part of a message taller than the screen.
    const seen = entry.isIntersecting && (entry.intersectionRatio >= 0.5 || entry.intersectionRect.height >= 160);
    if (seen) view.visible.add(key);
    else view.visible.delete(key);
  }
  maybeMarkRead();
}

/** Marks the newest message on screen as read, once it is newer than my marker. */
function maybeMarkRead() {
  clearTimeout(markTimer);
  markTimer = setTimeout(() => {
    if (!view.channelId || !view.historyLoaded || document.visibilityState !== "visible") return;
    let newest = null;
    for (const id of view.visible) {
      if (id.startsWith("pending:") || !view.messages.has(id) || view.messages.get(id).deleted) continue;
      if (!newest || id > newest) newest = id;
    }
    if (!newest) return;
    const floor = view.markSent && view.markSent > (view.myMarker || "") ? view.markSent : view.myMarker;
    if (floor && newest <= floor) return;
    const marking = view;
    const before = marking.markSent;
    marking.markSent = newest;
    const channelId = view.channelId;
    if (!(realtime && realtime.send({ action: "markRead", channel_id: channelId, message_id: newest }))) {
      api.markRead(channelId, newest).catch((error) => {
        // Not marked: forget that it was sent, so the next chance tries again.
        if (marking.markSent === newest) marking.markSent = before;
        showError(error, "Could not mark the channel read");
      });
    }
  }, 250);
}

// ---------------------------------------------------------------- threads

export async function openThread(parentId) {
  if (!view.channelId) return;
  view.thread = { parentId, loading: true };
  $("thread-parent").dataset.version = "";
  clear($("thread-list"));
  view.threadEls.clear();
  $("thread").hidden = false;
  document.body.classList.add("thread-open");
  updateInert();
  renderThread();
  $("thread-input").focus();
  await loadThread(parentId);
  if (!view.thread || view.thread.parentId !== parentId) return;
  view.thread.loading = false;
  render({});
  scrollToBottom($("thread-scroller"));
}

async function loadThread(parentId) {
  const channelId = view.channelId;
  try {
    const [parent, replies] = await Promise.all([
      view.messages.has(parentId) ? null : api.message(channelId, parentId),
      allPages((cursor) => api.replies(channelId, parentId, cursor)),
    ]);
    if (channelId !== view.channelId) return;
    if (parent) upsert(parent);
    mergeMessages(replies);
    const known = view.messages.get(parentId);
    if (known && replies.length > known.reply_count) {
      known.reply_count = replies.length;
      bump(parentId);
    }
  } catch (error) {
    showError(error, "Could not load the thread");
  }
}

function closeThread({ quiet = false } = {}) {
  if (!view.thread) {
    $("thread").hidden = true;
    return;
  }
  const parentId = view.thread.parentId;
  view.thread = null;
  $("thread").hidden = true;
  document.body.classList.remove("thread-open");
  updateInert();
  clear($("thread-list"));
  clear($("thread-parent"));
  $("thread-parent").dataset.version = "";
  for (const el of view.threadEls.values()) observer.unobserve(el);
  view.threadEls.clear();
  if (!quiet) {
    const back = $("message-list").querySelector(`[data-message-id="${CSS.escape(parentId)}"] [data-focus-key="replies"], [data-message-id="${CSS.escape(parentId)}"] [data-focus-key="thread"]`);
    (back || $("composer-input")).focus();
  }
}

// ---------------------------------------------------------------- a message shown from elsewhere

let foundTimer = null;

/**
 * Shows a message found elsewhere (a search hit): its channel opens; a reply opens in its
 * thread; any other message not in the history loaded so far is looked for in older pages,
 * loaded as scrolling up loads them, at most FIND_PAGES of them. Then it is scrolled to,
 * focused and marked for a moment. True when it is shown.
 */
export async function revealMessage(message) {
  const channelId = message.channel_id;
  await openChannel(channelId);
  if (view.channelId !== channelId || !view.historyLoaded) return false;
  const seq = openSeq;
  if (message.parent_id) {
    if (!view.thread || view.thread.parentId !== message.parent_id) await openThread(message.parent_id);
    if (seq !== openSeq || !view.thread || view.thread.parentId !== message.parent_id) return false;
    if (markFound(message.id, true)) return true;
    toast("That reply is no longer in its thread.", { kind: "notice", timeout: 5000 });
    return false;
  }
  for (let pages = 0; !view.messages.has(message.id) && view.cursor && pages < FIND_PAGES; pages++) {
    if (!(await loadOlder()) || seq !== openSeq) break;
  }
  if (seq !== openSeq) return false;
  if (markFound(message.id, false)) return true;
  const title = channelTitle(state.channels.get(channelId)) || "the channel";
  toast(
    view.cursor
      ? `That message is further back in ${title} than the ${FIND_PAGES} pages just loaded: scroll up to load more.`
      : `That message is no longer in ${title}.`,
    { kind: "notice", timeout: 6000 },
  );
  return false;
}

/** Scrolls a rendered message into the middle of its list, focuses it and marks it a moment. */
function markFound(messageId, inThread) {
  const el = (inThread ? view.threadEls : view.mainEls).get(messageId);
  if (!el || !el.isConnected) return false;
  clearFound();
  view.found = messageId;
  el.classList.add("found");
  const scroller = $(inThread ? "thread-scroller" : "messages");
  const box = scroller.getBoundingClientRect();
  const rect = el.getBoundingClientRect();
  scroller.scrollTop += rect.top - box.top - Math.max(0, (scroller.clientHeight - rect.height) / 2);
  // Read out by a screen reader (author and text); touch and keyboard reach its tools from here.
  el.focus({ preventScroll: true });
  foundTimer = setTimeout(clearFound, FOUND_MS);
  return true;
}

function clearFound() {
  clearTimeout(foundTimer);
  foundTimer = null;
  view.found = null;
  for (const el of document.querySelectorAll(".message.found")) el.classList.remove("found");
}

// ---------------------------------------------------------------- reactions, edits, deletes

async function pickReaction(button, message) {
  const box = listOf(button);
  const dialog = $("emoji-dialog");
  dialog.returnValue = "";
  dialog.showModal();
  const emoji = await new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true }));
  // The button may have been rebuilt while the dialog was open: find it again by message.
  focusMessage(message.id, "react", box);
  if (!emoji) return;
  const mine = (message.reactions[emoji] || []).includes(state.me.id);
  if (!mine) await toggleReaction(button, message, emoji, false);
}

async function toggleReaction(button, message, emoji, mine) {
  await busy(
    button,
    async () => {
      const updated = mine
        ? await api.unreact(message.channel_id, message.id, emoji)
        : await api.react(message.channel_id, message.id, emoji);
      if (message.channel_id === view.channelId) {
        upsert(updated);
        scheduleRender();
      }
    },
    mine ? "Could not remove the reaction" : "Could not add the reaction",
  );
}

function isEditing(messageId, inThread) {
  return Boolean(view.editing && view.editing.id === messageId && view.editing.inThread === inThread);
}

function startEdit(messageId, inThread) {
  view.editing = { id: messageId, inThread };
  bump(messageId);
  scheduleRender();
}

async function deleteMessage(button, message) {
  const box = listOf(button);
  if (!(await confirmDialog("Delete this message for everyone?", "Delete", "Delete message"))) {
    focusMessage(message.id, "delete", box);
    return;
  }
  await busy(
    null,
    async () => {
      await api.deleteMessage(message.channel_id, message.id);
      markDeleted(message.id);
      $("composer-input").focus();
    },
    "Could not delete the message",
  );
}

function markDeleted(messageId) {
  const message = view.messages.get(messageId);
  if (!message || message.deleted) return;
  endStream(messageId);
  message.deleted = true;
  bump(messageId);
  if (message.parent_id) bumpReplyCount(message.parent_id, -1);
  if (view.thread && view.thread.parentId === messageId) closeThread({ quiet: true });
  scheduleRender();
}

// ---------------------------------------------------------------- members, leave, delete

function memberRow(channel, member) {
  const assistant = member.user_id === ASSISTANT_ID;
  const actions = memberActions(channel, member);
  return h(
    "li",
    { class: "person", dataset: { userId: member.user_id } },
    h("span", { class: "avatar-wrap" }, avatar(member.user_id, member.name, { size: "sm", assistant }), assistant ? null : presenceDot(member.user_id)),
    h(
      "span",
      { class: "person-main" },
      h(
        "span",
        { class: "person-title" },
        h("span", { class: "person-name" }, member.user_id === state.me.id ? `${member.name} (you)` : member.name),
        member.role === "member" ? null : h("span", { class: `tag tag-${member.role}` }, member.role),
      ),
      h("span", { class: "muted small" }, `joined ${shortTime(member.joined_at)}`),
    ),
    actions.length ? h("span", { class: "person-actions" }, ...actions) : null,
  );
}

/**
 * What I may do to a member of a group: the owner changes roles, hands the group over and
 * removes anyone; an admin removes members (not admins, never the owner).
 */
function memberActions(channel, member) {
  if (channel.kind !== "group" || member.user_id === state.me.id || member.user_id === ASSISTANT_ID) return [];
  const role = myRole(channel);
  const button = (text, label, onclick, kind = "") =>
    h("button", { type: "button", class: `button small ${kind}`.trim(), "aria-label": label, onclick }, text);
  const actions = [];
  if (role === "owner") {
    if (member.role === "member") {
      actions.push(button("Make admin", `Make ${member.name} an admin`, (event) => setRole(event.currentTarget, channel.id, member, "admin")));
    } else if (member.role === "admin") {
      actions.push(button("Make member", `Make ${member.name} a member`, (event) => setRole(event.currentTarget, channel.id, member, "member")));
    }
    actions.push(button("Make owner", `Make ${member.name} the owner`, (event) => transferOwnership(event.currentTarget, channel.id, member)));
  }
  if (role === "owner" || (role === "admin" && member.role === "member")) {
    actions.push(button("Remove", `Remove ${member.name}`, (event) => removeMember(event.currentTarget, channel.id, member), "danger"));
  }
  return actions;
}

async function setRole(button, channelId, member, role) {
  await busy(
    button,
    async () => applyMember(channelId, await api.setRole(channelId, member.user_id, role)),
    `Could not make ${member.name} ${role === "admin" ? "an admin" : "a member"}`,
  );
}

async function transferOwnership(button, channelId, member) {
  const channel = state.channels.get(channelId);
  const question = `Make ${member.name} the owner of ${channelTitle(channel)}? You stay on as an admin.`;
  if (!channel || !(await confirmDialog(question, "Make owner", "Transfer ownership"))) return;
  await busy(
    button,
    async () => {
      // The old owner becomes an admin (my role beyond the first 100 members, too).
      storeChannel({ ...(await api.transferOwnership(channelId, member.user_id)), role: "admin" });
      rolesChanged(channelId);
    },
    "Could not hand the group over",
  );
}

async function removeMember(button, channelId, member) {
  const channel = state.channels.get(channelId);
  if (!channel || !(await confirmDialog(`Remove ${member.name} from ${channelTitle(channel)}?`, "Remove", "Remove member"))) return;
  await busy(
    button,
    async () => {
      await api.removeMember(channelId, member.user_id);
      // member.removed may come before or after this answer: the channel as it is now settles it.
      storeChannel(await api.channel(channelId));
      rolesChanged(channelId);
    },
    `Could not remove ${member.name}`,
  );
}

/** A channel shows its first 100 members; the rest come a page at a time, on request. */
function showMoreMembers(channel, list, shown) {
  const more = $("members-more");
  let cursor = null;
  let loaded = shown;
  const update = () => {
    more.hidden = loaded >= channel.member_count;
    more.textContent = `Show more (${channel.member_count - loaded} more)`;
  };
  more.onclick = async () => {
    more.disabled = true;
    try {
      // The first page repeats the members the channel showed: start after them.
      if (cursor === null) cursor = (await api.members(channel.id)).next_cursor;
      if (!cursor) return;
      const page = await api.members(channel.id, cursor);
      for (const member of page.items) {
        rememberName(member.user_id, member.name);
        list.appendChild(memberRow(channel, member));
      }
      loaded += page.items.length;
      cursor = page.next_cursor;
      if (!cursor) loaded = channel.member_count;
    } catch (err) {
      toast(err.message);
    } finally {
      more.disabled = false;
      update();
    }
  };
  update();
}

async function openMembersDialog() {
  let channel = state.channels.get(view.channelId);
  if (!channel) return;
  // A channel known from the list has no members yet (its own read may still be on the way).
  if (!channel.members) {
    try {
      channel = await api.channel(channel.id);
      storeChannel(channel);
    } catch (error) {
      showError(error, "Could not load the members");
      return;
    }
  }
  $("members-dialog").dataset.channelId = channel.id;
  renderMembers(channel);
  showReports(channel);
  if (!$("members-dialog").open) $("members-dialog").showModal();
}

function renderMembers(channel) {
  const list = $("members-list");
  // A re-render may take the focused button away (its member left, or its label changed):
  // the focus goes to that member's first button, else to Close.
  const active = document.activeElement;
  const row = list.contains(active) ? active.closest("[data-user-id]") : null;
  keepFocus(list, () => {
    clear(list);
    const members = channel.members || [];
    for (const member of members) list.appendChild(memberRow(channel, member));
    showMoreMembers(channel, list, members.length);
  });
  if (row && !list.contains(document.activeElement)) {
    const again = list.querySelector(`[data-user-id="${CSS.escape(row.dataset.userId)}"] button`);
    (again || $("members-dialog").querySelector("[data-cancel]")).focus();
  }
  const form = $("add-member-form");
  form.hidden = channel.kind !== "group";
  if (!form.hidden) fillMemberChoices(channel);
}

/** Pushed changes of the channel whose members are shown show at once. */
function renderMembersIfOpen(channelId) {
  const dialog = $("members-dialog");
  const channel = state.channels.get(channelId);
  if (dialog.open && dialog.dataset.channelId === channelId && channel && channel.members) renderMembers(channel);
}

/** Only partners can be added (consent). */
function fillMemberChoices(channel) {
  const select = clear($("add-member-form").elements.user_id);
  const inside = new Set((channel.members || []).map((member) => member.user_id));
  for (const { user } of state.partners.values()) {
    if (inside.has(user.id)) continue;
    select.appendChild(h("option", { value: user.id }, user.name));
  }
  $("add-member-form").querySelector("button").disabled = !select.options.length;
}

async function addMember(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const userId = form.elements.user_id.value;
  if (!userId) return;
  await busy(
    form.querySelector("button"),
    async () => {
      storeChannel(await api.addMember(view.channelId, userId));
      renderHeader();
      openMembersDialog();
    },
    "Could not add the member",
  );
}

/** Blocks a message's sender: their messages leave the view, as they leave the history. */
async function blockSender(button, sender) {
  await blockUser(button, sender);
  if (!state.blocked.has(sender.id)) return;
  for (const [id, message] of view.messages) {
    if (message.sender && message.sender.id === sender.id) view.messages.delete(id);
  }
  render();
}

let reportTarget = null;

function openReportDialog(message) {
  reportTarget = message;
  const form = $("report-form");
  form.reset();
  formError(form, "");
  $("report-dialog").showModal();
}

async function submitReport(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const message = reportTarget;
  if (!message) return;
  const button = form.querySelector("[type=submit]");
  button.disabled = true;
  formError(form, "");
  try {
    await api.report(message.channel_id, message.id, form.elements.reason.value, form.elements.note.value.trim());
    $("report-dialog").close("sent");
    toast("Thanks: the message is reported.");
  } catch (failure) {
    if (failure.status !== 401) formError(form, describeError(failure));
  } finally {
    button.disabled = false;
  }
}

/** The owner sees the channel's reports in the members dialog. */
async function showReports(channel) {
  const section = $("reports-section");
  section.hidden = !canModerate();
  if (section.hidden) return;
  const list = clear($("reports-list"));
  try {
    const reports = await allPages((cursor) => api.reports(channel.id, cursor));
    for (const report of reports) {
      const note = report.note ? `: ${report.note}` : "";
      list.appendChild(
        h(
          "li",
          { class: "person" },
          h("span", {}, `${nameOf(report.reporter_id)} reported a message as ${report.reason}${note}`),
          h("span", { class: "muted small" }, shortTime(report.created_at)),
        ),
      );
    }
    $("reports-empty").hidden = reports.length > 0;
  } catch (error) {
    showError(error, "Could not load the reports");
  }
}

async function leaveChannel() {
  const channel = state.channels.get(view.channelId);
  if (!channel) return;
  const question =
    channel.kind === "group" && myRole(channel) === "owner"
      ? `Leave ${channelTitle(channel)}? You own it: it passes to its longest-standing admin (else member), and a group with nobody left is deleted.`
      : `Leave ${channelTitle(channel)}?`;
  if (!(await confirmDialog(question, "Leave", "Leave channel"))) return;
  await busy(
    $("leave-button"),
    async () => {
      await api.leave(channel.id);
      forgetChannel(channel.id);
      emit("channels");
      focusHome();
    },
    "Could not leave the channel",
  );
}

async function toggleMute() {
  const channel = state.channels.get(view.channelId);
  if (!channel) return;
  const muted = !channel.muted;
  await busy(
    $("mute-button"),
    async () => {
      await (muted ? api.mute(channel.id) : api.unmute(channel.id));
      const known = state.channels.get(channel.id);
      if (known) known.muted = muted;
      emit("channels");
      toast(
        muted
          ? `${channelTitle(channel)} is muted: its messages no longer count as unread, unless they mention you.`
          : `${channelTitle(channel)} is no longer muted.`,
        { kind: "notice", timeout: 4000 },
      );
    },
    muted ? "Could not mute the channel" : "Could not unmute the channel",
  );
}

// ---------------------------------------------------------------- channel settings

function openChannelSettings() {
  const channel = state.channels.get(view.channelId);
  if (!channel) return;
  const dialog = $("channel-settings-dialog");
  const form = $("channel-settings-form");
  form.reset();
  formError(form, "");
  dialog.dataset.channelId = channel.id;
  form.elements.name.value = channel.name;
  form.elements.description.value = channel.description || "";
  // Privacy and slow mode are a group's; an assistant channel has a name and a description.
  $("channel-settings-group").hidden = channel.kind !== "group";
  form.elements.visibility.value = channel.private ? "private" : "public";
  const select = form.elements.slow_mode_seconds;
  const current = String(channel.slow_mode_seconds || 0);
  // A value set elsewhere (the API takes any number of seconds) is offered as it is.
  if (![...select.options].some((option) => option.value === current)) {
    select.appendChild(h("option", { value: current }, formatSeconds(Number(current))));
  }
  select.value = current;
  dialog.showModal();
}

async function submitChannelSettings(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const dialog = $("channel-settings-dialog");
  const channel = state.channels.get(dialog.dataset.channelId);
  if (!channel) {
    dialog.close();
    return;
  }
  const name = form.elements.name.value.trim();
  if (!name) {
    formError(form, "Give the channel a name.", ["name"]);
    return;
  }
  // Only what changed is sent, so a save never undoes someone else's change of another field.
  const changes = {};
  if (name !== channel.name) changes.name = name;
  const description = form.elements.description.value.trim();
  if (description !== (channel.description || "")) changes.description = description;
  if (channel.kind === "group") {
    const isPrivate = form.elements.visibility.value !== "public";
    if (isPrivate !== channel.private) changes.private = isPrivate;
    const slow = Number(form.elements.slow_mode_seconds.value);
    if (slow !== (channel.slow_mode_seconds || 0)) changes.slow_mode_seconds = slow;
  }
  if (!Object.keys(changes).length) {
    dialog.close("saved");
    return;
  }
  const button = form.querySelector("[type=submit]");
  formError(form, "");
  button.disabled = true;
  try {
    storeChannel(await api.updateChannel(channel.id, changes));
    dialog.close("saved");
    toast("Channel settings saved.", { kind: "notice", timeout: 4000 });
  } catch (failure) {
    if (failure.status !== 401) {
      const fields = Object.keys(failure.details || {}).filter((field) => ["name", "description", "slow_mode_seconds"].includes(field));
      formError(form, describeError(failure), fields);
    }
  } finally {
    button.disabled = false;
  }
}

async function deleteChannel() {
  const channel = state.channels.get(view.channelId);
  if (!channel) return;
  if (!(await confirmDialog(`Delete ${channelTitle(channel)} and all its messages for everyone?`, "Delete", "Delete channel"))) return;
  await busy(
    $("delete-channel-button"),
    async () => {
      await api.deleteChannel(channel.id);
      forgetChannel(channel.id);
      emit("channels");
      focusHome();
    },
    "Could not delete the channel",
  );
}

// ---------------------------------------------------------------- pushed events

export function onChatEvent(event) {
  switch (event.type) {
    case "ack":
      if (event.message) settle(event.message);
      break;
    case "error": {
      const item = event.client_id && pending.get(event.client_id);
      if (item) failSend(item, event);
      else toast(describeError(event, "The server refused a request"));
      break;
    }
    case "message.created":
      onMessageCreated(event.message);
      break;
    case "message.delta":
      onDelta(event);
      break;
    case "message.updated":
      if (event.channel_id === view.channelId) {
        upsert(event.message);
        scheduleRender();
      }
      if (state.channels.get(event.channel_id)?.last_message?.id === event.message.id) {
        noteMessage(event.message);
        emit("channels");
      }
      break;
    case "message.deleted":
      if (event.channel_id === view.channelId) markDeleted(event.message_id);
      onMessageGone(event.channel_id, event.message_id);
      break;
    case "attachment.updated":
      if (event.attachment) onAttachmentUpdated(event.attachment);
      break;
    case "reaction.updated": {
      const message = event.channel_id === view.channelId && view.messages.get(event.message_id);
      if (message) {
        message.reactions = event.reactions;
        bump(message.id);
        scheduleRender();
      }
      break;
    }
    case "read_receipt":
      // Read on another of my devices: the badge goes here too.
      if (event.user_id === state.me.id) {
        clearUnread(event.channel_id, event.last_read_message_id);
        emit("unread");
      }
      if (event.channel_id === view.channelId) {
        setReceipt(event.user_id, event.last_read_message_id);
        scheduleRender();
      }
      break;
    case "typing":
      onTyping(event);
      break;
    case "member.joined":
    case "member.left":
      onMembership(event);
      break;
    case "member.updated":
      if (event.member) applyMember(event.channel_id, event.member);
      break;
    case "member.removed":
      onMemberRemoved(event);
      break;
    case "channel.created":
    case "channel.updated":
      if (event.channel) {
        storeChannel(event.channel);
        if (event.channel.id === view.channelId) {
          renderMembersIfOpen(event.channel.id);
          scheduleRender(); // "This is the beginning of <name>"
        }
      }
      break;
    case "channel.deleted":
      onChannelGone(event.channel_id, (title) => `${title} was deleted.`);
      break;
    default:
      break;
  }
}

function onMessageCreated(message) {
  const channelId = message.channel_id;
  rememberName(message.sender.id, message.sender.name);
  noteMessage(message);
  const mine = message.sender.id === state.me.id;
  if (mine && message.client_id && pending.has(message.client_id)) return settle(message);
  if (!state.channels.has(channelId)) {
    // A channel missing from my list (one I left that this message brings back, or one I
    // was put in): learn it from the channel itself, whose list entry may lag a moment.
    learnChannel(channelId, message);
    if (!mine) countUnread(message);
    return undefined;
  }
  if (channelId !== view.channelId) {
    if (!mine) {
      countUnread(message);
      const channel = state.channels.get(channelId);
      const mentioned = (message.mentions || []).includes(state.me.id);
      if (mentioned) announce(`${message.sender.name} mentioned you in ${channelTitle(channel)}`);
      else if (!channel.muted) announce(`New message in ${channelTitle(channel)} from ${message.sender.name}`);
    }
    emit("unread");
    return undefined;
  }
  const fresh = upsert(message);
  if (fresh && message.parent_id) bumpReplyCount(message.parent_id, 1);
  if (view.typing.has(message.sender.id)) {
    clearTimeout(view.typing.get(message.sender.id));
    view.typing.delete(message.sender.id);
    renderTyping();
  }
  const scroller = $("messages");
  if (fresh && !mine && !message.parent_id && !isNearBottom(scroller)) $("jump-latest").hidden = false;
  if (fresh && !mine && message.status === "streaming") {
    // Its text is on the way: it is read out once it has ended.
    announce(`Assistant${message.parent_id ? " (in a thread)" : ""} is replying…`);
  } else if (fresh && !mine) {
    const where = message.parent_id ? " (in a thread)" : "";
    const files = message.attachments?.length ? describeFiles(message.attachments) : "";
    const text = [message.body.slice(0, 300), files].filter(Boolean).join(". ");
    announce(`${message.role === "assistant" ? "Assistant" : message.sender.name}${where}: ${text}`);
  }
  scheduleRender();
  emit("channels");
  return undefined;
}

/** A file was checked: its chip in a composer, and the messages that carry it, show how it went. */
function onAttachmentUpdated(attachment) {
  const best = remember(attachment);
  trays.main?.update(best);
  trays.thread?.update(best);
  applyAttachment(best);
}

/**
 * A newer copy of a file for the messages of the open channel (and those being sent). Only a
 * change of state re-renders; `quiet` new URLs are just kept for the next render.
 */
function applyAttachment(attachment, { quiet = false } = {}) {
  if (attachment.channel_id !== view.channelId) return;
  let changed = false;
  for (const message of view.messages.values()) {
    const files = message.attachments || [];
    const index = files.findIndex((file) => file.id === attachment.id);
    if (index < 0) continue;
    const before = files[index];
    files[index] = attachment;
    if (!quiet || before.status !== attachment.status) {
      bump(message.id);
      changed = true;
    }
  }
  for (const item of pending.values()) {
    if (item.channel_id === view.channelId && item.attachments.some((file) => file.id === attachment.id)) changed = true;
  }
  if (changed) scheduleRender();
}

/** Fetches a channel the list does not know yet and adds it (with `message` as its preview). */
function learnChannel(channelId, message = null) {
  api
    .channel(channelId)
    .then((channel) => {
      storeChannel(channel, { quiet: true });
      if (message) noteMessage(message);
      emit("unread");
    })
    .catch((error) => console.warn("channel details", error));
}

/** The message a preview or a count may hold is gone. */
function onMessageGone(channelId, messageId) {
  state.liveUnread.get(channelId)?.delete(messageId);
  const channel = state.channels.get(channelId);
  if (channel && channel.last_message && channel.last_message.id === messageId) {
    if (channelId === view.channelId && view.historyLoaded) {
      // The newest page is loaded: the message before it is known here.
      const live = [...view.messages.values()].filter((message) => !message.deleted);
      const newest = live.reduce((max, message) => (!max || message.id > max.id ? message : max), null);
      channel.last_message = null;
      if (newest) noteMessage(newest);
    } else {
      refreshPreviewSoon();
    }
  }
  emit("unread");
}

/** I am out of a channel (removed, or it was deleted): it goes, with its dialogs. */
function onChannelGone(channelId, say) {
  const channel = state.channels.get(channelId);
  if (!channel) return;
  for (const dialog of [$("members-dialog"), $("channel-settings-dialog")]) {
    if (dialog.open && dialog.dataset.channelId === channelId) dialog.close();
  }
  forgetChannel(channelId);
  emit("channels");
  toast(say(channelTitle(channel)), { kind: "notice", timeout: 8000 });
}

function onMemberRemoved(event) {
  if (event.user_id === state.me.id) {
    onChannelGone(event.channel_id, (title) => `You were removed from ${title}.`);
    return;
  }
  const channel = state.channels.get(event.channel_id);
  if (!channel) return;
  const listed = (channel.members || []).some((member) => member.user_id === event.user_id);
  // Beyond the first 100 members the list cannot tell: the count goes down all the same.
  const unlisted = !channel.members || channel.member_count > channel.members.length;
  const members = channel.members ? channel.members.filter((member) => member.user_id !== event.user_id) : undefined;
  const count = listed || unlisted ? Math.max(0, channel.member_count - 1) : channel.member_count;
  storeChannel({ ...channel, members, member_count: count });
  if (event.channel_id === view.channelId) renderMembersIfOpen(event.channel_id);
}

/** A member's new role (pushed, or answered to my change). */
function applyMember(channelId, member) {
  const channel = state.channels.get(channelId);
  if (!channel) return;
  rememberName(member.user_id, member.name);
  const members = channel.members
    ? channel.members.map((other) => (other.user_id === member.user_id ? { ...other, ...member } : other))
    : undefined;
  const changes = { ...channel, members };
  const mine = member.user_id === state.me.id;
  const before = myRole(channel);
  if (mine) changes.role = member.role;
  storeChannel(changes);
  if (mine && before && before !== member.role) {
    const what = member.role === "owner" ? "the owner" : member.role === "admin" ? "an admin" : "a member";
    toast(`You are now ${what} of ${channelTitle(channel)}.`, { kind: "notice", timeout: 5000 });
  }
  rolesChanged(channelId);
}

/** Who may do what changed: the header, the members dialog and the messages' tools follow. */
function rolesChanged(channelId) {
  if (channelId !== view.channelId) return;
  for (const id of view.messages.keys()) bump(id);
  scheduleRender();
  renderHeader();
  renderMembersIfOpen(channelId);
}

function onTyping(event) {
  if (event.channel_id !== view.channelId || event.user_id === state.me.id) return;
  clearTimeout(view.typing.get(event.user_id));
  if (event.is_typing) {
    view.typing.set(
      event.user_id,
      setTimeout(() => {
        view.typing.delete(event.user_id);
        renderTyping();
      }, TYPING_SHOW_MS),
    );
  } else {
    view.typing.delete(event.user_id);
  }
  renderTyping();
}

function onMembership(event) {
  const channel = state.channels.get(event.channel_id);
  if (event.type === "member.joined") {
    const member = event.member;
    rememberName(member.user_id, member.name);
    if (!channel) {
      refreshChannels().catch(() => {});
      return;
    }
    const known = (channel.members || []).some((other) => other.user_id === member.user_id);
    const members = (channel.members || []).filter((other) => other.user_id !== member.user_id);
    // A channel shows its first 100 members: a newcomer joins the list only while it has room.
    if (channel.members && members.length < 100) members.push(member);
    storeChannel({ ...channel, members: channel.members ? members : undefined, member_count: channel.member_count + (known ? 0 : 1) });
  } else {
    if (event.user_id === state.me.id) {
      if (channel) {
        forgetChannel(event.channel_id);
        emit("channels");
      }
      return;
    }
    if (!channel) return;
    const members = (channel.members || []).filter((other) => other.user_id !== event.user_id);
    storeChannel({ ...channel, members: channel.members ? members : undefined, member_count: Math.max(0, channel.member_count - 1) });
  }
  if (event.channel_id === view.channelId) renderHeader();
}
