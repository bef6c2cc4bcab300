// Source Control: the connection (connect.js: a token or a GitHub App, validated, then a
// repository and a branch picked from lists, or a new repository), the preview (incoming,
// outgoing, conflicts, each with its diff), a choice per conflict, the workflows the sync would
// orphan (confirmed), the sync's progress and log (git:<job id> on the WebSocket), and the
// branch's history.
import { h, fill, say, badge, when } from "../dom.js";
import { getJson, sendJson, ApiError } from "../api.js";
import { live } from "../live.js";
import { connectionState, showConnection } from "./connect.js";

const ACTION = { add: "added", modify: "modified", delete: "deleted" };

function diffView(text) {
  if (text === null || text === undefined) return h("p", { class: "hint" }, "binary: no diff");
  if (!text) return h("p", { class: "hint" }, "no textual difference");
  return h("pre", { class: "diff", tabindex: "0", role: "region", "aria-label": "diff" },
    text.split("\n").map((line) => h("span", {
      class: /^(\+\+\+|---) /.test(line) ? "file" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : "",
    }, `${line}\n`)));
}

/** An incoming or outgoing file: its diff is fetched the first time it is opened. */
function entry(change, side) {
  const body = h("div", {}, h("p", { class: "hint" }, "loading the diff…"));
  const details = h("details", { class: "change", "data-path": change.path },
    h("summary", {}, h("code", {}, change.path), " ", badge(ACTION[change.action], change.action)),
    body);
  let loaded = false;
  details.addEventListener("toggle", async () => {
    if (!details.open || loaded) return;
    loaded = true;
    const query = new URLSearchParams({ path: change.path, side });
    if (change.local_sha) query.set("local_sha", change.local_sha);
    if (change.remote_sha) query.set("remote_sha", change.remote_sha);
    try {
      const { diff } = await getJson(`/api/github/sync/diff?${query}`);
      fill(body, h("p", { class: "hint" }, side === "incoming" ?
        "what the pull changes here (- here, + on GitHub)" :
        "what the push changes on GitHub (- on GitHub, + here)"), diffView(diff));
    } catch (error) {
      loaded = false;
      fill(body, h("p", { class: "message error", role: "alert" }, error.message));
    }
  });
  return h("li", {}, details);
}

function conflict(item, choices) {
  const name = `resolve-${item.path}`;
  const options = [["keep_local", "Keep mine"], ["keep_remote", "Keep theirs"]];
  if (item.mergeable) options.push(["merge", "Merge"]);
  const radios = options.map(([value, label]) => {
    const input = h("input", { type: "radio", name, value, id: `${name}-${value}` });
    input.addEventListener("change", () => choices.set(item.path, value));
    return h("label", { for: input.id, class: "choice" }, input, ` ${label}`);
  });
  return h("li", { class: "conflict", "data-path": item.path },
    h("fieldset", {}, h("legend", {}, h("code", {}, item.path), " ",
      badge(item.kind.replace("_", "/"), "conflict")), radios),
    h("details", {}, h("summary", {}, "Diff mine → theirs"), diffView(item.diff)),
    item.mergeable ? h("details", {}, h("summary", {}, "Diff mine → merged"),
      diffView(item.merged_diff)) : h("p", { class: "hint" }, "not mergeable: the edits overlap"));
}

