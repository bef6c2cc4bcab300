// Live events over /api/ws. The token never goes near the socket: each connection is opened with
// a one-time ticket from POST /api/ws/ticket, offered as the subprotocol bifrost.ticket.<ticket>.
import { sendJson } from "./api.js";

const MAX_CHANNELS = 60; // the server allows 64 subscriptions per connection

class Live {
  constructor() {
    this.socket = null;
    this.opening = null;
    this.handlers = new Map(); // channel -> Set(handler)
    this.pending = new Map(); // channel -> resolve of the "subscribed" answer
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
        if (this.socket === socket) this.socket = null;
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
      this.pending.get(data.subscribed)?.();
      this.pending.delete(data.subscribed);
      return;
    }
    for (const handler of this.handlers.get(data.channel) || []) handler(data.event);
  }

  /** Resolves once the server confirmed the subscription; returns the unsubscribe function. */
  async subscribe(channel, handler) {
    if (this.active.size >= MAX_CHANNELS && !this.active.has(channel) && this.socket) {
      this.socket.close(); // start afresh; only channels still wanted are subscribed again
      this.socket = null;
      const wanted = [...this.handlers.keys()];
      await this.connect();
      for (const name of wanted) await this.send(name);
    }
    if (!this.handlers.has(channel)) this.handlers.set(channel, new Set());
    this.handlers.get(channel).add(handler);
    if (!this.active.has(channel) || !this.socket) await this.send(channel);
    return () => {
      const set = this.handlers.get(channel);
      set?.delete(handler);
      if (set && !set.size) this.handlers.delete(channel);
    };
  }

  async send(channel) {
    const socket = await this.connect();
    const confirmed = new Promise((resolve) => this.pending.set(channel, resolve));
    socket.send(JSON.stringify({ subscribe: channel }));
    this.active.add(channel);
    await confirmed;
  }

  close() {
    this.socket?.close();
    this.socket = null;
    this.handlers.clear();
  }
}

export const live = new Live();
