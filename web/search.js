// Message search: the box at the top of the sidebar searches all my channels, or the one the
// chat header's search button names. Typing searches after a pause (only the newest query's
// answer is shown); the results take the place of the sidebar's tabs until the search is
// closed (Escape, the close button, or an empty box). A hit opens its message in its channel.
//
// Words are matched as the server matches them (GET /search/messages): folded to lower case
// without accents, every word whole, the last one as the beginning of a word. The hits show
// those words marked.

import { api } from "./api.js";
import { h, clear, icon, avatar, shortTime, longTime, describeError, formError } from "./dom.js";
import { state, on, channelTitle, ASSISTANT_ID } from "./store.js";
import { revealMessage } from "./chat.js";
import { isPhoneLayout, setSidebarOpen } from "./sidebar.js";

const $ = (id) => document.getElementById(id);

const DEBOUNCE_MS = 300;
const MIN_CHARS = 2;
const MAX_CHARS = 100;
const PAGE = 20;
// Pages asked for in a row while they come back empty (a page may be empty and still go on).
const EMPTY_PAGES = 3;
// As the server cuts words.
const MAX_WORD_CHARS = 24;
// A long body is shown from a little before its first match, and cut.
const SNIPPET_LEAD = 60;
const SNIPPET_CHARS = 280;

// ---------------------------------------------------------------- words, as the server folds them

// A word is a run of letters and digits (Rust's char::is_alphanumeric).
const WORD = /[\p{Alphabetic}\p{N}]+/gu;
const WORD_CHAR = /[\p{Alphabetic}\p{N}]/u;

/** One word folded: compatibility-decomposed, combining marks dropped, lower-cased, cut. */
export function foldWord(raw) {
  return Array.from(raw.normalize("NFKD").replace(/\p{M}/gu, ""))
    // Char by char, as the server does (no context rules, e.g. for a final sigma).
    .flatMap((char) => Array.from(char.toLowerCase()))
    .filter((char) => WORD_CHAR.test(char))
    .slice(0, MAX_WORD_CHARS)
    .join("");
}

/** What a query asks for: the words before the last, whole, and the last as a prefix. */
export function parseQuery(q) {
  const words = (q.match(WORD) || []).map(foldWord).filter(Boolean);
  const prefix = words.pop() || "";
  return { whole: new Set(words), prefix };
}

/** Whether a folded word of a message is one the query asks for. */
function matchesWord(folded, query) {
  return Boolean(folded) && (query.whole.has(folded) || (Boolean(query.prefix) && folded.startsWith(query.prefix)));
}

/**
 * `text` as text nodes and <mark>s: the words the query matches are marked (a whole word of
 * the query, or a word beginning with its last word). Text never becomes markup.
 */
export function highlight(text, query) {
  const parts = [];
  let plain = 0;
  for (const match of text.matchAll(WORD)) {
    if (!matchesWord(foldWord(match[0]), query)) continue;
    if (plain < match.index) parts.push(text.slice(plain, match.index));
    parts.push(h("mark", {}, match[0]));
    plain = match.index + match[0].length;
  }
  if (plain < text.length) parts.push(text.slice(plain));
  return parts;
}

/** The part of a long body worth showing: from a little before its first match, not too long. */
function snippet(body, query) {
  let text = body;
  for (const match of body.matchAll(WORD)) {
    if (!matchesWord(foldWord(match[0]), query)) continue;
    if (match.index > SNIPPET_LEAD) {
      const space = body.lastIndexOf(" ", match.index - SNIPPET_LEAD / 2);
      text = `…${body.slice(space > 0 ? space + 1 : match.index)}`;
    }
    break;
  }
  const chars = Array.from(text);
  return chars.length > SNIPPET_CHARS ? `${chars.slice(0, SNIPPET_CHARS).join("")}…` : text;
}

// ---------------------------------------------------------------- the search

let scope = null; // the channel id searched, or null for all my channels
let timer = null;
let seq = 0; // numbers the searches: an answer to an older one is dropped
// The newest search started: "scope|query" (typing that same query again asks nothing new).
let asked = null;
// What is shown: the query and scope it answers, the parsed words, hits, the next page.
let shown = null;
let chosen = null; // the message id of the hit opened last