export default {
  id: "source-control",
  title: "Source Control",
  mount(root) {
    const connection = h("section", { class: "card", "aria-labelledby": "connection-title" });
    const previewBox = h("section", { class: "card", id: "preview", "aria-labelledby": "preview-title" });
    const syncBox = h("section", { class: "card", id: "sync-progress", "aria-label": "Sync progress", hidden: true });
    const historyBox = h("section", { class: "card", id: "history", "aria-labelledby": "history-title" });
    const unsubscribes = [];
    fill(root, h("h1", {}, "Source Control"), connection, previewBox, syncBox, historyBox);

    async function load() {
      let config;
      try {
        config = await getJson("/api/github/config");
      } catch (error) {
        fill(connection, h("p", { class: "message error", role: "alert" }, error.message));
        return;
      }
      showConnection(connection, config, async (done) => {
        await load();
        say(document.getElementById("connect-message"), done, "ok");
      });
      previewBox.hidden = historyBox.hidden = !config.connected; // no empty cards
      if (config.connected) {
        await Promise.all([preview(), history()]);
      } else {
        previewBox.replaceChildren();
        historyBox.replaceChildren();
      }
    }

    async function preview() {
      const message = h("p", { id: "preview-message", class: "message" });
      fill(previewBox, h("h2", { id: "preview-title" }, "Changes"), message);
      say(message, "comparing with GitHub…");
      let shown;
      try {
        shown = await getJson("/api/github/sync");
      } catch (error) {
        say(message, error.message, "error");
        return;
      }
      const choices = new Map();
      const confirm = h("input", { id: "confirm-orphans", type: "checkbox" });
      const syncButton = h("button", { type: "button", class: "primary", id: "sync" }, "Sync");
      const refresh = h("button", { type: "button", id: "refresh-preview", onclick: preview }, "Refresh");
      const list = (title, id, items, render) => h("section", { id, "aria-label": title },
        h("h3", {}, `${title} (${items.length})`),
        items.length ? h("ul", { class: "rows" }, items.map(render)) : h("p", { class: "hint" }, "none"));
      say(message, shown.is_empty ? "In sync: nothing to pull, push or resolve." :
        `${shown.to_pull.length} incoming, ${shown.to_push.length} outgoing, ` +
        `${shown.conflicts.length} conflicts`);
      previewBox.append(
        list("Incoming", "incoming", shown.to_pull, (c) => entry(c, "incoming")),
        list("Outgoing", "outgoing", shown.to_push, (c) => entry(c, "outgoing")),
        list("Conflicts", "conflicts", shown.conflicts, (c) => conflict(c, choices)));
      if (shown.will_orphan.length) {
        previewBox.append(h("section", { id: "will-orphan", class: "warning", "aria-label": "Workflows this sync orphans" },
          h("h3", {}, "Workflows this sync would orphan"),
          h("ul", {}, shown.will_orphan.map((o) => h("li", {}, h("strong", {}, o.name), " ",
            h("code", {}, `${o.path}:${o.function_name}`)))),
          h("label", { for: "confirm-orphans", class: "choice" }, confirm,
            " I understand: these workflows lose their function (they stay, marked orphaned)")));
      }
      const syncMessage = h("p", { id: "sync-message", class: "message" });
      previewBox.append(h("div", { class: "actions" }, syncButton, refresh), syncMessage);
      syncButton.disabled = shown.is_empty;
      syncButton.addEventListener("click", async () => {
        const missing = shown.conflicts.filter((c) => !choices.has(c.path));
        if (missing.length) {
          say(syncMessage, `choose how to settle ${missing.map((c) => c.path).join(", ")}`, "error");
          return;
        }
        if (shown.will_orphan.length && !confirm.checked) {
          say(syncMessage, "confirm the orphaned workflows first", "error");
          confirm.focus();
          return;
        }
        syncButton.disabled = true;
        syncBox.replaceChildren(); // the last sync's outcome goes
        try {
          const { job_id: job } = await sendJson("POST", "/api/github/sync", {
            conflict_resolutions: Object.fromEntries(choices), confirm_orphans: confirm.checked,
          });
          await follow(job);
        } catch (error) {
          say(syncMessage, error.message, "error");
          syncButton.disabled = false;
        }
      });
    }

    async function follow(job) {
      const bar = h("progress", { id: "sync-bar", max: 1, value: 0, "aria-label": "Sync progress" });
      const current = h("p", { id: "sync-current", class: "hint" }, "starting…");
      const log = h("pre", { id: "sync-log", class: "logs", tabindex: "0", role: "log", "aria-label": "Sync log" });
      const outcome = h("p", { id: "sync-outcome", class: "message" });
      syncBox.hidden = false;
      fill(syncBox, h("h2", {}, "Sync"), bar, current, log, outcome);
      let ended = false;
      const end = async (ok, text) => {
        if (ended) return;
        ended = true;
        if (ok) bar.value = bar.max;
        say(outcome, text, ok ? "ok" : "error");
        await Promise.all([preview(), history()]);
        const config = await getJson("/api/github/config");
        document.getElementById("connection-state").textContent = connectionState(config);
      };
      unsubscribes.push(await live.subscribe(`git:${job}`, (event) => {
        if (event.type === "progress") {
          bar.max = Math.max(1, event.total);
          bar.value = event.current;
          current.textContent = `${event.phase} ${event.current}/${event.total}` +
            (event.path ? `: ${event.path}` : "");
        } else if (event.type === "output") {
          log.append(`${event.line}\n`);
          log.scrollTop = log.scrollHeight;
        } else if (event.type === "done") {
          end(event.ok, event.ok ? "synced" : `the sync failed: ${event.error}`);
        }
      }));
      const record = await getJson(`/api/jobs/${encodeURIComponent(job)}`); // it may be over
      if (record.status === "success") end(true, "synced");
      if (record.status === "failed") end(false, `the sync failed: ${record.error?.message}`);
    }

    async function history() {
      fill(historyBox, h("h2", { id: "history-title" }, "History"));
      try {
        const page = await getJson("/api/github/commits?per_page=20");
        historyBox.append(page.items.length ? h("ol", { class: "rows", id: "commits" },
          page.items.map((c) => h("li", {}, h("code", {}, c.sha.slice(0, 7)), " ",
            h("span", { class: "grow" }, c.message.split("\n")[0]), " ",
            h("span", { class: "hint" }, `${c.author || "?"} · ${c.date ? when(c.date) : ""}`)))) :
          h("p", { class: "hint" }, "No commits on the branch yet."));
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) {
          historyBox.append(h("p", { class: "message error", role: "alert" }, error.message));
        } else {
          historyBox.append(h("p", { class: "hint" }, "The branch does not exist yet: the first sync creates it."));
        }
      }
    }

    load();
    return () => unsubscribes.forEach((stop) => stop());
  },
};
