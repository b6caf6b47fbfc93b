// The sidebar: my channels (create a group, a direct channel, an assistant channel; browse
// and join public ones) and people (partner requests received and sent, partners, everyone).

import { api, allPages } from "./api.js";
import { h, clear, icon, avatar, busy, showError, toast, relativeTime, shortTime, confirmDialog, formError } from "./dom.js";
import {
  state,
  emit,
  on,
  rememberName,
  nameOf,
  setPresence,
  channelTitle,
  otherMember,
  compareIds,
  unreadOf,
  clearUnread,
  ASSISTANT_ID,
} from "./store.js";
import { presenceDot } from "./presence.js";
import { openChannel, closeChannel } from "./chat.js";

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- tabs and the phone layout

export function initSidebar() {
  const tabs = [$("tab-chats"), $("tab-people")];
  const select = (tab, focus) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    if (tab.id === "tab-people") loadUsers(false).catch((error) => showError(error, "Could not load people"));
  };
  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const index = tabs.indexOf(tab);
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        event.preventDefault();
        select(tabs[(index + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length], true);
      }
    });
  }
  showPeopleTab = () => select($("tab-people"));

  const toggle = $("sidebar-toggle");
  toggle.appendChild(icon("menu"));
  toggle.addEventListener("click", () => setSidebarOpen(toggle.getAttribute("aria-expanded") !== "true"));
  $("sidebar-scrim").addEventListener("click", () => setSidebarOpen(false));
  window.matchMedia("(max-width: 820px)").addEventListener("change", updateInert);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented || !document.body.classList.contains("sidebar-open")) return;
    if (document.querySelector("dialog[open]")) return;
    event.preventDefault();
    setSidebarOpen(false);
    toggle.focus();
  });

  $("new-group-button").append(icon("users", { size: 16 }), " New group");
  $("new-assistant-button").append(icon("sparkle", { size: 16 }), " Assistant");
  $("browse-button").append(icon("globe", { size: 16 }), " Browse");
  $("new-group-button").addEventListener("click", openGroupDialog);
  $("new-assistant-button").addEventListener("click", (event) => createAssistant(event.currentTarget));
  $("browse-button").addEventListener("click", openPublicDialog);
  $("group-form").addEventListener("submit", submitGroup);
  $("request-form").addEventListener("submit", submitRequest);
  $("people-filter").addEventListener("input", renderUsers);
  $("users-more").addEventListener("click", (event) => busy(event.currentTarget, () => loadUsers(true), "Could not load people"));

  on("channels", renderChannels);
  on("unread", renderChannels);
  on("people", renderPeople);
  on("names", () => {
    renderChannels();
    renderPeople();
  });
}

let showPeopleTab = () => {};

export function isPhoneLayout() {
  return window.matchMedia("(max-width: 820px)").matches;
}

export function setSidebarOpen(open) {
  const toggle = $("sidebar-toggle");
  toggle.setAttribute("aria-expanded", String(open));
  toggle.setAttribute("aria-label", open ? "Hide chats and people" : "Show chats and people");
  document.body.classList.toggle("sidebar-open", open);
  $("sidebar-scrim").hidden = !open;
  updateInert();
  if (open) {
    const current = $("sidebar").querySelector("[aria-selected='true']");
    if (current) current.focus();
  }
}

/**
 * On phones the open sidebar covers the conversation and the thread panel, and the open thread
 * panel covers the conversation: what is covered is made inert, so Tab and screen readers
 * cannot wander behind the overlay.
 */
export function updateInert() {
  const phone = isPhoneLayout();
  const sidebarOpen = phone && document.body.classList.contains("sidebar-open");
  const threadOpen = phone && document.body.classList.contains("thread-open");
  $("chat").inert = sidebarOpen || threadOpen;
  $("thread").inert = sidebarOpen;
}

// ---------------------------------------------------------------- channels