export function initSearch() {
  const form = $("search-form");
  const input = $("search-input");
  $("search-icon").appendChild(icon("search", { size: 16 }));
  $("search-close").appendChild(icon("close", { size: 16 }));
  $("search-channel-button").appendChild(icon("search"));

  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q && !scope) {
      closeSearch({ keepFocus: true });
      return;
    }
    openPanel();
    if (Array.from(q).length < MIN_CHARS) showTooShort();
    // The same words as the newest search (a space added): nothing new to ask.
    else if (asked !== `${scope}|${q}`) timer = setTimeout(search, DEBOUNCE_MS);
  });
  // Enter searches at once (again, if nothing changed).
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    if (!input.value.trim() && !scope) return;
    openPanel();
    if (Array.from(input.value.trim()).length < MIN_CHARS) showTooShort();
    else search();
  });
  // Escape closes the search (before the phone sidebar or the thread panel take it).
  for (const el of [form, $("search-panel")]) {
    el.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || event.defaultPrevented || !isOpen()) return;
      event.preventDefault();
      closeSearch({ keepFocus: true });
    });
  }
  $("search-close").addEventListener("click", () => closeSearch({ keepFocus: true }));
  $("search-scope-clear").addEventListener("click", () => {
    setScope(null);
    input.focus();
  });
  $("search-more").addEventListener("click", loadMore);
  $("search-channel-button").addEventListener("click", () => {
    if (!state.currentChannelId) return;
    setScope(state.currentChannelId);
    if (isPhoneLayout()) setSidebarOpen(true);
    input.focus();
    input.select();
  });

  // The channel searched went away (left, deleted): back to all channels; renamed: its new name.
  on("channels", () => {
    if (scope && !state.channels.has(scope)) setScope(null, { focus: false });
    else if (scope) renderScope();
  });
}

/** Signing out: nothing of the last search stays, and answers still on their way are dropped. */
export function resetSearch() {
  scope = null;
  closeSearch();
}

function isOpen() {
  return !$("search-panel").hidden;
}

function openPanel() {
  $("search-panel").hidden = false;
  $("sidebar").classList.add("searching");
}

function closeSearch({ keepFocus = false } = {}) {
  const input = $("search-input");
  const hadFocus = $("search-panel").contains(document.activeElement);
  clearTimeout(timer);
  seq += 1;
  asked = null;
  shown = null;
  chosen = null;
  input.value = "";
  scope = null;
  renderScope();
  formError($("search-form"), "");
  clear($("search-results"));
  $("search-status").textContent = "";
  $("search-more").hidden = true;
  $("search-panel").hidden = true;
  $("sidebar").classList.remove("searching");
  if (keepFocus || hadFocus) input.focus();
}

/** Searches `channelId` (null: all my channels) for what the box holds. */
function setScope(channelId, { focus = true } = {}) {
  scope = channelId;
  renderScope();
  const q = $("search-input").value.trim();
  if (!q && !scope) {
    closeSearch({ keepFocus: focus });
    return;
  }
  openPanel();
  clearTimeout(timer);
  if (Array.from(q).length >= MIN_CHARS) search();
  else showTooShort();
}

function scopeTitle() {
  const channel = scope && state.channels.get(scope);
  return channel ? channelTitle(channel) : null;
}

function renderScope() {
  const title = scopeTitle();
  $("search-scope").hidden = !title;
  $("search-scope-text").textContent = title ? `In ${title} only` : "In all channels";
  $("search-input").placeholder = title ? `Search ${title}` : "Search all channels";
}

function showTooShort() {
  seq += 1;
  asked = null;
  shown = null;
  formError($("search-form"), "");
  clear($("search-results"));
  $("search-more").hidden = true;
  setStatus(`Type at least ${MIN_CHARS} characters to search.`);
}

function setStatus(text) {
  const status = $("search-status");
  // A live region: the same words again are not re-announced.
  if (status.textContent !== text) status.textContent = text;
}

/** Asks for pages until one has hits (or `EMPTY_PAGES` came back empty, or there is no more). */
async function fetchHits(q, channelId, cursor) {
  const items = [];
  let next = cursor;
  for (let i = 0; i < EMPTY_PAGES && !items.length; i++) {
    const page = await api.searchMessages(q, { channelId, cursor: next, limit: PAGE });
    items.push(...page.items);
    next = page.next_cursor || null;
    if (!next) break;
  }
  return { items, next };
}

