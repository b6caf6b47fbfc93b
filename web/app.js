// Entry point: sign in and out, the session in localStorage, settings, the WebSocket and the
// routing of its events to the views.
//
//   config.js    API and WebSocket addresses (defaults, ?api=&ws=, localStorage)
//   api.js       the HTTP API of the contract, errors as ApiError
//   realtime.js  the WebSocket: reconnects with backoff and jitter, pings
//   store.js     shared state: me, names, presence, channels, partners, requests
//   presence.js  presence dots kept live
//   sidebar.js   channels list, new group / direct / assistant, public channels, people
//   chat.js      the open channel: history, live messages, threads, reactions, receipts, typing
//   dom.js       DOM helpers (textContent only), icons, toasts, announcements

import { loadConfig, config, saveConfig, defaultApiBase, defaultWsBase } from "./config.js";
import { api, setToken, setUnauthorizedHandler } from "./api.js";
import { Realtime } from "./realtime.js";
import { h, clear, icon, avatar, toast, showError, describeError } from "./dom.js";
import { state, emit, resetSession, setPresence } from "./store.js";
import { presenceDot } from "./presence.js";
import {
  initSidebar,
  refreshChannels,
  refreshPeople,
  refreshPresence,
  onPartnerEvent,
  wireDialog,
  setSidebarOpen,
} from "./sidebar.js";
import { initChat, bindRealtime, onChatEvent, resync, resetChat } from "./chat.js";

const $ = (id) => document.getElementById(id);
let realtime = null;

// ---------------------------------------------------------------- session storage

function sessionKey() {
  // One session per API: a token of one deployment means nothing to another.
  return `chat.session:${config().api}`;
}

function readSession() {
  try {
    const session = JSON.parse(localStorage.getItem(sessionKey()) || "null");
    return session && session.token && session.user ? session : null;
  } catch {
    return null;
  }
}

function writeSession(session) {
  try {
    if (session) localStorage.setItem(sessionKey(), JSON.stringify(session));
    else localStorage.removeItem(sessionKey());
  } catch {
    // no storage: the session lasts as long as the page
  }
}

// ---------------------------------------------------------------- signed out

let selectAuthTab = () => {};

function showAuth() {
  $("app-view").hidden = true;
  $("auth-view").hidden = false;
  document.querySelector(".skip-link").hidden = true;
  document.title = "Chat: log in";
  selectAuthTab($("tab-login"));
  $("login-form").elements.email.focus();
}

function initAuth() {
  const tabs = [$("tab-login"), $("tab-register")];
  const select = (selectAuthTab = (tab, focus) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
  });
  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        event.preventDefault();
        select(tabs[(tabs.indexOf(tab) + 1) % 2], true);
      }
    });
  }

  $("login-form").addEventListener("submit", (event) =>
    submitAuth(event, (form) => {
      const email = form.elements.email.value.trim();
      const password = form.elements.password.value;
      if (!email || !password) throw new Error("Enter your email and password.");
      return api.login(email, password);
    }),
  );
  $("register-form").addEventListener("submit", (event) =>
    submitAuth(event, (form) => {
      const name = form.elements.name.value.trim();
      const email = form.elements.email.value.trim();
      const password = form.elements.password.value;
      if (!name || !email) throw new Error("Enter your name and email.");
      if (password.length < 8) throw new Error("The password needs at least 8 characters.");
      return api.register(email, name, password);
    }),
  );
}