export async function refreshChannels() {
  const generation = state.generation;
  const countedBefore = state.liveSeq;
  const items = await allPages((cursor) => api.channels(cursor));
  if (generation !== state.generation) return; // started by a session that has ended
  const seen = new Set();
  for (const summary of items) {
    seen.add(summary.id);
    const known = state.channels.get(summary.id);
    // A preview pushed a moment ago may be newer than the list's.
    const pushed = known && known.last_message;
    const last = pushed && (!summary.last_message || pushed.id > summary.last_message.id) ? pushed : summary.last_message;
    state.channels.set(summary.id, { ...summary, last_message: last, members: known && known.members });
    noteActivity(summary.id, summary.last_activity_at || summary.created_at);
    settleLiveUnread(summary, countedBefore);
    if (summary.id === state.currentChannelId) clearUnread(summary.id);
  }
  for (const id of [...state.channels.keys()]) {
    if (!seen.has(id)) forgetChannel(id);
  }
  emit("channels");
  loadDirectMembers();
}

/** Direct channels are shown by the other person's name and presence: fetch their members. */
async function loadDirectMembers() {
  const generation = state.generation;
  const missing = [...state.channels.values()].filter((channel) => channel.kind === "direct" && !channel.members);
  const worker = async () => {
    while (missing.length) {
      const channel = missing.shift();
      try {
        const full = await api.channel(channel.id);
        if (generation !== state.generation) return;
        storeChannel(full, { quiet: true });
      } catch (error) {
        console.warn("channel details", error);
      }
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  if (generation === state.generation) emit("channels");
}

/** Stores a full channel (with members) and learns the members' names. */
export function storeChannel(channel, { quiet = false } = {}) {
  for (const member of channel.members || []) rememberName(member.user_id, member.name);
  const known = state.channels.get(channel.id);
  // `members` holds the first 100 only: the count is the channel's own.
  state.channels.set(channel.id, { ...known, ...channel, member_count: channel.member_count ?? (channel.members || []).length });
  if (!state.activity.has(channel.id)) state.activity.set(channel.id, channel.created_at);
  if (!quiet) emit("channels");
  return state.channels.get(channel.id);
}

/**
 * Drops the pushed messages a summary already counts: those up to its last message, and, when
 * it counted any (its count reads the messages after my marker as they were then), those
 * pushed before the list was asked for. A count of 0 may only mean the list had not moved yet.
 */
function settleLiveUnread(summary, countedBefore) {
  const live = state.liveUnread.get(summary.id);
  if (!live) return;
  const lastId = summary.last_message ? summary.last_message.id : "";
  for (const [id, entry] of [...live]) {
    if (id <= lastId || (summary.unread_count > 0 && entry.seq <= countedBefore)) live.delete(id);
  }
}

export function forgetChannel(id) {
  state.channels.delete(id);
  state.liveUnread.delete(id);
  state.activity.delete(id);
  if (state.currentChannelId === id) closeChannel();
}

const time = (iso) => Date.parse(iso) || 0;

function noteActivity(channelId, at) {
  const before = state.activity.get(channelId);
  if (!before || time(before) < time(at)) state.activity.set(channelId, at);
}

/** A new message: its channel moves up the list and shows it as its preview. */
export function noteMessage(message) {
  noteActivity(message.channel_id, message.created_at);
  const channel = state.channels.get(message.channel_id);
  if (!channel || (channel.last_message && channel.last_message.id > message.id)) return;
  channel.last_message = {
    id: message.id,
    sender: message.sender,
    role: message.role,
    preview: Array.from(message.body).slice(0, 140).join(""),
    created_at: message.created_at,
  };
}

let previewRefresh = null;

/** The message a preview shows was deleted: the list knows the one before it a moment later. */
export function refreshPreviewSoon() {
  clearTimeout(previewRefresh);
  previewRefresh = setTimeout(() => refreshChannels().catch((error) => console.warn("channel list", error)), 1500);
}

function channelIcon(channel) {
  if (channel.kind === "assistant") return avatar(ASSISTANT_ID, "Assistant", { assistant: true, size: "sm" });
  if (channel.kind === "direct") {
    const other = otherMember(channel);
    if (other) {
      return h("span", { class: "avatar-wrap" }, avatar(other, nameOf(other), { size: "sm" }), presenceDot(other));
    }
    return h("span", { class: "channel-glyph" }, icon("at", { size: 16 }));
  }
  return h("span", { class: "channel-glyph" }, icon(channel.private ? "lock" : "hash", { size: 16 }));
}

function kindLabel(channel) {
  if (channel.kind === "direct") return "direct message";
  if (channel.kind === "assistant") return "assistant";
  const count = channel.member_count;
  return `${channel.private ? "private" : "public"} group, ${count} ${count === 1 ? "member" : "members"}`;
}

/** "Sender: text" of the channel's last message (just the text in a direct channel). */
function previewText(channel) {
  const last = channel.last_message;
  if (!last) return "";
  // Only a message of files has no text, or an assistant reply whose first words are on the way.
  const text = last.preview || (last.role === "assistant" ? "…" : "📎 Attachment");
  if (channel.kind === "direct") return text;
  const who = last.sender.id === state.me.id ? "You" : last.role === "assistant" ? "Assistant" : last.sender.name;
  return `${who}: ${text}`;
}

function renderChannels() {
  const list = $("channel-list");
  const focusedId = document.activeElement && document.activeElement.dataset.channelId;
  clear(list);
  const at = (channel) => time(state.activity.get(channel.id) || channel.created_at);
  const channels = [...state.channels.values()].sort((a, b) => at(b) - at(a) || compareIds(b.id, a.id));
  let totalUnread = 0;
  for (const channel of channels) {
    const { unread, mentions } = unreadOf(channel.id);
    // A muted channel counts only where it mentions me.
    totalUnread += channel.muted ? mentions : unread;
    const current = channel.id === state.currentChannelId;
    const preview = previewText(channel);
    const previewId = `preview-${channel.id}`;
    const button = h(
      "button",
      {
        type: "button",
        class: `channel-item${unread ? " has-unread" : ""}${channel.muted ? " is-muted" : ""}`,
        "aria-current": current ? "page" : null,
        // The preview describes the button rather than naming it: it holds other people's names.
        "aria-describedby": preview ? previewId : null,
        dataset: { channelId: channel.id },
        onclick: () => {
          openChannel(channel.id);
          if (isPhoneLayout()) setSidebarOpen(false);
        },
      },
      channelIcon(channel),
      h(
        "span",
        { class: "channel-main" },
        h(
          "span",
          { class: "channel-line" },
          h("span", { class: "channel-name" }, channelTitle(channel)),
          channel.muted ? h("span", { class: "channel-muted", title: "Muted" }, icon("bellOff", { size: 13 })) : null,
        ),
        preview ? h("span", { class: "channel-preview", id: previewId, "aria-hidden": "true" }, preview) : null,
      ),
      h("span", { class: "visually-hidden" }, `, ${kindLabel(channel)}${channel.muted ? ", muted" : ""}`),
      mentions
        ? h(
            "span",
            { class: "badge badge-mention", title: mentions === 1 ? "Mentions you" : `Mentions you ${mentions} times` },
            h("span", { "aria-hidden": "true" }, "@"),
            h("span", { class: "visually-hidden" }, `, ${mentions} ${mentions === 1 ? "mention" : "mentions"}, `),
          )
        : null,
      unread
        ? h(
            "span",
            { class: `badge${channel.muted ? " badge-muted" : ""}` },
            unread > 99 ? "99+" : String(unread),
            h("span", { class: "visually-hidden" }, " unread"),
          )
        : null,
    );
    list.appendChild(h("li", {}, button));
    if (focusedId === channel.id) button.focus();
  }
  $("channels-empty").hidden = channels.length > 0;
  const count = $("chats-count");
  count.hidden = !totalUnread;
  clear(count);
  if (totalUnread) count.append(String(totalUnread), h("span", { class: "visually-hidden" }, " unread"));
  document.title = totalUnread ? `(${totalUnread}) Chat` : "Chat";
}

async function createAssistant(button) {
  await busy(
    button,
    async () => {
      const existing = [...state.channels.values()].filter((channel) => channel.kind === "assistant").length;
      const channel = await api.createChannel({ name: existing ? `Assistant ${existing + 1}` : "Assistant", kind: "assistant" });
      storeChannel(channel);
      await openChannel(channel.id);
      if (isPhoneLayout()) setSidebarOpen(false);
    },
    "Could not start an assistant chat",
  );
}

export async function openDirect(userId, button) {
  await busy(
    button,
    async () => {
      const name = `${state.me.name} & ${nameOf(userId)}`.slice(0, 80);
      const channel = await api.createChannel({ name, kind: "direct", member_ids: [userId] });
      storeChannel(channel);
      await openChannel(channel.id);
      if (isPhoneLayout()) setSidebarOpen(false);
    },
    "Could not open the conversation",
  );
}

// ---------------------------------------------------------------- dialogs

export function wireDialog(dialog) {
  for (const button of dialog.querySelectorAll("[data-cancel]")) {
    button.addEventListener("click", () => dialog.close("cancel"));
  }
  // A click on the backdrop (outside the form) closes too.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close("cancel");
  });
}

