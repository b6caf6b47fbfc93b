// Presence dots: a coloured dot beside a person, with a text equivalent for screen readers,
// kept up to date for every dot of that person when a `presence` event arrives.

import { h } from "./dom.js";
import { state, nameOf, isOnline, on } from "./store.js";

function describe(userId) {
  return `${nameOf(userId)} is ${isOnline(userId) ? "online" : "offline"}`;
}

export function presenceDot(userId) {
  const dot = h("span", {
    class: `presence-dot ${isOnline(userId) ? "online" : "offline"}`,
    role: "img",
    "aria-label": describe(userId),
    title: describe(userId),
    dataset: { presenceUser: userId },
  });
  return dot;
}

export function refreshPresenceDots(userId) {
  for (const dot of document.querySelectorAll("[data-presence-user]")) {
    if (userId && dot.dataset.presenceUser !== userId) continue;
    const id = dot.dataset.presenceUser;
    const online = isOnline(id);
    dot.classList.toggle("online", online);
    dot.classList.toggle("offline", !online);
    dot.setAttribute("aria-label", describe(id));
    dot.title = describe(id);
  }
}

on("presence", (userId) => refreshPresenceDots(userId));
on("connection", () => state.me && refreshPresenceDots(state.me.id));