async function search() {
  clearTimeout(timer);
  const q = $("search-input").value.trim();
  const length = Array.from(q).length;
  if (length < MIN_CHARS) return showTooShort();
  const form = $("search-form");
  if (length > MAX_CHARS) {
    formError(form, `A search holds at most ${MAX_CHARS} characters.`, [$("search-input")]);
    return undefined;
  }
  const mine = ++seq;
  const generation = state.generation;
  const searched = scope;
  asked = `${searched}|${q}`;
  const list = $("search-results");
  list.setAttribute("aria-busy", "true");
  setStatus(searched ? `Searching ${scopeTitle()}…` : "Searching…");
  try {
    const { items, next } = await fetchHits(q, searched, undefined);
    if (mine !== seq || generation !== state.generation) return undefined;
    formError(form, "");
    shown = { q, scope: searched, query: parseQuery(q), items, next };
    chosen = null;
    clear(list);
    for (const hit of items) list.appendChild(hitItem(hit, shown.query));
    $("search-panel").scrollTop = 0;
    renderMore();
    announceCount();
  } catch (error) {
    if (mine !== seq || generation !== state.generation) return undefined;
    shown = null;
    asked = null;
    clear(list);
    $("search-more").hidden = true;
    setStatus("");
    // An ended session is dealt with elsewhere (back to the sign-in).
    if (error.status !== 401) formError(form, describeError(error, "Could not search"));
  } finally {
    if (mine === seq) list.removeAttribute("aria-busy");
  }
  return undefined;
}

async function loadMore() {
  if (!shown || !shown.next) return;
  const mine = seq;
  const generation = state.generation;
  const button = $("search-more");
  const list = $("search-results");
  button.disabled = true;
  list.setAttribute("aria-busy", "true");
  try {
    const { items, next } = await fetchHits(shown.q, shown.scope, shown.next);
    if (mine !== seq || generation !== state.generation) return;
    formError($("search-form"), "");
    shown.items.push(...items);
    shown.next = next;
    const added = items.map((hit) => hitItem(hit, shown.query));
    list.append(...added);
    renderMore();
    announceCount();
    // The focus goes on to the first new hit (the button may be gone).
    if (added.length) added[0].querySelector("button").focus();
  } catch (error) {
    if (mine !== seq || generation !== state.generation) return;
    if (error.status !== 401) formError($("search-form"), describeError(error, "Could not load more results"));
  } finally {
    button.disabled = false;
    if (mine === seq) list.removeAttribute("aria-busy");
  }
}

function renderMore() {
  $("search-more").hidden = !shown || !shown.next;
}

/** The count in the live region (and in view): "3 messages found", or the empty state. */
function announceCount() {
  const count = shown.items.length;
  const where = shown.scope ? ` in ${scopeTitle() || "this channel"}` : "";
  if (!count) {
    setStatus(shown.next ? `No messages found${where} yet: load more to search further back.` : `No messages found${where}.`);
    return;
  }
  const found = `${count} ${count === 1 ? "message" : "messages"} found${where}`;
  setStatus(shown.next ? `${found}, more to load.` : `${found}.`);
}

// ---------------------------------------------------------------- a hit

const KINDS = { direct: "direct", assistant: "assistant" };

function hitItem(hit, query) {
  const { message } = hit;
  // The channel as my list knows it (a direct channel by the other person's name), else as found.
  const channel = state.channels.get(hit.channel.id) || hit.channel;
  const title = channelTitle(channel) || hit.channel.name;
  const kind = KINDS[hit.channel.kind] || null;
  const assistant = message.role === "assistant" || message.sender.id === ASSISTANT_ID;
  const sender = assistant ? "Assistant" : message.sender.name;
  const body = message.body || "";
  const sep = (text) => h("span", { class: "visually-hidden" }, text);
  const button = h(
    "button",
    {
      type: "button",
      class: "search-hit",
      dataset: { messageId: message.id, channelId: hit.channel.id },
      "aria-current": chosen === message.id ? "true" : null,
      onclick: (event) => openHit(event.currentTarget, message),
    },
    h(
      "span",
      { class: "search-hit-meta" },
      h("span", { class: "search-hit-channel" }, title),
      kind ? h("span", { class: "tag" }, sep(", "), kind) : null,
      sep(", "),
      h("time", { datetime: message.created_at, title: longTime(message.created_at) }, shortTime(message.created_at)),
    ),
    h(
      "span",
      { class: "search-hit-from" },
      avatar(message.sender.id, sender, { assistant, size: "sm" }),
      sep(", from "),
      h("span", { class: "search-hit-sender" }, sender),
      message.parent_id ? h("span", { class: "muted" }, sep(","), " in a thread") : null,
      sep(": "),
    ),
    h("span", { class: "search-hit-body" }, body ? highlight(snippet(body, query), query) : "📎 Attachment"),
  );
  return h("li", {}, button);
}

async function openHit(button, message) {
  chosen = message.id;
  for (const other of $("search-results").querySelectorAll("[aria-current]")) other.removeAttribute("aria-current");
  button.setAttribute("aria-current", "true");
  if (isPhoneLayout()) setSidebarOpen(false);
  await revealMessage(message);
}