async function openGroupDialog() {
  const dialog = $("group-dialog");
  const form = $("group-form");
  form.reset();
  formError(form, "");
  const box = clear($("group-members"));
  // Only partners can be put into a group (consent); others join public groups themselves.
  const candidates = new Map();
  for (const { user } of state.partners.values()) candidates.set(user.id, user.name);
  if (!candidates.size) box.appendChild(h("p", { class: "muted" }, "You can add your partners here. Add partners from People first, or make the group public so others can join."));
  for (const [id, name] of candidates) {
    box.appendChild(
      h(
        "label",
        { class: "choice" },
        h("input", { type: "checkbox", name: "member", value: id }),
        presenceDot(id),
        " ",
        name,
      ),
    );
  }
  dialog.showModal();
}

async function submitGroup(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const name = form.elements.name.value.trim();
  if (!name) {
    formError(form, "Give the group a name.", ["name"]);
    return;
  }
  const memberIds = [...form.querySelectorAll("input[name=member]:checked")].map((input) => input.value);
  const submit = form.querySelector("[type=submit]");
  submit.disabled = true;
  try {
    const channel = await api.createChannel({
      name,
      kind: "group",
      private: form.elements.visibility.value !== "public",
      member_ids: memberIds,
    });
    storeChannel(channel);
    $("group-dialog").close("created");
    await openChannel(channel.id);
  } catch (error) {
    formError(form, `${error.message}${error.code ? ` [${error.code}]` : ""}`);
  } finally {
    submit.disabled = false;
  }
}

