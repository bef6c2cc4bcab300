// Orphans: what uses a workflow, and for one whose function left its file a dialog offering the
// ranked compatible replacements (each with its reason), recreate, or deactivate. A native
// <dialog> opened with showModal(): it keeps focus inside, Escape closes it, focus goes back.
import { h, fill, say, badge } from "../dom.js";
import { getJson, sendJson, request } from "../api.js";

const api = (workflow, action = "") => `/api/workflows/${encodeURIComponent(workflow.id)}${action}`;

function reference(user) {
  return h("li", {}, badge(user.kind, "entity"), " ", h("strong", {}, user.name), " ",
    h("span", { class: "path" }, user.path));
}

/** The workflow view's "Used by": the forms, agents, apps and workflows that name it. */
export function usedBy(workflow) {
  const list = h("ul", { class: "rows", id: "used-by-list" }, h("li", {}, "…"));
  const box = h("section", { class: "used-by", id: "used-by", "aria-label": "Used by" },
    h("h3", {}, "Used by"), list);
  getJson(api(workflow)).then((detail) => fill(list, detail.used_by.length ?
    detail.used_by.map(reference) : h("li", {}, "Nothing uses it.")))
    .catch((error) => fill(list, h("li", { class: "message error", role: "alert" }, error.message)));
  return box;
}

/** Activate for an inactive workflow that is not an orphan (an orphan's dialog has its own). */
export function activate(workflow, ctx) {
  if (workflow.is_active || workflow.is_orphaned) return null;
  const message = h("span", { class: "message" });
  const button = h("button", { type: "button", id: "activate" }, "Activate");
  button.addEventListener("click", async () => {
    try {
      await sendJson("POST", api(workflow, "/activate"));
      await ctx.reload(workflow.id);
    } catch (error) {
      say(message, error.message, "error");
    }
  });
  return h("span", {}, button, message);
}

function dialogFor(workflow, ctx) {
  const message = h("p", { class: "message", id: "orphan-message" });
  const candidates = h("ul", { class: "rows candidates", id: "replacements" }, h("li", {}, "…"));
  const close = h("button", { type: "button", id: "orphan-close" }, "Close");
  const dialog = h("dialog", { id: "orphan-dialog", "aria-labelledby": "orphan-title",
    "aria-describedby": "orphan-about" },
  h("h2", { id: "orphan-title" }, `Orphaned: ${workflow.name}`),
  h("p", { id: "orphan-about" }, `Its function left ${workflow.path}; it still runs its kept ` +
    "code. Point it at another function (it keeps its id, so whatever uses it keeps working), " +
    "write its code back, or stop it."),
  h("h3", {}, "Compatible replacements"), candidates, message);
  const act = async (label, action, json) => {
    say(message, `${label}…`);
    try {
      await request("POST", api(workflow, action), json === undefined ? {} : { json });
      dialog.close();
      dialog.remove();
      await ctx.reload(workflow.id);
      document.getElementById("workflow-name")?.focus(); // the dialog's opener is gone
    } catch (error) {
      say(message, error.message, "error"); // the server's own detail (a 409, a 422)
    }
  };
  const recreate = h("button", { type: "button", id: "orphan-recreate" }, "Recreate");
  recreate.addEventListener("click", () => act("recreating", "/recreate"));
  const toggle = h("button", { type: "button", id: "orphan-toggle",
    class: workflow.is_active ? "danger" : null }, workflow.is_active ? "Deactivate" : "Activate");
  toggle.addEventListener("click", () => workflow.is_active ?
    act("deactivating", "/deactivate") : act("activating", "/activate"));
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  dialog.append(h("div", { class: "actions" }, recreate, toggle, close));

  getJson(api(workflow, "/compatible-replacements")).then((answer) => {
    fill(candidates, answer.items.length ? answer.items.map((item) => {
      const target = `${item.workflow.path}:${item.workflow.function_name}`;
      const replace = h("button", { type: "button", class: "primary replace",
        "data-path": item.workflow.path, "data-function": item.workflow.function_name,
        "aria-label": `Replace with ${target}` }, "Replace");
      replace.addEventListener("click", () => act(`replacing with ${target}`, "/replace",
        { path: item.workflow.path, function: item.workflow.function_name }));
      return h("li", { class: "candidate" },
        h("span", { class: "grow" }, h("strong", {}, item.workflow.name), " ",
          h("code", {}, target), " ", badge(item.rank, item.rank === "exact" ? "ok" : "entity"),
          h("span", { class: "reason" }, item.reason)),
        replace);
    }) : h("li", {}, "No live workflow can take every call this one could."));
  }).catch((error) => fill(candidates, h("li", { class: "message error", role: "alert" }, error.message)));
  return dialog;
}

/** The button that opens the orphan's dialog. */
export function orphanDialog(workflow, ctx) {
  if (!workflow.is_orphaned) return null;
  const open = h("button", { type: "button", id: "orphan-open", "aria-haspopup": "dialog" },
    "Resolve orphan…");
  open.addEventListener("click", () => {
    const dialog = dialogFor(workflow, ctx);
    document.body.append(dialog);
    dialog.showModal();
  });
  return open;
}

/** The Workflows page's "Orphaned" section: every orphan and what uses it. */
export function orphanedSection() {
  const list = h("ul", { class: "rows", id: "orphaned-list" });
  const section = h("section", { class: "card", id: "orphaned", "aria-labelledby": "orphaned-title" },
    h("h2", { id: "orphaned-title" }, "Orphaned"), list);
  getJson("/api/workflows/orphaned").then((page) => {
    if (!page.items.length) {
      section.hidden = true;
      return;
    }
    fill(list, page.items.map((w) => h("li", {},
      h("a", { href: `#/workflows/${encodeURIComponent(w.id)}`, "data-id": w.id }, w.name), " ",
      h("span", { class: "path" }, w.path), w.is_active ? null : badge("inactive", "inactive"),
      h("span", { class: "grow hint" }, w.used_by.length ?
        `used by ${w.used_by.map((u) => `${u.kind} ${u.name}`).join(", ")}` : "used by nothing"))));
  }).catch((error) => fill(list, h("li", { class: "message error", role: "alert" }, error.message)));
  return section;
}
