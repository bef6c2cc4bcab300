// Live events over /api/ws. The token never goes near the socket: each connection is opened with
// a one-time ticket from POST /api/ws/ticket, offered as the subprotocol bifrost.ticket.<ticket>.
import { sendJson } from "./api.js";

const MAX_CHANNELS = 60; // the server allows 64 subscriptions per connection

class Live {
  constructor() {
    this.socket = null;
    this.opening = null;
    this.handlers = new Map(); // channel -> Set(handler)
    this.pending = new Map(); // channel -> {resolve, reject} of the "subscribed" answer
    this.active = new Set(); // channels subscribed on the current connection
  }

  async connect() {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) return this.socket;
    if (this.opening) return this.opening;
    this.opening = (async () => {
      const { ticket, subprotocol } = await sendJson("POST", "/api/ws/ticket", {});
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}/api/ws`, [
        subprotocol,
        `bifrost.ticket.${ticket}`,
      ]);
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = () => reject(new Error("the live connection was refused"));
      });
      socket.onmessage = (message) => this.receive(JSON.parse(message.data));
      socket.onclose = () => {
        if (this.socket !== socket) return; // closed on purpose
        this.socket = null;
        if (this.handlers.size) setTimeout(() => this.resubscribe(), 1000); // the server restarted
      };
      this.socket = socket;
      this.active = new Set();
      return socket;
    })();
    try {
      return await this.opening;
    } finally {
      this.opening = null;
    }
  }

  receive(data) {
    if (data.subscribed) {
      this.pending.get(data.subscribed)?.resolve();
      this.pending.delete(data.subscribed);
      return;
    }
    if (data.error) { // a refused subscription: the server says why
      for (const { reject } of this.pending.values()) reject(new Error(data.error));
      this.pending.clear();
      return;
    }
    for (const handler of this.handlers.get(data.channel) || []) handler(data.event);
  }

  /** Resolves once the server confirmed the subscription; returns the unsubscribe function. */
  async subscribe(channel, handler) {
    if (this.active.size >= MAX_CHANNELS && !this.active.has(channel) && this.socket) {
      const full = this.socket;
      this.socket = null; // so its onclose knows it was closed on purpose
      full.close(); // start afresh; only channels still wanted are subscribed again
      const wanted = [...this.handlers.keys()];
      await this.connect();
      for (const name of wanted) await this.send(name);
    }
    if (!this.handlers.has(channel)) this.handlers.set(channel, new Set());
    this.handlers.get(channel).add(handler);
    const unsubscribe = () => {
      const set = this.handlers.get(channel);
      set?.delete(handler);
      if (set && !set.size) this.handlers.delete(channel);
    };
    try {
      if (!this.active.has(channel) || !this.socket) await this.send(channel);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  async send(channel) {
    const socket = await this.connect();
    const confirmed = new Promise((resolve, reject) =>
      this.pending.set(channel, { resolve, reject }));
    socket.send(JSON.stringify({ subscribe: channel }));
    this.active.add(channel);
    await confirmed;
  }

  async resubscribe() {
    try {
      for (const channel of this.handlers.keys()) await this.send(channel);
    } catch {
      /* the server is still away: the next subscribe() tries again */
    }
  }

  close() {
    const socket = this.socket;
    this.socket = null;
    this.handlers.clear();
    socket?.close();
  }
}

export const live = new Live();