async function openPublicDialog() {
  const dialog = $("public-dialog");
  const list = clear($("public-list"));
  list.appendChild(h("li", { class: "muted" }, "Loading…"));
  dialog.showModal();
  try {
    const channels = await allPages((cursor) => api.publicChannels(cursor));
    clear(list);
    $("public-empty").hidden = channels.length > 0;
    for (const channel of channels) {
      const member = state.channels.has(channel.id);
      list.appendChild(
        h(
          "li",
          { class: "person" },
          h("span", { class: "channel-glyph" }, icon("hash", { size: 16 })),
          h("span", { class: "person-main" }, h("span", { class: "person-name" }, channel.name), h("span", { class: "muted small" }, `${channel.member_count} ${channel.member_count === 1 ? "member" : "members"}`)),
          h(
            "button",
            {
              type: "button",
              class: `button small${member ? "" : " primary"}`,
              "aria-label": `${member ? "Open" : "Join"} ${channel.name}`,
              onclick: (event) =>
                busy(
                  event.currentTarget,
                  async () => {
                    if (!member) storeChannel(await api.join(channel.id));
                    dialog.close();
                    await openChannel(channel.id);
                  },
                  `Could not join ${channel.name}`,
                ),
            },
            member ? "Open" : "Join",
          ),
        ),
      );
    }
  } catch (error) {
    clear(list);
    showError(error, "Could not load the public channels");
  }
}

