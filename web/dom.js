// Small DOM helpers. Text always goes in through textContent (or text nodes), never as HTML,
// so nothing a user writes can become markup.

/**
 * h("button", {class: "x", onclick: f, "aria-label": "Close"}, "text", child, ...)
 * Attributes: `class`, `text` (textContent), `on<event>` (listeners), `dataset` (object),
 * booleans (present when true), anything else as an attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const SVG = "http://www.w3.org/2000/svg";

// Stroke icons, 24x24, drawn for this page.
const ICONS = {
  menu: ["M3 6h18", "M3 12h18", "M3 18h18"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  send: ["M22 2L11 13", "M22 2l-7 20-4-9-9-4z"],
  settings: ["M4 21v-7", "M4 10V3", "M12 21v-9", "M12 8V3", "M20 21v-5", "M20 12V3", "M1 14h6", "M9 8h6", "M17 16h6"],
  smile: ["M12 2a10 10 0 1 0 0 20a10 10 0 1 0 0-20z", "M8 14s1.5 2 4 2 4-2 4-2", "M9 9h.01", "M15 9h.01"],
  thread: ["M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"],
  edit: ["M12 20h9", "M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z"],
  trash: ["M3 6h18", "M8 6V4h8v2", "M19 6l-1 14H6L5 6", "M10 11v6", "M14 11v6"],
  plus: ["M12 5v14", "M5 12h14"],
  users: [
    "M9 3a4 4 0 1 0 0 8a4 4 0 1 0 0-8z",
    "M1 21v-2a4 4 0 0 1 4-4h8a4 4 0 0 1 4 4v2",
    "M17 3.1a4 4 0 0 1 0 7.8",
    "M23 21v-2a4 4 0 0 0-3-3.9",
  ],
  hash: ["M4 9h16", "M4 15h16", "M10 3L8 21", "M16 3l-2 18"],
  lock: ["M5 11h14a2 2 0 0 1 2 2v7a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2z", "M7 11V7a5 5 0 0 1 10 0v4"],
  sparkle: ["M12 3l2 5 5 2-5 2-2 5-2-5-5-2 5-2z", "M19 15l.8 2.2L22 18l-2.2.8L19 21l-.8-2.2L16 18l2.2-.8z"],
  logout: ["M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4", "M16 17l5-5-5-5", "M21 12H9"],
  globe: ["M12 2a10 10 0 1 0 0 20a10 10 0 1 0 0-20z", "M2 12h20", "M12 2a15 15 0 0 1 0 20a15 15 0 0 1 0-20z"],
  at: ["M12 8a4 4 0 1 0 0 8a4 4 0 1 0 0-8z", "M16 8v5a3 3 0 0 0 6 0v-1a10 10 0 1 0-4 8"],
  userPlus: ["M8.5 3a4 4 0 1 0 0 8a4 4 0 1 0 0-8z", "M2 21v-2a4 4 0 0 1 4-4h5a4 4 0 0 1 4 4v2", "M20 8v6", "M23 11h-6"],
  check: ["M20 6L9 17l-5-5"],
  refresh: ["M23 4v6h-6", "M20.5 15a9 9 0 1 1-2.1-9.4L23 10"],
  down: ["M12 5v14", "M19 12l-7 7-7-7"],
  flag: ["M4 22V4", "M4 4h13l-2 4 2 4H4"],
  block: ["M12 2a10 10 0 1 0 0 20a10 10 0 1 0 0-20z", "M4.9 4.9l14.2 14.2"],
  bell: ["M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9", "M13.7 21a2 2 0 0 1-3.4 0"],
  bellOff: ["M13.7 21a2 2 0 0 1-3.4 0", "M18.6 13A18 18 0 0 1 18 8", "M6.3 6.3A6 6 0 0 0 6 8c0 7-3 9-3 9h14", "M18 8a6 6 0 0 0-9.3-5", "M1 1l22 22"],
  door: ["M13 4h3a2 2 0 0 1 2 2v14", "M2 20h3", "M13 20h9", "M10 12v.01", "M13 4.6v16.8l-7-1.6V6z"],
  paperclip: ["M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5"],
  file: ["M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z", "M14 2v6h6", "M16 13H8", "M16 17H8", "M10 9H8"],
  image: ["M5 3h14a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z", "M8.5 7a1.5 1.5 0 1 0 0 3a1.5 1.5 0 1 0 0-3z", "M21 15l-5-5L5 21"],
  download: ["M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4", "M7 10l5 5 5-5", "M12 15V3"],
  alert: ["M12 2a10 10 0 1 0 0 20a10 10 0 1 0 0-20z", "M12 8v4", "M12 16h.01"],
  clock: ["M12 2a10 10 0 1 0 0 20a10 10 0 1 0 0-20z", "M12 6v6l4 2"],
  stop: ["M7 5h10a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2z"],
  search: ["M11 4a7 7 0 1 0 0 14a7 7 0 1 0 0-14z", "M21 21l-5-5"],
};

export function icon(name, { size = 20, label } = {}) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("class", "icon");
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
  }
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
  }
  return svg;
}

export function initials(name) {
  const all = String(name || "?").trim().split(/\s+/).filter(Boolean);
  // Words that start with a letter make better initials ("Alice 2" → "AL", not "A2").
  const wordy = all.filter((word) => /^\p{L}/u.test(word));
  const words = wordy.length ? wordy : all;
  const chars = (word) => Array.from(word || "?");
  const letters =
    words.length > 1 ? chars(words[0])[0] + chars(words[words.length - 1])[0] : chars(words[0]).slice(0, 2).join("");
  return letters.toUpperCase();
}

function hue(text) {
  let hash = 0;
  for (const char of String(text)) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return hash % 360;
}

/** A coloured circle with initials; decorative (the name is always shown beside it). */
export function avatar(id, name, { assistant = false, size = "md" } = {}) {
  const el = h("span", { class: `avatar avatar-${size}${assistant ? " avatar-assistant" : ""}`, "aria-hidden": "true" });
  if (assistant) el.appendChild(icon("sparkle", { size: size === "sm" ? 14 : 18 }));
  else {
    el.textContent = initials(name);
    el.style.setProperty("--avatar-hue", String(hue(id || name)));
  }
  return el;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

export function shortTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const today = new Date();
  return date.toDateString() === today.toDateString() ? timeFormat.format(date) : dateTimeFormat.format(date);
}

