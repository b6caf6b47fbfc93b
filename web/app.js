// Entry point: sign in and out, the session in localStorage, settings, the WebSocket and the
// routing of its events to the views.
//
//   config.js    API and WebSocket addresses (defaults, localStorage; ?api=&ws= only proposed)
//   api.js       the HTTP API of the contract, errors as ApiError
//   realtime.js  the WebSocket: reconnects with backoff and jitter, pings
//   store.js     shared state: me, names, presence, channels, partners, requests
//   presence.js  presence dots kept live
//   sidebar.js   channels list (previews, unread and mention badges, activity order), new group /
//                direct / assistant, public channels, people
//   chat.js      the open channel: history, live messages, threads, reactions, receipts, typing,
//                mentions, mute, channel settings, members' roles
//   search.js    message search (all channels or the open one), hits opened in their channel
//   dom.js       DOM helpers (textContent only), icons, toasts, announcements

import {
  loadConfig,
  config,
  saveConfig,
  takeQueryConfig,
  defaultApiBase,
  defaultWsBase,
  normaliseApiBase,
  normaliseWsBase,
} from "./config.js";
import { api, setToken, setUnauthorizedHandler } from "./api.js";
import { Realtime } from "./realtime.js";
import { h, clear, icon, avatar, toast, showError, describeError, formError } from "./dom.js";
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
import { initSearch, resetSearch } from "./search.js";

const $ = (id) => document.getElementById(id);
let realtime = null;

// ---------------------------------------------------------------- session storage

function sessionKey() {
  // One session per API + WebSocket pair: a token is only ever sent to the pair it was
  // obtained for, so changing either address means that pair's own session (or none).
  const { api, ws } = config();
  return `chat.session:${JSON.stringify([api, ws])}`;
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
      if (!email || !password) throw invalid("Enter your email and password.", !email ? "email" : null, !password ? "password" : null);
      return api.login(email, password);
    }),
  );
  $("register-form").addEventListener("submit", (event) =>
    submitAuth(event, (form) => {
      const name = form.elements.name.value.trim();
      const email = form.elements.email.value.trim();
      const password = form.elements.password.value;
      if (!name || !email) throw invalid("Enter your name and email.", !name ? "name" : null, !email ? "email" : null);
      if (password.length < 8) throw invalid("The password needs at least 8 characters.", "password");
      return api.register(email, name, password);
    }),
  );
}

/** An error of the form's own checks, naming the fields at fault. */
function invalid(message, ...fields) {
  return Object.assign(new Error(message), { fields: fields.filter(Boolean) });
}

/** The fields an API error is about: those in `details`, else what the status implies. */
function fieldsOf(failure, form) {
  if (failure.fields) return failure.fields;
  const named = Object.keys(failure.details || {}).filter((name) => form.elements[name]);
  if (named.length) return named;
  if (failure.status === 401) return ["email", "password"];
  if (failure.code === "conflict" && form.elements.name) return ["email"];
  return [];
}

async function submitAuth(event, call) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("[type=submit]");
  formError(form, "");
  button.disabled = true;
  try {
    const session = await call(form);
    form.reset();
    writeSession({ token: session.token, user: session.user });
    await startSession(session);
  } catch (failure) {
    formError(form, failure.code ? describeError(failure) : failure.message, fieldsOf(failure, form));
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- signed in

async function startSession({ token, user }) {
  resetSession();
  // Results arriving after a logout (and maybe another login) belong to no one: dropped.
  const generation = state.generation;
  const current = () => generation === state.generation;
  // The token goes to the WebSocket address of this session only, whatever changes later.
  const wsBase = config().ws;
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
      const url = new URL(wsBase);
      url.searchParams.set("token", token);
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
    if (!current()) return;
    updateMe(me);
  } catch (error) {
    if (error.status === 401 || !current()) return;
    showError(error, "Could not load your profile");
  }
  const report = (action) => (error) => {
    if (current()) showError(error, action);
  };
  await Promise.all([
    refreshChannels().catch(report("Could not load your channels")),
    refreshPeople().catch(report("Could not load your partners and requests")),
  ]);
  if (current()) refreshPresence().catch(() => {});
}