let requestTarget = null;

function openRequestDialog(user) {
  requestTarget = user;
  const form = $("request-form");
  form.reset();
  formError(form, "");
  $("request-title").textContent = `Partner request to ${user.name}`;
  $("request-dialog").showModal();
}

async function submitRequest(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const submit = form.querySelector("[type=submit]");
  submit.disabled = true;
  try {
    const request = await api.sendRequest(requestTarget.id, form.elements.message.value.trim());
    state.sent = [request, ...state.sent.filter((other) => other.id !== request.id)];
    $("request-dialog").close("sent");
    toast(`Partner request sent to ${requestTarget.name}.`, { kind: "notice", timeout: 4000 });
    emit("people");
  } catch (error) {
    formError(form, `${error.message}${error.code ? ` [${error.code}]` : ""}`);
  } finally {
    submit.disabled = false;
  }
}

// ---------------------------------------------------------------- people

export async function refreshPeople() {
  const generation = state.generation;
  const [partners, received, sent, blocked] = await Promise.all([
    allPages((cursor) => api.partnerships(cursor)),
    allPages((cursor) => api.received("pending", cursor)),
    allPages((cursor) => api.sent("pending", cursor)),
    allPages((cursor) => api.blocks(cursor)),
  ]);
  if (generation !== state.generation) return; // started by a session that has ended
  state.partners = new Map(partners.map((entry) => [entry.user.id, entry]));
  state.blocked = new Map(blocked.map((entry) => [entry.user.id, entry]));
  for (const entry of partners) rememberName(entry.user.id, entry.user.name);
  state.received = received;
  state.sent = sent;
  for (const request of [...received, ...sent]) {
    rememberName(request.sender.id, request.sender.name);
    rememberName(request.recipient.id, request.recipient.name);
  }
  emit("people");
}

export async function ensureUsers() {
  if (!state.usersLoaded) await loadUsers(false).catch((error) => showError(error, "Could not load people"));
}

async function loadUsers(more) {
  const generation = state.generation;
  const page = await api.users(more ? state.usersCursor : undefined, 100);
  if (generation !== state.generation) return;
  if (!more) state.users = [];
  const known = new Set(state.users.map((user) => user.id));
  for (const user of page.items) {
    if (!known.has(user.id)) state.users.push(user);
    rememberName(user.id, user.name);
  }
  state.usersCursor = page.next_cursor;
  state.usersLoaded = true;
  // Presence is shown only for partners and co-members (the contract refuses the others):
  // what `GET /presence/online` and the presence events say is all there is to know.
  renderUsers();
}

function pendingWith(userId) {
  return (
    state.received.find((request) => request.sender.id === userId) ||
    state.sent.find((request) => request.recipient.id === userId)
  );
}

function personRow({ id, name }, extra, ...buttons) {
  return h(
    "li",
    { class: "person", dataset: { userId: id } },
    h("span", { class: "avatar-wrap" }, avatar(id, name, { size: "sm" }), presenceDot(id)),
    h("span", { class: "person-main" }, h("span", { class: "person-name" }, name), extra),
    h("span", { class: "person-actions" }, ...buttons),
  );
}

function actionButton(text, label, onclick, kind = "") {
  return h("button", { type: "button", class: `button small ${kind}`.trim(), "aria-label": label, onclick }, text);
}

/** Re-renders inside `container` and puts the focus back on the same control, if it is still there. */
export function keepFocus(container, render) {
  const active = document.activeElement;
  const label = active && container.contains(active) ? active.getAttribute("aria-label") : null;
  render();
  if (label) {
    const again = [...container.querySelectorAll("button")].find((button) => button.getAttribute("aria-label") === label);
    if (again) again.focus();
  }
}