export function longTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : fullFormat.format(date);
}

export function relativeTime(iso) {
  if (!iso) return "never";
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return shortTime(iso);
}

/** A duration for people: "30 s", "5 min", "1 h". */
export function formatSeconds(seconds) {
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

// Screen reader announcements: one polite region for chat news, toasts for errors.
let announcer;
export function announce(text) {
  announcer ||= document.getElementById("announcer");
  if (!announcer) return;
  // A fresh node per announcement, so the same words twice are read twice.
  const line = h("p", { text });
  announcer.appendChild(line);
  while (announcer.childNodes.length > 5) announcer.removeChild(announcer.firstChild);
}

/** Shows a message to everyone (errors as alerts), dismissible, gone after a while. */
export function toast(text, { kind = "error", timeout = 8000 } = {}) {
  const region = document.getElementById(kind === "error" ? "alerts" : "notices");
  if (!region) return;
  const item = h(
    "div",
    { class: `toast toast-${kind}` },
    h("span", { class: "toast-text", text }),
    h("button", { type: "button", class: "icon-button toast-close", "aria-label": "Dismiss", onclick: () => item.remove() }, icon("close", { size: 16 })),
  );
  region.appendChild(item);
  while (region.children.length > 4) region.firstElementChild.remove();
  if (timeout) setTimeout(() => item.remove(), timeout);
}

/** The text to show for an error from the API (or anything else). */
export function describeError(error, action) {
  const what = action ? `${action}: ` : "";
  if (error && error.code === "network") return `${what}${error.message}`;
  if (error && error.code) {
    const details = error.details
      ? " (" + Object.entries(error.details).map(([field, reason]) => `${field}: ${reason}`).join("; ") + ")"
      : "";
    return `${what}${error.message}${details} [${error.code}]`;
  }
  return `${what}${(error && error.message) || error}`;
}

export function showError(error, action) {
  console.warn(action || "error", error);
  toast(describeError(error, action), { kind: "error" });
}

/** Runs `fn` with the button disabled, showing any error. */
export async function busy(button, fn, action) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (error) {
    showError(error, action);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/**
 * Shows `text` in the form's .form-error and ties it to the fields at fault (aria-invalid and
 * aria-describedby, so a screen reader reads the reason on the field), then focuses the first
 * of them. An empty text clears the error and every field's mark.
 */
export function formError(form, text, fields = []) {
  const slot = form.querySelector(".form-error");
  if (!slot.id) slot.id = `${form.id || "form"}-error`;
  slot.textContent = text || "";
  for (const field of form.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
    const rest = (field.getAttribute("aria-describedby") || "").split(/\s+/).filter((id) => id && id !== slot.id);
    if (rest.length) field.setAttribute("aria-describedby", rest.join(" "));
    else field.removeAttribute("aria-describedby");
  }
  const invalid = text ? fields.map((name) => (typeof name === "string" ? form.elements[name] : name)).filter(Boolean) : [];
  for (const field of invalid) {
    field.setAttribute("aria-invalid", "true");
    const ids = (field.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    if (!ids.includes(slot.id)) field.setAttribute("aria-describedby", [...ids, slot.id].join(" "));
  }
  if (invalid.length) invalid[0].focus();
}

/** Asks a yes/no question in the confirm dialog; resolves true when confirmed. */
export function confirmDialog(text, okLabel = "Confirm", title = "Are you sure?") {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
  });
}

/** A client id for idempotent sends: 1–64 visible ASCII characters. */
export function newClientId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return "web-" + Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