function renderMe() {
  const me = clear($("me"));
  me.append(
    h("span", { class: "avatar-wrap" }, avatar(state.me.id, state.me.name, { size: "sm" }), presenceDot(state.me.id)),
    h("span", { class: "me-name" }, state.me.name),
  );
  $("welcome-title").textContent = `Welcome, ${state.me.name}`;
  renderVerification();
}

// ---------------------------------------------------------------- email verification

/** The banner asking for the emailed code, shown until the address is verified. */
function renderVerification() {
  const banner = $("verify-banner");
  // Accounts older than verification carry no flag: they count as verified.
  const unverified = state.me && state.me.email_verified === false;
  banner.hidden = !unverified;
  if (unverified) $("verify-email").textContent = state.me.email;
}

function initVerification() {
  const form = $("verify-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = form.elements.code.value.trim();
    if (!/^[0-9]{6}$/.test(code)) {
      formError(form, "Enter the 6 digits from the email.", ["code"]);
      return;
    }
    submitForm(form, async () => {
      const me = await api.verifyEmail(code);
      form.reset();
      updateMe(me);
      toast("Email address confirmed.");
    });
  });
  $("verify-resend").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    formError(form, "");
    try {
      await api.resendVerification();
      toast(`A new code is on its way to ${state.me.email}.`);
    } catch (failure) {
      if (failure.status === 429) formError(form, `A code was just sent. Try again in ${failure.details?.retry_after_seconds || 60} s.`);
      else if (failure.code === "conflict") updateMe({ ...state.me, email_verified: true });
      else if (failure.status !== 401) formError(form, describeError(failure));
    } finally {
      button.disabled = false;
    }
  });
}

/** The caller's user as the server now has it: kept, stored with the session, shown. */
function updateMe(me) {
  state.me = me;
  writeSession({ token: state.token, user: me });
  renderMe();
}

function logout({ message } = {}) {
  if (realtime) realtime.stop();
  realtime = null;
  bindRealtime(null);
  writeSession(null);
  setToken(null);
  resetChat();
  resetSearch();
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
  const generation = state.generation;
  try {
    await Promise.all([refreshChannels(), refreshPeople(), resync()]);
    if (generation === state.generation) await refreshPresence();
  } catch (error) {
    if (generation === state.generation) showError(error, "Could not catch up after reconnecting");
  }
}

