// Where the HTTP API and the WebSocket API live.
//
// Defaults: the page's own origin for the HTTP API (the local gateway serves this page beside
// the API) and ws://<page host>:<page port + 1>/ for the WebSocket API (the local gateway's
// WebSocket port is its HTTP port + 1). Both can be changed in the settings dialog; the choice
// is kept in localStorage. `?api=...&ws=...` in the page's address only pre-fills that dialog:
// a link must never point the session token or a password at another server by itself.

const API_KEY = "chat.apiBase";
const WS_KEY = "chat.wsBase";

export function defaultApiBase() {
  return location.origin;
}

export function defaultWsBase() {
  const secure = location.protocol === "https:";
  const port = Number(location.port || (secure ? 443 : 80)) + 1;
  return `${secure ? "wss" : "ws"}://${location.hostname}:${port}/`;
}

/** Returns the URL without a trailing slash if it is an http(s) URL, else throws. */
export function normaliseApiBase(value) {
  const url = new URL(String(value).trim());
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error("The API address must start with http:// or https://");
  }
  return url.href.replace(/\/+$/, "");
}

/** Returns the URL if it is a ws(s) URL, else throws. */
export function normaliseWsBase(value) {
  const url = new URL(String(value).trim());
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new Error("The WebSocket address must start with ws:// or wss://");
  }
  url.searchParams.delete("token");
  return url.href;
}

function read(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value == null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Storage may be unavailable (private mode): the setting lasts for this page only.
  }
}

const current = { api: defaultApiBase(), ws: defaultWsBase(), apiCustom: false, wsCustom: false };

/** Reads the saved addresses (or the defaults). */
export function loadConfig() {
  const api = read(API_KEY);
  const ws = read(WS_KEY);
  current.api = api || defaultApiBase();
  current.ws = ws || defaultWsBase();
  current.apiCustom = Boolean(api);
  current.wsCustom = Boolean(ws);
  return current;
}

/**
 * Takes `?api=` and `?ws=` out of the address and returns {api, ws} (the current value where a
 * parameter is absent or invalid) when they differ from the current addresses, else null.
 * Nothing is saved here: the caller asks the person first.
 */
export function takeQueryConfig() {
  const params = new URLSearchParams(location.search);
  const proposed = { api: current.api, ws: current.ws };
  let present = false;
  for (const [param, normalise] of [
    ["api", normaliseApiBase],
    ["ws", normaliseWsBase],
  ]) {
    if (!params.has(param)) continue;
    present = true;
    const value = params.get(param);
    params.delete(param);
    if (!value) continue;
    try {
      proposed[param] = normalise(value);
    } catch (error) {
      console.warn(`ignoring ?${param}=: ${error.message}`);
    }
  }
  if (!present) return null;
  // Out of the address either way, so a reload never asks again.
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? `?${query}` : "") + location.hash);
  return proposed.api !== current.api || proposed.ws !== current.ws ? proposed : null;
}

/** Saves new addresses; an empty value goes back to the default. */
export function saveConfig({ api, ws }) {
  let apiValue = api && api.trim() ? normaliseApiBase(api) : null;
  let wsValue = ws && ws.trim() ? normaliseWsBase(ws) : null;
  if (apiValue === normaliseApiBase(defaultApiBase())) apiValue = null;
  if (wsValue === normaliseWsBase(defaultWsBase())) wsValue = null;
  write(API_KEY, apiValue);
  write(WS_KEY, wsValue);
  return loadConfig();
}

export function config() {
  return current;
}
