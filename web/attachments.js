// Files on messages. The bytes never pass through the API: the client declares a file
// (POST /channels/{id}/attachments), sends it straight to the storage with the presigned form
// that answers, and shows it from presigned GET URLs, which work for 15 minutes. Here: that
// upload (XMLHttpRequest, for its progress events: fetch reports none for uploads), the newest
// copy known of each attachment (the check's news may come before or after the message it is
// on), URLs fetched again when old or refused, and how a file shows in a message: an image as
// its thumbnail that opens full size in a dialog, any other file as a chip with a download
// button.

import { api } from "./api.js";
import { h, icon, showError, toast } from "./dom.js";

// A presigned URL works for 15 minutes after it was signed; one received longer ago than this
// is fetched again before use (the minute covers the way from the signing to this page).
const URL_MAX_AGE_MS = 14 * 60 * 1000;
// The check's thumbnails are at most this long on their long side (a smaller image stays as it is).
const THUMBNAIL_MAX_SIDE = 320;

// A file the system gives no type (an unknown extension on this machine) is named by its
// extension, among the types attachments may have; anything else goes to the API as it is,
// and the API says no.
const TYPES_BY_EXTENSION = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  pdf: "application/pdf",
  txt: "text/plain",
  zip: "application/zip",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  doc: "application/msword",
  xls: "application/vnd.ms-excel",
  ppt: "application/vnd.ms-powerpoint",
};

/** What the picker `accept`s: the types above (the API decides all the same). */
export const ACCEPTED = [...new Set(Object.values(TYPES_BY_EXTENSION)), ...Object.keys(TYPES_BY_EXTENSION).map((ext) => `.${ext}`)].join(",");

export function contentTypeOf(file) {
  if (file.type) return file.type;
  const extension = /\.([a-z0-9]+)$/i.exec(file.name || "")?.[1]?.toLowerCase();
  return TYPES_BY_EXTENSION[extension] || "application/octet-stream";
}

const sizeFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** A size for people: "812 B", "4.2 KB", "25 MB". */
export function formatBytes(size) {
  if (!(size >= 1024)) return `${size || 0} B`;
  const units = ["KB", "MB", "GB"];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${sizeFormat.format(value >= 10 ? Math.round(value) : value)} ${units[unit]}`;
}

export function isImage(attachment) {
  return attachment.content_type.startsWith("image/");
}

/** "2 files: board.png, plan.pdf": what a message's files are, in words. */
export function describeFiles(attachments) {
  const names = attachments.map((attachment) => attachment.name).join(", ");
  return `${attachments.length === 1 ? "1 file" : `${attachments.length} files`}: ${names}`;
}

// ---------------------------------------------------------------- the newest copy of each

const known = new Map(); // attachment id → {attachment, at}: the newest copy, and when it came
let onFresh = () => {};

/** Who hears of URLs fetched again (the open channel keeps its messages' copies current). */
export function onAttachmentFetched(listener) {
  onFresh = listener;
}

/**
 * Takes note of a copy of an attachment from any answer or push, and returns the best copy
 * known: one still pending (an older answer, or a message pushed before its check's news)
 * never undoes a checked one.
 */
export function remember(attachment) {
  const before = known.get(attachment.id);
  if (before && before.attachment.status !== "pending" && attachment.status === "pending") return before.attachment;
  known.set(attachment.id, { attachment, at: Date.now() });
  return attachment;
}

export function latest(attachment) {
  return known.get(attachment.id)?.attachment || attachment;
}

export function forgetAttachments() {
  known.clear();
  for (const timer of watched.values()) clearTimeout(timer);
  watched.clear();
}

// A file being checked is asked about again now and then: the check's push can be missed (the
// socket reconnecting at that moment, a push that failed for good). The worker takes seconds:
// one question after the first delay is the usual most.
const WATCH_DELAYS_MS = [8_000, 20_000, 60_000, 180_000];
const watched = new Map(); // attachment id → timer

/** Asks about `attachment` later while it is still pending (once per file, however often shown). */
export function watchPending(attachment) {
  if (attachment.status !== "pending" || watched.has(attachment.id)) return;
  const ask = (attempt) => {
    watched.set(
      attachment.id,
      setTimeout(async () => {
        if (latest(attachment).status !== "pending") return;
        try {
          const current = await fresh(attachment, { force: true });
          if (current.status === "pending" && attempt + 1 < WATCH_DELAYS_MS.length) ask(attempt + 1);
        } catch (error) {
          // Gone (its message deleted) or unreachable: the next render or push will tell.
          console.warn(`attachment ${attachment.id}`, error);
        }
      }, WATCH_DELAYS_MS[attempt]),
    );
  };
  ask(0);
}

/**
 * The attachment with URLs young enough to use: fetched again when older, or when `force`d.
 * Wall-clock time, as the storage counts (a laptop that slept has old URLs); a clock set back
 * since makes an age below zero, which is not trusted either.
 */
async function fresh(attachment, { force = false } = {}) {
  const entry = known.get(attachment.id);
  const age = entry ? Date.now() - entry.at : -1;
  if (!force && entry && entry.attachment.url && age >= 0 && age < URL_MAX_AGE_MS) return entry.attachment;
  const current = remember(await api.attachment(attachment.channel_id, attachment.id));
  onFresh(current);
  return current;
}

// ---------------------------------------------------------------- uploading

/**
 * Sends `file` with the presigned form `upload` ({method, url, fields}): every field, then the
 * file as the last field, `file` (the storage reads the policy before the bytes). Returns
 * {done, abort}; `onProgress(fraction)` follows the bytes sent.
 */
export function uploadFile(upload, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open(upload.method || "POST", upload.url);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(new Error(storageRefusal(xhr)));
    });
    xhr.addEventListener("error", () => reject(new Error("the file storage could not be reached")));
    xhr.addEventListener("abort", () => reject(Object.assign(new Error("cancelled"), { aborted: true })));
    const body = new FormData();
    for (const [name, value] of Object.entries(upload.fields || {})) body.append(name, value);
    body.append("file", file);
    xhr.send(body);
  });
  return { done, abort: () => xhr.abort() };
}

/** The storage explains a refusal in S3's XML: <Error><Code/><Message/></Error>. */
function storageRefusal(xhr) {
  try {
    const doc = new DOMParser().parseFromString(xhr.responseText, "application/xml");
    const message = doc.querySelector("Error > Message")?.textContent;
    if (message) return `the file storage refused it: ${message}`;
  } catch {
    // not XML: the status says enough
  }
  return `the file storage answered ${xhr.status}`;
}

// ---------------------------------------------------------------- in messages

/**
 * A message's files: images as thumbnails (sized before they load, so nothing jumps), the
 * others (and images not checked yet, or refused) as chips. `summaryId` names an element that
 * says in words what the files are (for the message's label); `restoreFocus(key)` focuses a
 * control again after the image dialog closes, since the message may have been rebuilt meanwhile.
 */
export function attachmentList(attachments, { summaryId, restoreFocus = () => {} } = {}) {
  const shown = attachments.map(latest);
  for (const attachment of shown) watchPending(attachment);
  const images = shown.filter((attachment) => isImage(attachment) && attachment.status !== "rejected");
  const files = shown.filter((attachment) => !images.includes(attachment));
  return h(
    "div",
    { class: "attachments" },
    h("span", { class: "visually-hidden", id: summaryId }, describeFiles(shown)),
    images.length ? h("div", { class: "attachment-images" }, images.map((attachment) => imageTile(attachment, restoreFocus))) : null,
    files.length ? h("ul", { class: "attachment-files", "aria-label": "Files" }, files.map(fileChip)) : null,
  );
}

/** The thumbnail's own size: the image's, fitted into THUMBNAIL_MAX_SIDE. */
function thumbnailSize(attachment) {
  const { width, height } = attachment;
  if (!width || !height) return [null, null];
  const scale = Math.min(1, THUMBNAIL_MAX_SIDE / Math.max(width, height));
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

function imageTile(attachment, restoreFocus) {
  const key = `file-${attachment.id}`;
  if (attachment.status !== "ready") {
    return h(
      "span",
      { class: "attachment-image is-pending", title: attachment.name },
      icon("image", { size: 22 }),
      h("span", { class: "attachment-name" }, attachment.name),
      h("span", { class: "attachment-meta" }, "checking…"),
    );
  }
  const [width, height] = thumbnailSize(attachment);
  const pick = (current) => current.thumbnail_url || current.url;
  const img = h("img", { src: pick(attachment), alt: attachment.name, width, height, loading: "lazy", decoding: "async" });
  const refetch = refetchOnError(img, attachment, pick);
  // A copy with no URLs (a push that carried none) asks for them at once.
  if (!pick(attachment)) refetch();
  return h(
    "button",
    {
      type: "button",
      class: "attachment-image",
      "aria-label": `Open ${attachment.name} full size`,
      title: attachment.name,
      dataset: { focusKey: key },
      onclick: () => openImage(attachment, () => restoreFocus(key)),
    },
    img,
  );
}

/**
 * An image refused (its URL expired, most likely) asks once for new URLs and tries again.
 * Returns that retry, for an image that has no URL to start with.
 */
function refetchOnError(img, attachment, pick) {
  const retry = async () => {
    if (img.dataset.retried) return;
    img.dataset.retried = "true";
    try {
      const src = pick(await fresh(attachment, { force: true }));
      if (src) img.src = src;
    } catch (error) {
      console.warn(`image ${attachment.id}`, error);
    }
  };
  img.addEventListener("error", retry);
  return retry;
}

function fileChip(attachment) {
  const { status } = attachment;
  const meta =
    status === "ready"
      ? formatBytes(attachment.size)
      : status === "pending"
        ? `${formatBytes(attachment.size)} · checking…`
        : `not attached: ${attachment.reason || "the check refused it"}`;
  return h(
    "li",
    { class: `attachment-file is-${status}` },
    icon(status === "rejected" ? "alert" : status === "pending" ? "clock" : isImage(attachment) ? "image" : "file", { size: 20 }),
    h(
      "span",
      { class: "attachment-text" },
      h("span", { class: "attachment-name", title: attachment.name }, attachment.name),
      h("span", { class: "attachment-meta" }, meta),
    ),
    status === "ready"
      ? h(
          "button",
          {
            type: "button",
            class: "icon-button small",
            "aria-label": `Download ${attachment.name}`,
            title: `Download ${attachment.name}`,
            dataset: { focusKey: `download-${attachment.id}` },
            onclick: (event) => download(attachment, event.currentTarget),
          },
          icon("download", { size: 16 }),
        )
      : null,
  );
}

// ---------------------------------------------------------------- opening and downloading

/** Saves the file under its name. The storage is another origin, where `<a download>` is
 * ignored: the bytes are fetched (the bucket allows this page's origin) and saved from here. */
export async function download(attachment, button) {
  if (latest(attachment).status !== "ready") {
    toast(`${attachment.name} is not ready to download.`, { kind: "notice", timeout: 4000 });
    return;
  }
  if (button) button.disabled = true;
  try {
    let current = await fresh(attachment);
    let response = await fetchFile(current.url);
    if (!response) {
      // Expired or refused: new URLs, once.
      current = await fresh(attachment, { force: true });
      response = await fetchFile(current.url);
    }
    if (!response) {
      // Still no bytes from here (a storage without CORS for this page): the browser opens it.
      window.open(current.url, "_blank", "noopener");
      return;
    }
    save(await response.blob(), attachment.name);
  } catch (error) {
    showError(error, `Could not download ${attachment.name}`);
  } finally {
    if (button) button.disabled = false;
  }
}

async function fetchFile(url) {
  if (!url) return null;
  try {
    const response = await fetch(url);
    return response.ok ? response : null;
  } catch {
    return null;
  }
}

function save(blob, name) {
  const href = URL.createObjectURL(blob);
  const link = h("a", { href, download: name, hidden: true });
  document.body.appendChild(link);
  link.click();
  link.remove();
  // The download has taken the bytes long before.
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

let showing = 0; // the image the dialog shows now (an older one's late answer is dropped)

/** The image full size, in a dialog (Escape closes it; the focus goes back by `onClose`). */
export function openImage(attachment, onClose) {
  const dialog = document.getElementById("image-dialog");
  const img = document.getElementById("image-full");
  const status = document.getElementById("image-status");
  const seq = ++showing;
  document.getElementById("image-title").textContent = attachment.name;
  document.getElementById("image-download").onclick = (event) => download(attachment, event.currentTarget);
  img.removeAttribute("src");
  img.alt = attachment.name;
  // Its size before it loads, so the dialog opens at its final size.
  for (const side of ["width", "height"]) {
    if (attachment[side]) img.setAttribute(side, String(attachment[side]));
    else img.removeAttribute(side);
  }
  img.hidden = true;
  status.textContent = "Loading…";
  let retried = false;
  img.onload = () => {
    if (seq !== showing) return;
    img.hidden = false;
    status.textContent = "";
  };
  img.onerror = async () => {
    if (seq !== showing || !img.getAttribute("src")) return;
    if (retried) {
      status.textContent = "The image could not be loaded.";
      return;
    }
    retried = true;
    show(await fresh(attachment, { force: true }).catch(() => null));
  };
  const show = (current) => {
    if (seq !== showing) return;
    if (current && current.url) img.src = current.url;
    else status.textContent = "The image could not be loaded.";
  };
  dialog.addEventListener(
    "close",
    () => {
      showing += 1;
      img.removeAttribute("src");
      if (onClose) onClose();
    },
    { once: true },
  );
  dialog.showModal();
  fresh(attachment).then(show, (error) => {
    if (seq === showing) status.textContent = "The image could not be loaded.";
    showError(error, `Could not open ${attachment.name}`);
  });
}

export function initAttachments() {
  document.getElementById("image-close").appendChild(icon("close"));
  document.getElementById("image-download").prepend(icon("download", { size: 16 }));
}
