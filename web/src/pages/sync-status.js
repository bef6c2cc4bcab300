// The Health page's sync status: per target its last run, error, next run, lag and breaker, and
// the decisions the daemon held back (GET /api/sync/status). The panel is rebuilt at every
// refresh of the page, so it starts from the last answer instead of flashing empty.
import { h, fill, badge, when } from "../dom.js";
import { getJson } from "../api.js";

let last = null;

function lag(seconds) {
  if (seconds === null || seconds === undefined) return "never synced";
  return seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
}

function held(item) {
  if (item === null || typeof item !== "object") return h("li", {}, String(item));
  const workflows = Array.isArray(item.workflows) && item.workflows.length ?
    ` · would orphan ${item.workflows.map((w) => (typeof w === "object" ? w.name || w.id : w)).join(", ")}` : "";
  return h("li", {}, h("code", {}, item.path || JSON.stringify(item)),
    h("span", { class: "grow hint" }, `${item.reason || ""}${workflows}`));
}

function target(name, status) {
  const breaker = status.breaker || {};
  const bad = Boolean(status.last_error) || breaker.state !== "closed";
  return h("li", { class: "sync-target", "data-target": name },
    h("h3", {}, name, " ", badge(bad ? (breaker.state !== "closed" ? `breaker ${breaker.state}` : "error") :
      (status.last_run_at ? "ok" : "idle"), bad ? "bad" : "ok")),
    h("dl", { class: "facts" },
      h("dt", {}, "Last run"), h("dd", {}, when(status.last_run_at)),
      h("dt", {}, "Next run"), h("dd", {}, when(status.next_run_at)),
      h("dt", {}, "Lag"), h("dd", {}, lag(status.lag_s)),
      h("dt", {}, "Breaker"), h("dd", {}, `${breaker.state || "–"} · ${breaker.failures ?? 0} failures` +
        (breaker.retry_at ? ` · retry ${when(breaker.retry_at)}` : ""))),
    status.last_error ? h("p", { class: "message error" }, status.last_error) : null,
    status.pending.length ? [h("h4", {}, `Pending decisions (${status.pending.length})`),
      h("ul", { class: "rows pending" }, status.pending.map(held))] : null);
}

function render(box, answer) {
  fill(box, h("ul", { class: "rows sync-targets" },
    Object.entries(answer).map(([name, status]) => target(name, status))));
}

export function syncStatus() {
  const box = h("div", { id: "sync-targets" }, last ? null : h("p", {}, "…"));
  if (last) render(box, last);
  getJson("/api/sync/status").then((answer) => {
    last = answer;
    render(box, answer);
  }).catch((error) => fill(box, h("p", { class: "message error" }, error.message)));
  return h("section", { class: "card", id: "sync-status", "aria-labelledby": "sync-title" },
    h("h2", { id: "sync-title" }, "Sync status"), box);
}
