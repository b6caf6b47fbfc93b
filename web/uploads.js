// The files a composer is about to send: picked with its paperclip button, dropped on the
// conversation, or pasted. Each is declared to the API, sent straight to the storage with a
// progress bar, then checked by the attachment worker; its chip shows every step, and the
// API's or the check's refusal. A send takes the files that have arrived: checked, or still
// being checked (the message shows the check's outcome when attachment.updated comes).
//
// Files belong to a channel: a tray keeps each channel's files and shows the open channel's.

import { api } from "./api.js";
import { h, icon, clear, announce, toast } from "./dom.js";
import { ACCEPTED, contentTypeOf, formatBytes, uploadFile, remember, watchPending } from "./attachments.js";

/** Files per message (the API's limit). */
export const MAX_FILES = 10;

// The API's field names, as a refusal shows them.
const FIELDS = { content_type: "the file type", size: "the size", name: "the name" };

let seq = 0;

/**
 * The tray of a composer `form` around the text box `input`: a paperclip button and a hidden
 * file input before the text box, the chips above it. `channelOf()` is the open channel.
 */
export function createTray(form, input, channelOf) {
  const items = []; // {key, channelId, name, size, phase, progress, attachment, error, upload, preview, el}
  const list = h("ul", { class: "upload-tray", id: `${input.id}-files`, "aria-label": "Files to send", hidden: true });
  const picker = h("input", { type: "file", multiple: true, accept: ACCEPTED, hidden: true });
  const button = h(
    "button",
    {
      type: "button",
      class: "icon-button attach-button",
      "aria-label": "Attach files",
      title: "Attach files (or drop or paste them here)",
      "aria-controls": list.id,
      onclick: () => picker.click(),
    },
    icon("paperclip"),
  );
  form.prepend(list);
  input.before(button, picker);
  picker.addEventListener("change", () => {
    add([...picker.files]);
    // The same file may be picked again after its chip was removed.
    picker.value = "";
    input.focus();
  });
  input.addEventListener("paste", (event) => {
    const data = event.clipboardData;
    const files = [...(data?.files || [])];
    // Office copies text with a picture of it: the text is what was meant.
    if (!files.length || data.getData("text/plain")) return;
    event.preventDefault();
    add(files);
  });

  const mine = () => items.filter((item) => item.channelId === channelOf());

  function add(files) {
    const channelId = channelOf();
    if (!channelId || !files.length) return;
    const room = MAX_FILES - mine().filter((item) => item.phase !== "failed").length;
    if (files.length > room) {
      toast(
        room > 0
          ? `A message carries at most ${MAX_FILES} files: only the first ${room} were added.`
          : `A message carries at most ${MAX_FILES} files.`,
        { kind: "notice", timeout: 6000 },
      );
    }
    for (const file of files.slice(0, Math.max(0, room))) start(file, channelId);
    render();
  }

  async function start(file, channelId) {
    const item = {
      key: `upload-${++seq}`,
      channelId,
      name: file.name || "pasted file",
      size: file.size,
      phase: "starting", // then uploading, uploaded, or failed
      progress: 0,
      attachment: null,
      error: "",
      upload: null,
      preview: contentTypeOf(file).startsWith("image/") ? URL.createObjectURL(file) : null,
      el: null,
    };
    items.push(item);
    try {
      const answer = await api.startUpload(channelId, item.name, contentTypeOf(file), file.size);
      if (item.removed) return;
      item.attachment = remember(answer.attachment);
      item.phase = "uploading";
      paint(item);
      item.upload = uploadFile(answer.upload, file, (fraction) => {
        item.progress = fraction;
        paint(item);
      });
      await item.upload.done;
      if (item.removed) return;
      item.phase = "uploaded";
      item.progress = 1;
      paint(item);
      if (item.attachment.status === "pending") {
        announce(`${item.name} uploaded; it is being checked.`);
        watchPending(item.attachment);
      }
    } catch (error) {
      if (item.removed || error.aborted) return;
      item.phase = "failed";
      item.error = refusal(error);
      paint(item);
      announce(`${item.name} cannot be attached: ${item.error}`);
    }
  }

  function remove(item) {
    item.removed = true;
    if (item.upload) item.upload.abort();
    if (item.preview) URL.revokeObjectURL(item.preview);
    const shown = mine();
    const index = shown.indexOf(item);
    items.splice(items.indexOf(item), 1);
    // The focus goes to the next chip's remove button, else the previous one's, else the text.
    const neighbour = shown[index + 1] || shown[index - 1];
    render();
    const target = neighbour && neighbour.el.querySelector("button");
    (target || input).focus();
    announce(`${item.name} removed.`);
  }

  function render() {
    const shown = mine();
    clear(list);
    for (const item of shown) {
      if (!item.el) paint(item);
      list.appendChild(item.el);
    }
    list.hidden = !shown.length;
  }

  /** Builds or rebuilds one chip (the focus stays on its remove button). */
  function paint(item) {
    const status = item.attachment ? item.attachment.status : "pending";
    const failed = item.phase === "failed" || status === "rejected";
    const sending = item.phase === "starting" || item.phase === "uploading";
    const percent = Math.round(item.progress * 100);
    const meta = failed
      ? item.error || `not attached: ${item.attachment.reason || "the check refused it"}`
      : item.phase === "starting"
        ? `${formatBytes(item.size)} · starting…`
        : item.phase === "uploading"
          ? `${formatBytes(item.size)} · uploading ${percent}%`
          : status === "ready"
            ? `${formatBytes(item.size)} · ready`
            : `${formatBytes(item.size)} · checking…`;
    const phase = failed ? "failed" : item.phase === "uploaded" ? status : item.phase;
    if (item.el && item.el.dataset.phase === phase) {
      // Progress: only the numbers move (the preview is not rebuilt at every event).
      item.el.querySelector(".upload-meta").textContent = meta;
      const bar = item.el.querySelector("progress");
      if (bar && item.phase === "uploading") bar.value = percent;
      return;
    }
    const focused = item.el && item.el.contains(document.activeElement);
    const el = item.el || (item.el = h("li"));
    el.className = `upload-chip${failed ? " is-error" : ""}${sending ? " is-uploading" : ""}`;
    el.dataset.phase = phase;
    clear(el).append(
      h(
        "span",
        { class: "upload-preview", "aria-hidden": "true" },
        item.preview && !failed ? h("img", { src: item.preview, alt: "" }) : icon(failed ? "alert" : "file", { size: 18 }),
      ),
      h(
        "span",
        { class: "upload-text" },
        h("span", { class: "upload-name", title: item.name }, item.name),
        h("span", { class: "upload-meta" }, meta),
        sending
          ? h("progress", {
              class: "upload-progress",
              max: "100",
              // No value while the API is asked: the bar says "working" without a number.
              value: item.phase === "uploading" ? String(percent) : null,
              "aria-label": `Uploading ${item.name}`,
            })
          : null,
      ),
      h(
        "button",
        {
          type: "button",
          class: "icon-button small",
          "aria-label": `Remove ${item.name}`,
          title: "Remove",
          onclick: () => remove(item),
        },
        icon("close", { size: 16 }),
      ),
    );
    if (focused) el.querySelector("button").focus();
  }

  return {
    add,
    render,
    /** The open channel's files: how many are still on their way, and how many can go. */
    status() {
      const shown = mine();
      return {
        uploading: shown.filter((item) => item.phase === "starting" || item.phase === "uploading").length,
        sendable: shown.filter(sendable).length,
      };
    },
    /** The open channel's files that can go, out of the tray (those that failed stay, with why). */
    take() {
      const taken = mine().filter(sendable);
      for (const item of taken) {
        items.splice(items.indexOf(item), 1);
        if (item.preview) URL.revokeObjectURL(item.preview);
      }
      render();
      return taken.map((item) => item.attachment);
    },
    /** The check's outcome (attachment.updated) for a file still in the tray. */
    update(attachment) {
      const item = items.find((candidate) => candidate.attachment && candidate.attachment.id === attachment.id);
      if (!item) return;
      const before = item.attachment.status;
      item.attachment = attachment;
      paint(item);
      if (item.channelId !== channelOf() || before === attachment.status) return;
      if (attachment.status === "rejected") announce(`${item.name} cannot be attached: ${attachment.reason || "the check refused it"}`);
      else if (attachment.status === "ready" && item.phase === "uploaded") announce(`${item.name} is ready.`);
    },
    /** Signing out: every upload stops. */
    reset() {
      for (const item of items.splice(0)) {
        item.removed = true;
        if (item.upload) item.upload.abort();
        if (item.preview) URL.revokeObjectURL(item.preview);
      }
      render();
    },
  };
}

