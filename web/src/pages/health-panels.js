// The panels of the Health page, each (health, ctx) -> Node | null. The sync status (issue 10:
// GET /api/sync/status, the daemon's pending decisions) is one more module appended here.
import { h, badge } from "../dom.js";

function ago(seconds) {
  if (!seconds) return "never";
  const age = Math.max(0, Math.round(Date.now() / 1000 - seconds));
  return age < 2 ? "just now" : `${age} s ago`;
}

function component(title, part, what) {
  return h("section", { class: `card component ${part.ok ? "ok" : "bad"}`, "aria-label": title },
    h("h2", {}, title, " ", badge(part.ok ? "ok" : "down", part.ok ? "ok" : "bad")),
    h("p", {}, what),
    part.ok ? null : h("p", { class: "message error" }, [part.error, part.message].filter(Boolean).join(": ")));
}

export function database(health) {
  return component("Database", health.database,
    health.database.kind === "sqlite" ? "SQLite file (embedded)" : "PostgreSQL");
}

export function cache(health) {
  // An embedded cache's generation (-1 before the first write) says nothing to a user: not shown.
  return component("Cache", health.cache,
    health.cache.kind === "embedded" ? "in this process's memory (embedded)" : "Redis");
}

export function workers(health) {
  return h("section", { class: `card ${health.workers.length ? "ok" : "bad"}`, id: "workers",
    "aria-label": "Workers" },
  h("h2", {}, `Workers (${health.workers.length})`),
  health.workers.length ? h("ul", { class: "rows" }, health.workers.map((worker) => {
    const failed = worker.packages.failed;
    return h("li", {},
      h("span", { class: "grow" }, h("strong", {}, worker.id || "worker"),
        ` · ${worker.concurrency ?? "?"} slots · seen ${ago(worker.seen_at)} · `,
        `${worker.packages.requirements} requirements`),
      failed.length ? h("div", { class: "failed" }, `failed: ${failed.join(", ")}`,
        Object.entries(worker.packages.messages || {}).map(([name, why]) =>
          h("details", {}, h("summary", {}, `why ${name} failed`), h("pre", { class: "logs" }, why))))
        : null,
      worker.packages.error ? h("p", { class: "message error" },
        worker.packages.error_message || "requirements.txt could not be applied") : null);
  })) : h("p", {}, "No worker is running: executions and package installs wait."));
}

export const healthPanels = [database, cache, workers];