async function submitAuth(event, call) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = form.querySelector(".form-error");
  const button = form.querySelector("[type=submit]");
  error.textContent = "";
  button.disabled = true;
  try {
    const session = await call(form);
    form.reset();
    writeSession({ token: session.token, user: session.user });
    await startSession(session);
  } catch (failure) {
    error.textContent = failure.code ? describeError(failure) : failure.message;
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- signed in

async function startSession({ token, user }) {
  resetSession();
  state.token = token;
  state.me = user;
  setToken(token);
  $("auth-view").hidden = true;
  $("app-view").hidden = false;
  document.querySelector(".skip-link").hidden = false;
  document.title = "Chat";
  renderMe();

  realtime = new Realtime({
    url: () => {
      const url = new URL(config().ws);
      url.searchParams.set("token", state.token);
      return url.href;
    },
    onEvent: onServerEvent,
    onState: onConnectionState,
    checkAuth: async () => {
      try {
        await api.me();
        return true;
      } catch (error) {
        return error.status !== 401;
      }
    },
  });
  bindRealtime(realtime);
  realtime.start();

  try {
    const me = await api.me();
    state.me = me;
    writeSession({ token, user: me });
    renderMe();
  } catch (error) {
    if (error.status === 401) return;
    showError(error, "Could not load your profile");
  }
  await Promise.all([
    refreshChannels().catch((error) => showError(error, "Could not load your channels")),
    refreshPeople().catch((error) => showError(error, "Could not load your partners and requests")),
  ]);
  refreshPresence().catch(() => {});
}

function renderMe() {
  const me = clear($("me"));
  me.append(
    h("span", { class: "avatar-wrap" }, avatar(state.me.id, state.me.name, { size: "sm" }), presenceDot(state.me.id)),
    h("span", { class: "me-name" }, state.me.name),
  );
  $("welcome-title").textContent = `Welcome, ${state.me.name}`;
}

function logout({ message } = {}) {
  if (realtime) realtime.stop();
  realtime = null;
  bindRealtime(null);
  writeSession(null);
  setToken(null);
  resetChat();
  resetSession();
  setSidebarOpen(false);
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  if (message) toast(message);
  showAuth();
}

// ---------------------------------------------------------------- the socket

const STATUS_TEXT = {
  open: "Live",
  connecting: "Connecting…",
  closed: "Reconnecting…",
  offline: "Offline",
};

function onConnectionState(status, info) {
  const before = state.connection;
  state.connection = status;
  const el = $("connection");
  el.className = `connection connection-${status}`;
  const text = STATUS_TEXT[status] || status;
  // The retry delay goes in the tooltip, not in the live region (no countdown chatter).
  if (el.textContent !== text) el.textContent = text;
  el.title =
    status === "open"
      ? `Connected to ${config().ws}`
      : info && info.retryInMs
        ? `${text} Next try in ${Math.max(1, Math.round(info.retryInMs / 1000))} s.`
        : text;
  $("reconnect-button").hidden = status !== "closed" && status !== "offline";
  if (before !== status) emit("connection", status);
  if (status === "open" && before !== "open") {
    refreshPresence().catch(() => {});
    if (info && info.reconnected) resyncAll();
  }
}

/** After a reconnect: whatever was missed while the socket was down. */
async function resyncAll() {
  try {
    await Promise.all([refreshChannels(), refreshPeople(), resync()]);
    await refreshPresence();
  } catch (error) {
    showError(error, "Could not catch up after reconnecting");
  }
}

function onServerEvent(event) {
  if (!event || typeof event.type !== "string" || !state.me) return;
  switch (event.type) {
    case "presence":
      setPresence(event.user_id, event.online, event.last_seen);
      break;
    case "partner_request.received":
    case "partner_request.accepted":
    case "partner_request.rejected":
      onPartnerEvent(event);
      break;
    default:
      onChatEvent(event);
  }
}

// ---------------------------------------------------------------- settings

function initSettings() {
  const dialog = $("settings-dialog");
  const form = $("settings-form");
  for (const button of document.querySelectorAll("[data-open-settings]")) {
    button.addEventListener("click", () => {
      const current = config();
      form.elements.api.value = current.api;
      form.elements.ws.value = current.ws;
      form.elements.api.placeholder = defaultApiBase();
      form.elements.ws.placeholder = defaultWsBase();
      $("settings-api-default").textContent = `Default: ${defaultApiBase()}`;
      $("settings-ws-default").textContent = `Default: ${defaultWsBase()} (connects with ?token=)`;
      form.querySelector(".form-error").textContent = "";
      dialog.showModal();
    });
  }
  form.querySelector("[data-reset]").addEventListener("click", () => {
    form.elements.api.value = "";
    form.elements.ws.value = "";
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const before = { ...config() };
    try {
      const after = saveConfig({ api: form.elements.api.value, ws: form.elements.ws.value });
      dialog.close("saved");
      if (after.api !== before.api || after.ws !== before.ws) {
        // Start again against the new addresses (the session of that API, if any).
        location.reload();
      }
    } catch (error) {
      form.querySelector(".form-error").textContent = error.message;
    }
  });
}

// ---------------------------------------------------------------- start

function boot() {
  loadConfig();
  $("settings-button").appendChild(icon("settings"));
  $("logout-button").appendChild(icon("logout"));
  $("logout-button").addEventListener("click", () => logout());
  $("reconnect-button").prepend(icon("refresh", { size: 16 }));
  $("reconnect-button").addEventListener("click", () => realtime && realtime.retryNow());
  // The skip link lands in the message box when a channel is open.
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    const composer = $("composer-input");
    if (!$("chat-pane").hidden) {
      event.preventDefault();
      composer.focus();
    }
  });
  for (const dialog of document.querySelectorAll("dialog")) wireDialog(dialog);
  initAuth();
  initSettings();
  initSidebar();
  initChat();
  setUnauthorizedHandler(() => logout({ message: "Your session has ended: please log in again." }));

  const session = readSession();
  if (session) startSession(session);
  else showAuth();
}

boot();
