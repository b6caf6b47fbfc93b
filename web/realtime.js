// The WebSocket connection: connects with ?token=, reconnects by itself with capped
// exponential backoff and jitter, pings so idle timeouts never close it, and reports
// every server event and every change of state to its owner.

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
const PING_EVERY_MS = 60_000;
const PONG_TIMEOUT_MS = 15_000;

export class Realtime {
  /**
   * @param {object} options
   * @param {() => string} options.url the URL to connect to (token included)
   * @param {(event: object) => void} options.onEvent every frame the server sends
   * @param {(state: string, info: object) => void} options.onState "connecting" | "open" | "closed" | "offline"
   * @param {() => Promise<boolean>} options.checkAuth called after repeated failed handshakes;
   *   false stops reconnecting (the token is no longer valid)
   */
  constructor({ url, onEvent, onState, checkAuth }) {
    this.url = url;
    this.onEvent = onEvent;
    this.onState = onState;
    this.checkAuth = checkAuth;
    this.socket = null;
    this.attempt = 0;
    this.failedHandshakes = 0;
    this.opens = 0;
    this.timer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.stopped = true;
    this.handleOnline = () => {
      // An open socket survived the blip: replacing it would only cost a reconnect.
      if (this.stopped || this.isOpen) return;
      this.attempt = 0;
      this.connectNow();
    };
    this.handleOffline = () => {
      if (this.stopped) return;
      // The browser knows the network is gone: drop the socket now rather than wait for it to
      // time out, and try again when the network is back (or by backoff).
      this.dropSocket();
      this.setState("offline");
      this.schedule();
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.handleOnline);
    window.addEventListener("offline", this.handleOffline);
    this.connectNow();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.handleOnline);
    window.removeEventListener("offline", this.handleOffline);
    clearTimeout(this.timer);
    this.dropSocket();
    this.setState("closed");
  }

  /** Tries at once (a person asked to), with the backoff started afresh. */
  retryNow() {
    if (this.stopped || this.isOpen) return;
    this.attempt = 0;
    this.connectNow();
  }

  get isOpen() {
    return Boolean(this.socket && this.socket.readyState === WebSocket.OPEN);
  }

  /** Sends a frame if the socket is open; false otherwise (the caller falls back to REST). */
  send(frame) {
    if (!this.isOpen) return false;
    try {
      this.socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  setState(state, info = {}) {
    this.state = state;
    this.onState(state, info);
  }

  connectNow() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    this.dropSocket();
    if (navigator.onLine === false) {
      // The "online" event will call again; the backoff timer is the fallback.
      this.setState("offline");
      this.schedule();
      return;
    }
    let socket;
    try {
      socket = new WebSocket(this.url());
    } catch (error) {
      console.warn("WebSocket URL refused:", error);
      this.setState("closed", { error: String(error.message || error) });
      this.schedule();
      return;
    }
    this.socket = socket;
    let opened = false;
    this.setState("connecting", { attempt: this.attempt });
    socket.onopen = () => {
      if (socket !== this.socket) return;
      opened = true;
      this.attempt = 0;
      this.failedHandshakes = 0;
      this.opens += 1;
      this.startPings();
      this.setState("open", { reconnected: this.opens > 1 });
    };
    socket.onmessage = (message) => {
      if (socket !== this.socket) return;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event && event.type === "pong") {
        clearTimeout(this.pongTimer);
        this.pongTimer = null;
        return;
      }
      this.onEvent(event);
    };
    socket.onerror = () => {};
    socket.onclose = async () => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.stopPings();
      if (this.stopped) return;
      this.setState(navigator.onLine === false ? "offline" : "closed");
      if (!opened) {
        this.failedHandshakes += 1;
        // A refused handshake looks like any network failure from here: ask the API whether
        // the token still works before trying on forever.
        if (this.failedHandshakes % 3 === 0 && this.checkAuth) {
          const ok = await this.checkAuth().catch(() => true);
          // A socket opened meanwhile (online event, "Reconnect now") must not be replaced.
          if (!ok || this.stopped || this.socket) return;
        }
      }
      this.schedule();
    };
  }

  schedule() {
    if (this.stopped || this.timer) return;
    const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    // "Equal jitter": a random delay between half the ceiling and the ceiling, so a crowd of
    // clients dropped at once never comes back in step, and no retry comes too soon.
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.attempt += 1;
    this.nextRetryAt = Date.now() + delay;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connectNow();
    }, delay);
    this.onState(this.state, { retryInMs: delay });
  }

  startPings() {
    this.stopPings();
    this.pingTimer = setInterval(() => {
      if (!this.send({ action: "ping" })) return;
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => {
        // No answer: the socket is dead without having said so.
        this.dropSocket();
        this.setState("closed");
        this.schedule();
      }, PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  stopPings() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = null;
    this.pongTimer = null;
  }

  dropSocket() {
    this.stopPings();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      try {
        socket.close(1000);
      } catch {
        // already closed
      }
    }
  }
}