function renderPeople() {
  keepFocus($("panel-people"), renderPeopleNow);
}

function renderPeopleNow() {
  const received = clear($("received-list"));
  for (const request of state.received) {
    const sender = request.sender;
    received.appendChild(
      personRow(
        sender,
        h(
          "span",
          { class: "muted small" },
          request.message ? `“${request.message}” · ` : "",
          relativeTime(request.created_at),
        ),
        actionButton("Accept", `Accept request from ${sender.name}`, (event) => respond(event.currentTarget, request, "accept"), "primary"),
        actionButton("Reject", `Reject request from ${sender.name}`, (event) => respond(event.currentTarget, request, "reject")),
      ),
    );
  }
  $("received-empty").hidden = state.received.length > 0;
  const badge = $("people-count");
  badge.hidden = !state.received.length;
  // Words for screen readers in the text itself (an aria-label on a plain span is ignored).
  clear(badge);
  if (state.received.length) {
    badge.append(String(state.received.length), h("span", { class: "visually-hidden" }, " pending requests"));
  }

  const sent = clear($("sent-list"));
  for (const request of state.sent) {
    const recipient = request.recipient;
    sent.appendChild(
      personRow(
        recipient,
        h("span", { class: "muted small" }, `pending · ${relativeTime(request.created_at)}`),
        actionButton("Cancel", `Cancel request to ${recipient.name}`, (event) => cancelRequest(event.currentTarget, request)),
      ),
    );
  }
  $("sent-empty").hidden = state.sent.length > 0;

  const partners = clear($("partner-list"));
  const entries = [...state.partners.values()].sort((a, b) => a.user.name.localeCompare(b.user.name));
  for (const entry of entries) {
    const user = entry.user;
    partners.appendChild(
      personRow(
        user,
        h("span", { class: "muted small" }, `partners since ${shortTime(entry.since)}`),
        actionButton("Message", `Message ${user.name}`, (event) => openDirect(user.id, event.currentTarget), "primary"),
        h(
          "button",
          {
            type: "button",
            class: "icon-button small",
            "aria-label": `End partnership with ${user.name}`,
            title: "End partnership",
            onclick: (event) => endPartnership(event.currentTarget, user),
          },
          icon("close", { size: 16 }),
        ),
      ),
    );
  }
  $("partners-empty").hidden = entries.length > 0;
  renderUsers();
}

function renderUsers() {
  const list = clear($("user-list"));
  const filter = $("people-filter").value.trim().toLowerCase();
  for (const user of state.users) {
    if (!state.me || user.id === state.me.id || user.id === ASSISTANT_ID) continue;
    if (filter && !user.name.toLowerCase().includes(filter)) continue;
    const partner = state.partners.has(user.id);
    const pending = pendingWith(user.id);
    const blocked = state.blocked.has(user.id);
    const buttons = [];
    if (blocked) {
      buttons.push(actionButton("Unblock", `Unblock ${user.name}`, (event) => unblockUser(event.currentTarget, user)));
    } else {
      if (!partner && !pending) {
        buttons.push(actionButton("Add partner", `Add partner: ${user.name}`, () => openRequestDialog(user), "primary"));
      }
      // A direct channel needs a partnership.
      if (partner) buttons.push(actionButton("Message", `Message ${user.name}`, (event) => openDirect(user.id, event.currentTarget)));
      buttons.push(actionButton("Block", `Block ${user.name}`, (event) => blockUser(event.currentTarget, user)));
    }
    const status = blocked ? "blocked" : partner ? "partner" : pending ? "request pending" : `joined ${shortTime(user.created_at)}`;
    list.appendChild(personRow(user, h("span", { class: "muted small" }, status), ...buttons));
  }
  $("users-more").hidden = !state.usersCursor;
}