function sendable(item) {
  return item.phase === "uploaded" && item.attachment && item.attachment.status !== "rejected";
}

/** The API's refusal in words: its message, with a byte count made readable. */
function refusal(error) {
  if (error && error.code === "validation_failed" && error.details) {
    return Object.entries(error.details)
      .map(([field, reason]) => `${FIELDS[field] || field} ${reason}`)
      .join("; ");
  }
  const text = (error && error.message) || String(error);
  return text.replace(/(\d{4,}) bytes/, (_, bytes) => formatBytes(Number(bytes)));
}

/**
 * Files dragged over `area` may be dropped there, into `tray`; the area says so while they
 * are over it. Elsewhere on the page a dropped file does nothing (rather than replace the
 * page with itself).
 */
export function acceptDrops(area, tray, focusTarget) {
  const overlay = h(
    "div",
    { class: "drop-overlay", hidden: true, "aria-hidden": "true" },
    icon("paperclip", { size: 28 }),
    h("span", {}, "Drop files to attach them"),
  );
  area.appendChild(overlay);
  let depth = 0; // dragenter and dragleave come for every child crossed
  area.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth += 1;
    overlay.hidden = false;
  });
  area.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  area.addEventListener("dragleave", (event) => {
    if (!carriesFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) overlay.hidden = true;
  });
  area.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth = 0;
    overlay.hidden = true;
    tray.add([...event.dataTransfer.files]);
    focusTarget.focus();
  });
}

function carriesFiles(event) {
  return Boolean(event.dataTransfer && [...event.dataTransfer.types].includes("Files"));
}

for (const type of ["dragover", "drop"]) {
  window.addEventListener(type, (event) => {
    if (event.defaultPrevented || !carriesFiles(event)) return;
    event.preventDefault();
    if (type === "dragover") event.dataTransfer.dropEffect = "none";
  });
}
