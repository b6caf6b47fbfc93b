// The HTTP API of the contract, one function per route. Every failure becomes an ApiError
// carrying the contract's {"error": {"code", "message", "details"}}.

import { config } from "./config.js";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details || null;
  }
}

let token = null;
let onUnauthorized = () => {};

export function setToken(value) {
  token = value;
}

export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

async function request(method, path, { body, query } = {}) {
  const url = new URL(config().api + path);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const sentToken = token;
  if (sentToken) headers.authorization = `Bearer ${sentToken}`;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", `Cannot reach the API at ${config().api}`);
  }
  const text = response.status === 204 ? "" : await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = data && data.error;
    const failure = new ApiError(
      response.status,
      (error && error.code) || `http_${response.status}`,
      (error && error.message) || `The server answered ${response.status} ${response.statusText}`,
      error && error.details,
    );
    if (response.status === 401 && sentToken && sentToken === token) onUnauthorized(failure);
    throw failure;
  }
  return data;
}

const enc = encodeURIComponent;

export const api = {
  register: (email, name, password) => request("POST", "/auth/register", { body: { email, name, password } }),
  login: (email, password) => request("POST", "/auth/login", { body: { email, password } }),
  me: () => request("GET", "/me"),
  updateMe: (changes) => request("PATCH", "/me", { body: changes }),
  verifyEmail: (code) => request("POST", "/auth/verify-email", { body: { code } }),
  resendVerification: () => request("POST", "/auth/verify-email/resend"),
  logout: () => request("POST", "/auth/logout"),
  logoutAll: () => request("POST", "/auth/logout-all"),
  changePassword: (currentPassword, newPassword) =>
    request("POST", "/me/password", { body: { current_password: currentPassword, new_password: newPassword } }),
  deleteAccount: (password) => request("DELETE", "/me", { body: { password } }),

  users: (cursor, limit = 50) => request("GET", "/users", { query: { cursor, limit } }),
  user: (id) => request("GET", `/users/${enc(id)}`),
  presence: (id) => request("GET", `/users/${enc(id)}/presence`),
  online: () => request("GET", "/presence/online"),

  sendRequest: (recipientId, message) =>
    request("POST", "/partner-requests", { body: { recipient_id: recipientId, message: message || null } }),
  received: (status = "pending", cursor) =>
    request("GET", "/partner-requests/received", { query: { status, cursor, limit: 100 } }),
  sent: (status = "pending", cursor) => request("GET", "/partner-requests/sent", { query: { status, cursor, limit: 100 } }),
  accept: (id) => request("POST", `/partner-requests/${enc(id)}/accept`),
  reject: (id) => request("POST", `/partner-requests/${enc(id)}/reject`),
  cancel: (id) => request("DELETE", `/partner-requests/${enc(id)}`),
  partnerships: (cursor) => request("GET", "/partnerships", { query: { cursor, limit: 100 } }),
  endPartnership: (userId) => request("DELETE", `/partnerships/${enc(userId)}`),
  report: (id, mid, reason, note) =>
    request("POST", `/channels/${enc(id)}/messages/${enc(mid)}/reports`, { body: { reason, ...(note ? { note } : {}) } }),
  reports: (id, cursor) => request("GET", `/channels/${enc(id)}/reports`, { query: { cursor, limit: 100 } }),
  block: (userId) => request("PUT", `/me/blocks/${enc(userId)}`),
  unblock: (userId) => request("DELETE", `/me/blocks/${enc(userId)}`),
  blocks: (cursor) => request("GET", "/me/blocks", { query: { cursor, limit: 100 } }),

  channels: (cursor) => request("GET", "/channels", { query: { cursor, limit: 100 } }),
  publicChannels: (cursor) => request("GET", "/channels/public", { query: { cursor, limit: 100 } }),
  createChannel: (body) => request("POST", "/channels", { body }),
  channel: (id) => request("GET", `/channels/${enc(id)}`),
  members: (id, cursor) => request("GET", `/channels/${enc(id)}/members`, { query: { cursor, limit: 100 } }),
  addMember: (id, userId) => request("POST", `/channels/${enc(id)}/members`, { body: { user_id: userId } }),
  join: (id) => request("POST", `/channels/${enc(id)}/join`),
  leave: (id) => request("POST", `/channels/${enc(id)}/leave`),
  deleteChannel: (id) => request("DELETE", `/channels/${enc(id)}`),
  updateChannel: (id, changes) => request("PATCH", `/channels/${enc(id)}`, { body: changes }),
  setRole: (id, userId, role) => request("PATCH", `/channels/${enc(id)}/members/${enc(userId)}`, { body: { role } }),
  removeMember: (id, userId) => request("DELETE", `/channels/${enc(id)}/members/${enc(userId)}`),
  transferOwnership: (id, userId) => request("POST", `/channels/${enc(id)}/owner`, { body: { user_id: userId } }),
  mute: (id) => request("PUT", `/channels/${enc(id)}/mute`),
  unmute: (id) => request("DELETE", `/channels/${enc(id)}/mute`),

  messages: (id, { cursor, limit = 50, order = "desc" } = {}) =>
    request("GET", `/channels/${enc(id)}/messages`, { query: { cursor, limit, order } }),
  message: (id, mid) => request("GET", `/channels/${enc(id)}/messages/${enc(mid)}`),
  replies: (id, mid, cursor) =>
    request("GET", `/channels/${enc(id)}/messages/${enc(mid)}/replies`, { query: { cursor, limit: 100 } }),
  send: (id, body, clientId, parentId, mentionIds, attachmentIds) =>
    request("POST", `/channels/${enc(id)}/messages`, {
      body: {
        body,
        client_id: clientId || null,
        parent_id: parentId || null,
        mention_ids: mentionIds?.length ? mentionIds : null,
        attachment_ids: attachmentIds?.length ? attachmentIds : null,
      },
    }),
  edit: (id, mid, body) => request("PATCH", `/channels/${enc(id)}/messages/${enc(mid)}`, { body: { body } }),
  deleteMessage: (id, mid) => request("DELETE", `/channels/${enc(id)}/messages/${enc(mid)}`),
  // Ends an assistant reply still streaming (409 once it is not).
  stopReply: (id, mid) => request("POST", `/channels/${enc(id)}/messages/${enc(mid)}/stop`),
  react: (id, mid, emoji) => request("PUT", `/channels/${enc(id)}/messages/${enc(mid)}/reactions/${enc(emoji)}`),
  unreact: (id, mid, emoji) => request("DELETE", `/channels/${enc(id)}/messages/${enc(mid)}/reactions/${enc(emoji)}`),
  markRead: (id, messageId) => request("POST", `/channels/${enc(id)}/read`, { body: { message_id: messageId } }),
  readReceipts: (id) => request("GET", `/channels/${enc(id)}/read-receipts`),
  // The file itself goes straight to the storage, with the form this answers (attachments.js).
  startUpload: (id, name, contentType, size) =>
    request("POST", `/channels/${enc(id)}/attachments`, { body: { name, content_type: contentType, size } }),
  attachment: (id, aid) => request("GET", `/channels/${enc(id)}/attachments/${enc(aid)}`),

  // Words across my channels (or one), newest first: {items: [{message, channel}], next_cursor}.
  // A page may be short, even empty, and still have a next_cursor.
  searchMessages: (q, { channelId, cursor, limit = 20 } = {}) =>
    request("GET", "/search/messages", { query: { q, channel_id: channelId, cursor, limit } }),
};

/** Every page of a paged route, up to `maxPages`. */
export async function allPages(fetchPage, maxPages = 10) {
  const items = [];
  let cursor;
  for (let i = 0; i < maxPages; i++) {
    const page = await fetchPage(cursor);
    items.push(...page.items);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return items;
}