async function respond(button, request, how) {
  await busy(
    button,
    async () => {
      const answer = how === "accept" ? await api.accept(request.id) : await api.reject(request.id);
      state.received = state.received.filter((other) => other.id !== request.id);
      if (how === "accept") {
        state.partners.set(request.sender.id, { user: request.sender, since: answer.partnership.since });
        toast(`You and ${request.sender.name} are now partners.`, { kind: "notice", timeout: 4000 });
        // A new partner's presence is now visible.
        refreshPresence().catch(() => {});
      }
      emit("people");
      refreshPeople().catch(() => {});
    },
    how === "accept" ? "Could not accept the request" : "Could not reject the request",
  );
}

async function cancelRequest(button, request) {
  await busy(
    button,
    async () => {
      await api.cancel(request.id);
      state.sent = state.sent.filter((other) => other.id !== request.id);
      emit("people");
    },
    "Could not cancel the request",
  );
}

async function endPartnership(button, user) {
  if (!(await confirmDialog(`End your partnership with ${user.name}?`, "End partnership"))) return;
  await busy(
    button,
    async () => {
      await api.endPartnership(user.id);
      state.partners.delete(user.id);
      emit("people");
    },
    "Could not end the partnership",
  );
}

/** Blocks `user` (`{id, name}`) after a confirmation: from the People list or a message. */
export async function blockUser(button, user) {
  const question = `Block ${user.name}? Your partnership and any request between you end, and you stop seeing their messages. They are not told.`;
  if (!(await confirmDialog(question, "Block", "Block user"))) return;
  await busy(
    button,
    async () => {
      await api.block(user.id);
      await refreshPeople();
      toast(`${user.name} is blocked.`);
    },
    "Could not block",
  );
}

async function unblockUser(button, user) {
  await busy(
    button,
    async () => {
      await api.unblock(user.id);
      state.blocked.delete(user.id);
      emit("people");
      toast(`${user.name} is unblocked.`);
    },
    "Could not unblock",
  );
}

// ---------------------------------------------------------------- pushed events

export function onPartnerEvent(event) {
  const request = event.request;
  if (request) {
    rememberName(request.sender.id, request.sender.name);
    rememberName(request.recipient.id, request.recipient.name);
  }
  if (event.type === "partner_request.received") {
    state.received = [request, ...state.received.filter((other) => other.id !== request.id)];
    toast(`${request.sender.name} sent you a partner request.`, { kind: "notice", timeout: 6000 });
  } else if (event.type === "partner_request.accepted") {
    state.sent = state.sent.filter((other) => other.id !== request.id);
    state.partners.set(request.recipient.id, {
      user: request.recipient,
      since: (event.partnership && event.partnership.since) || request.responded_at,
    });
    toast(`${request.recipient.name} accepted your partner request.`, { kind: "notice", timeout: 6000 });
    refreshPresence().catch(() => {});
  } else if (event.type === "partner_request.rejected") {
    state.sent = state.sent.filter((other) => other.id !== request.id);
    toast(`${request.recipient.name} declined your partner request.`, { kind: "notice", timeout: 6000 });
  }
  emit("people");
}

export async function refreshPresence() {
  const generation = state.generation;
  const startedAt = performance.now();
  const { items } = await api.online();
  if (generation !== state.generation) return;
  // A presence event received while the request was on its way is newer than its answer.
  const pushedSince = (id) => (state.presencePushedAt.get(id) ?? -Infinity) >= startedAt;
  const online = new Set();
  for (const contact of items) {
    online.add(contact.user_id);
    rememberName(contact.user_id, contact.name);
    if (!pushedSince(contact.user_id)) setPresence(contact.user_id, true, contact.last_seen);
  }
  // Contacts not listed are offline now.
  const contacts = new Set(state.partners.keys());
  for (const channel of state.channels.values()) for (const member of channel.members || []) contacts.add(member.user_id);
  for (const id of contacts) {
    if (id !== state.me.id && id !== ASSISTANT_ID && !online.has(id) && !pushedSince(id)) {
      const known = state.presence.get(id);
      if (!known || known.online) setPresence(id, false, null);
    }
  }
}

export function revealPeople() {
  showPeopleTab();
}
