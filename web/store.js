// The client's state shared by the views: who I am, names of users, presence, channels,
// partners and requests. Views subscribe to "changes" by topic.

export const ASSISTANT_ID = "assistant";

export const state = {
  me: null, // {id, name, email}
  token: null,
  names: new Map(), // user id → name
  presence: new Map(), // user id → {online, last_seen}
  presencePushedAt: new Map(), // user id → performance.now() of its last presence event
  channels: new Map(), // channel id → summary (+ members once known)
  activity: new Map(), // channel id → created_at of the newest message seen (for ordering)
  // channel id → Map(message id → {mention, seq}): unread messages counted from pushes, on top
  // of the summary's unread_count (the server's list follows a message a moment later)
  liveUnread: new Map(),
  liveSeq: 0, // numbers the counted pushes, so a list reload can tell which it already counts
  partners: new Map(), // user id → {user, since}
  blocked: new Map(), // user id → {user, since}: people the user blocked
  received: [], // pending partner requests received
  sent: [], // pending partner requests sent
  users: [], // GET /users, as loaded so far
  usersCursor: null,
  usersLoaded: false,
  currentChannelId: null,
  connection: "closed",
  generation: 0, // bumped by resetSession: async results of an older session are dropped
};

const listeners = new Map();

export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
}

export function emit(topic, detail) {
  for (const fn of listeners.get(topic) || []) {
    try {
      fn(detail);
    } catch (error) {
      console.error(`listener of ${topic} failed`, error);
    }
  }
}

export function rememberName(id, name) {
  if (!id || !name) return;
  if (state.names.get(id) !== name) state.names.set(id, name);
}

export function nameOf(id) {
  if (id === ASSISTANT_ID) return "Assistant";
  if (state.me && id === state.me.id) return state.me.name;
  return state.names.get(id) || "Someone";
}

export function isOnline(id) {
  if (state.me && id === state.me.id) return state.connection === "open";
  const entry = state.presence.get(id);
  return Boolean(entry && entry.online);
}

/**
 * Records a presence fact. Events of one user can race (a quick reconnect), so the one with
 * the latest last_seen wins; an equal or unknown time takes the newer word. `pushed` marks a
 * presence event, so a snapshot requested before it cannot overwrite it.
 */
export function setPresence(userId, online, lastSeen, { pushed = false } = {}) {
  if (pushed) state.presencePushedAt.set(userId, performance.now());
  const before = state.presence.get(userId);
  if (before && before.last_seen && lastSeen && lastSeen < before.last_seen) return;
  state.presence.set(userId, { online, last_seen: lastSeen || (before && before.last_seen) || null });
  if (!before || before.online !== online) emit("presence", userId);
}

export function resetSession() {
  state.generation += 1;
  state.me = null;
  state.token = null;
  state.names.clear();
  state.presence.clear();
  state.presencePushedAt.clear();
  state.channels.clear();
  state.activity.clear();
  state.liveUnread.clear();
  state.partners.clear();
  state.blocked.clear();
  state.received = [];
  state.sent = [];
  state.users = [];
  state.usersCursor = null;
  state.usersLoaded = false;
  state.currentChannelId = null;
}

/** A channel's unread and mention counts: the list's, plus what was pushed since. */
export function unreadOf(channelId) {
  const channel = state.channels.get(channelId);
  if (!channel || channelId === state.currentChannelId) return { unread: 0, mentions: 0 };
  let unread = channel.unread_count || 0;
  let mentions = channel.mention_count || 0;
  for (const entry of state.liveUnread.get(channelId)?.values() || []) {
    unread += 1;
    if (entry.mention) mentions += 1;
  }
  return { unread, mentions };
}

/** Counts a message of someone else that arrived while its channel was not open. */
export function countUnread(message) {
  if (!state.liveUnread.has(message.channel_id)) state.liveUnread.set(message.channel_id, new Map());
  const mention = Boolean(state.me && (message.mentions || []).includes(state.me.id));
  state.liveUnread.get(message.channel_id).set(message.id, { mention, seq: ++state.liveSeq });
}

/** Read up to `messageId` (all of it without one): the channel's badges go. */
export function clearUnread(channelId, messageId = null) {
  const channel = state.channels.get(channelId);
  if (channel) {
    channel.unread_count = 0;
    channel.mention_count = 0;
  }
  const live = state.liveUnread.get(channelId);
  for (const id of live ? [...live.keys()] : []) {
    if (!messageId || id <= messageId) live.delete(id);
  }
}

/** My role in a channel: from its members when I am among those shown, else its summary's. */
export function myRole(channel) {
  if (!channel || !state.me) return null;
  const mine = (channel.members || []).find((member) => member.user_id === state.me.id);
  return mine ? mine.role : channel.role || null;
}

/** The name to show for a channel: the other person of a direct channel, else its name. */
export function channelTitle(channel) {
  if (!channel) return "";
  if (channel.kind === "direct") {
    const other = otherMember(channel);
    if (other) return nameOf(other);
  }
  return channel.name;
}

/** The other member of a direct channel, if the members are known. */
export function otherMember(channel) {
  if (!channel || !channel.members || !state.me) return null;
  const other = channel.members.find((member) => member.user_id !== state.me.id);
  return other ? other.user_id : null;
}

export function compareIds(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}
