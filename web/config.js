// Where the HTTP API and the WebSocket API live.
//
// Defaults: the page's own origin for the HTTP API (the local gateway serves this page beside
// the API) and ws://<page host>:<page port + 1>/ for the WebSocket API (the local gateway's
// WebSocket port is its HTTP port + 1). Both can be overridden with `?api=...&ws=...` in the
// page's address or in the settings dialog; the choice is kept in localStorage.

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

/** Reads the query parameters (which win and are remembered), then localStorage. */
export function loadConfig() {
  const params = new URLSearchParams(location.search);
  let changedQuery = false;
  for (const [param, key, normalise] of [
    ["api", API_KEY, normaliseApiBase],
    ["ws", WS_KEY, normaliseWsBase],
  ]) {
    const value = params.get(param);
    if (value) {
      try {
        write(key, normalise(value));
      } catch (error) {
        console.warn(`ignoring ?${param}=: ${error.message}`);
      }
      params.delete(param);
      changedQuery = true;
    }
  }
  if (changedQuery) {
    // Remembered now; take them out of the address so a later settings change sticks.
    const query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? `?${query}` : "") + location.hash);
  }
  const api = read(API_KEY);
  const ws = read(WS_KEY);
  current.api = api || defaultApiBase();
  current.ws = ws || defaultWsBase();
  current.apiCustom = Boolean(api);
  current.wsCustom = Boolean(ws);
  return current;
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