function onServerEvent(event) {
  if (!event || typeof event.type !== "string" || !state.me) return;
  switch (event.type) {
    case "presence":
      setPresence(event.user_id, event.online, event.last_seen, { pushed: true });
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

let openSettings = () => {};

function initSettings() {
  const dialog = $("settings-dialog");
  const form = $("settings-form");
  const linkNote = $("settings-link-note");
  openSettings = (values = config(), { fromLink = false } = {}) => {
    form.elements.api.value = values.api;
    form.elements.ws.value = values.ws;
    form.elements.api.placeholder = defaultApiBase();
    form.elements.ws.placeholder = defaultWsBase();
    $("settings-api-default").textContent = `Default: ${defaultApiBase()}`;
    $("settings-ws-default").textContent = `Default: ${defaultWsBase()} (connects with ?token=)`;
    // The reference of the API this page talks to now (saved settings, not the unsaved form).
    $("settings-api-docs").href = `${config().api || defaultApiBase()}/docs`;
    linkNote.hidden = !fromLink;
    formError(form, "");
    if (!dialog.open) dialog.showModal();
  };
  for (const button of document.querySelectorAll("[data-open-settings]")) {
    button.addEventListener("click", () => openSettings());
  }
  form.querySelector("[data-reset]").addEventListener("click", () => {
    form.elements.api.value = "";
    form.elements.ws.value = "";
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const before = { ...config() };
    const field = (name, normalise) => {
      try {
        if (form.elements[name].value.trim()) normalise(form.elements[name].value);
        return null;
      } catch (error) {
        return error;
      }
    };
    const apiError = field("api", normaliseApiBase);
    const wsError = field("ws", normaliseWsBase);
    if (apiError || wsError) {
      formError(form, [apiError, wsError].filter(Boolean).map((error) => error.message).join(" "), [apiError && "api", wsError && "ws"].filter(Boolean));
      return;
    }
    try {
      const after = saveConfig({ api: form.elements.api.value, ws: form.elements.ws.value });
      dialog.close("saved");
      if (after.api !== before.api || after.ws !== before.ws) {
        // Nothing of this session may reach the new addresses, not even in the moment before
        // the reload: stop the socket and forget the token (it stays stored for its own pair).
        if (realtime) realtime.stop();
        realtime = null;
        setToken(null);
        state.token = null;
        location.reload();
      }
    } catch (error) {
      formError(form, error.message);
    }
  });
}

// ---------------------------------------------------------------- account

// Runs a dialog form's request with its button disabled; a refusal shows in the form.
async function submitForm(form, run) {
  const button = form.querySelector("[type=submit]");
  formError(form, "");
  button.disabled = true;
  try {
    await run();
  } catch (failure) {
    if (failure.status !== 401) formError(form, describeError(failure), fieldsOf(failure, form));
  } finally {
    button.disabled = false;
  }
}

function initAccount() {
  const dialog = $("account-dialog");
  const passwordForm = $("password-form");
  const deleteForm = $("delete-account-form");
  $("me").addEventListener("click", () => {
    passwordForm.reset();
    deleteForm.reset();
    formError(passwordForm, "");
    formError(deleteForm, "");
    $("account-email").textContent = state.me ? `Signed in as ${state.me.email || state.me.name}` : "";
    renderEmailSettings();
    dialog.showModal();
  });
  const notifications = $("notifications-form");
  const renderEmailSettings = () => {
    formError(notifications, "");
    $("email-status").textContent =
      state.me.email_verified === false
        ? `${state.me.email} is not confirmed yet: enter the code from the email in the banner at the top of the page.`
        : `${state.me.email} is confirmed.`;
    notifications.elements.email_notifications.checked = state.me.email_notifications !== false;
  };
  notifications.elements.email_notifications.addEventListener("change", async (event) => {
    const box = event.currentTarget;
    box.disabled = true;
    formError(notifications, "");
    try {
      updateMe(await api.updateMe({ email_notifications: box.checked }));
      toast(box.checked ? "Notification emails on." : "Notification emails off.");
    } catch (failure) {
      box.checked = !box.checked;
      if (failure.status !== 401) formError(notifications, describeError(failure));
    } finally {
      box.disabled = false;
    }
  });
  passwordForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const { current_password: current, new_password: next } = passwordForm.elements;
    submitForm(passwordForm, async () => {
      const { token } = await api.changePassword(current.value, next.value);
      dialog.close("saved");
      // Every older token has ended, this socket's too: go on with the new one.
      const session = { token, user: state.me };
      writeSession(session);
      if (realtime) realtime.stop();
      await startSession(session);
      toast("Password changed. Your other devices are signed out.");
    });
  });
  $("logout-all-button").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await api.logoutAll();
      logout({ message: "Signed out on every device." });
    } catch (failure) {
      if (failure.status !== 401) showError(failure, "Could not sign out everywhere");
    } finally {
      button.disabled = false;
    }
  });
  deleteForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitForm(deleteForm, async () => {
      await api.deleteAccount(deleteForm.elements.password.value);
      logout({ message: "Your account has been deleted." });
    });
  });
}

// ---------------------------------------------------------------- start

function boot() {
  loadConfig();
  const proposed = takeQueryConfig();
  $("settings-button").appendChild(icon("settings"));
  $("logout-button").appendChild(icon("logout"));
  $("logout-button").addEventListener("click", () => {
    // The token stops working on the server too; signing out here does not wait for it.
    api.logout().catch(() => {});
    logout();
  });
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
  initAccount();
  initVerification();
  initSidebar();
  initChat();
  initSearch();
  setUnauthorizedHandler(() => logout({ message: "Your session has ended: please log in again." }));

  const session = readSession();
  if (session) startSession(session);
  else showAuth();
  // A link asked for other servers: show them, used only if the person presses Save.
  if (proposed) openSettings(proposed, { fromLink: true });
}

boot();
