// Workflows: each with its parameters, a run form generated from them, its last executions, and
// live status: execute with wait: false, subscribe to execution:<id>, show running, then the
// outcome.
import { h, fill, say, badge, field, duration, when } from "../dom.js";
import { getJson, sendJson, listAll } from "../api.js";
import { live } from "../live.js";
import { workflowActions } from "./workflow-actions.js";

const FINISHED = new Set(["success", "failed", "timeout", "cancelled"]);

function kindOf(parameter) {
  const annotation = (parameter.annotation || "").replace(/\s*\|\s*None$/, "");
  if (annotation === "bool") return "bool";
  if (annotation === "int" || annotation === "float") return annotation;
  if (annotation === "str") return "str";
  return "json";
}

/** One control per parameter a caller can pass by name, prefilled with its default. */
function runForm(workflow, onRun) {
  const inputs = [];
  const controls = [];
  for (const parameter of workflow.parameters) {
    if (parameter.kind.startsWith("var_") || parameter.kind === "positional_only") continue;
    const kind = kindOf(parameter);
    const id = `param-${parameter.name}`;
    const value = parameter.has_default ? parameter.default : undefined;
    let input;
    if (kind === "bool") {
      input = h("input", { id, type: "checkbox", checked: value === true });
    } else if (kind === "int" || kind === "float") {
      input = h("input", { id, type: "number", step: kind === "int" ? "1" : "any",
        value: value ?? "", required: !parameter.has_default });
    } else if (kind === "str") {
      input = h("input", { id, type: "text", value: value ?? "", required: !parameter.has_default });
    } else {
      input = h("textarea", { id, rows: 2, "aria-describedby": `${id}-hint` },
        value === undefined ? "" : JSON.stringify(value));
    }
    inputs.push({ parameter, kind, input });
    const label = `${parameter.name}${parameter.annotation ? `: ${parameter.annotation}` : ""}` +
      (parameter.has_default ? "" : " (required)");
    controls.push(field(label, input));
    if (kind === "json") controls.push(h("p", { id: `${id}-hint`, class: "hint" }, "JSON value"));
  }
  const message = h("p", { class: "message" });
  const form = h("form", { id: "run-form", class: "card" }, h("h3", {}, "Run"),
    controls.length ? controls : h("p", {}, "No parameters."),
    h("button", { type: "submit", class: "primary", id: "run" }, "Run"), message);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const parameters = {};
    try {
      for (const { parameter, kind, input } of inputs) {
        if (kind === "bool") parameters[parameter.name] = input.checked;
        else if (input.value === "" && parameter.has_default) continue;
        else if (kind === "int") parameters[parameter.name] = parseInt(input.value, 10);
        else if (kind === "float") parameters[parameter.name] = parseFloat(input.value);
        else if (kind === "str") parameters[parameter.name] = input.value;
        else parameters[parameter.name] = JSON.parse(input.value);
      }
    } catch (error) {
      say(message, `a parameter is not valid JSON: ${error.message}`, "error");
      return;
    }
    onRun(parameters, message);
  });
  return form;
}

function execution(run, open = false) {
  const error = run.error;
  return h("details", { class: `execution status-${run.status}`, open, "data-id": run.id },
    h("summary", {}, badge(run.status, run.status), ` ${when(run.created_at)} · ${duration(run.duration_ms)}`),
    h("dl", {},
      h("dt", {}, "Parameters"), h("dd", {}, h("code", {}, JSON.stringify(run.parameters))),
      h("dt", {}, "Result"), h("dd", {}, h("pre", { class: "result" },
        run.result === null || run.result === undefined ? "–" : JSON.stringify(run.result, null, 2)))),
    run.logs ? [h("h4", {}, "Logs"), h("pre", { class: "logs" }, run.logs)] : null,
    error ? [h("h4", {}, `${error.type}: ${error.message}`),
      error.traceback ? h("pre", { class: "traceback" }, error.traceback) : null] : null);
}

export default {
  id: "workflows",
  title: "Workflows",
  mount(root, { argument }) {
    const list = h("ul", { class: "workflow-list", id: "workflow-list" });
    const detail = h("div", { id: "workflow-detail" });
    const message = h("p", { class: "message" });
    const unsubscribes = [];
    fill(root, h("h1", {}, "Workflows"), message,
      h("div", { class: "split" }, h("section", { class: "card", "aria-label": "All workflows" }, list),
        detail));

    async function show(workflow) {
      for (const link of list.querySelectorAll("a")) {
        if (link.dataset.id === workflow.id) link.setAttribute("aria-current", "true");
        else link.removeAttribute("aria-current");
      }
      const history = h("div", { id: "executions" });
      const loadHistory = async () => {
        try {
          const page = await getJson(`/api/executions?workflow_id=${encodeURIComponent(workflow.id)}&limit=10`);
          fill(history, page.items.length ? page.items.map((run, i) => execution(run, i === 0)) :
            h("p", {}, "Not run yet."));
        } catch (error) {
          fill(history, h("p", { class: "message error", role: "alert" }, error.message));
        }
      };
      const run = async (parameters, status) => {
        try {
          const started = await sendJson("POST", `/api/workflows/${encodeURIComponent(workflow.id)}/execute`,
            { parameters, wait: false });
          say(status, `${started.status === "pending" ? "running" : started.status}…`);
          status.dataset.execution = started.id;
          const finish = async () => {
            const done = await getJson(`/api/executions/${encodeURIComponent(started.id)}`);
            if (!FINISHED.has(done.status)) return false;
            say(status, `${done.status} in ${duration(done.duration_ms)}`,
              done.status === "success" ? "ok" : "error");
            await loadHistory();
            return true;
          };
          unsubscribes.push(await live.subscribe(`execution:${started.id}`, () => finish()));
          await finish(); // it may have finished before the subscription was made
        } catch (error) {
          say(status, error.message, "error");
        }
      };
      const parameters = workflow.parameters.length ? h("table", { class: "params" },
        h("caption", {}, "Parameters"),
        h("thead", {}, h("tr", {}, ["Name", "Type", "Default"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, workflow.parameters.map((p) => h("tr", {}, h("td", {}, p.name),
          h("td", {}, p.annotation || "–"),
          h("td", {}, p.has_default ? JSON.stringify(p.default) : "required"))))) : null;
      const actions = workflowActions.map((action) => action(workflow, { reload })).filter(Boolean);
      fill(detail, h("section", { class: "card", "aria-labelledby": "workflow-name" },
        h("h2", { id: "workflow-name" }, workflow.name),
        h("p", {}, h("code", {}, `${workflow.path}:${workflow.function_name}`), " ",
          badge(workflow.kind, "entity"),
          workflow.is_orphaned ? badge("orphaned", "orphaned") : null,
          workflow.is_active ? null : badge("inactive", "inactive")),
        workflow.description ? h("p", {}, workflow.description) : null,
        actions.length ? h("div", { class: "actions" }, actions) : null,
        parameters),
        runForm(workflow, run),
        h("section", { class: "card", "aria-label": "Last executions" }, h("h3", {}, "Last executions"), history));
      await loadHistory();
    }

    async function reload() {
      try {
        const workflows = await listAll("/api/workflows", { include_inactive: true });
        fill(list, workflows.length ? workflows.map((w) => h("li", {},
          h("a", { href: `#/workflows/${encodeURIComponent(w.id)}`, "data-id": w.id },
            w.name), " ", h("span", { class: "path" }, w.path),
          w.is_orphaned ? badge("orphaned", "orphaned") : null,
          w.is_active ? null : badge("inactive", "inactive"))) :
          h("li", {}, "No workflows: write a function decorated with @workflow in a .py file."));
        const chosen = workflows.find((w) => w.id === argument) || workflows[0];
        if (chosen) await show(chosen);
      } catch (error) {
        say(message, error.message, "error");
      }
    }

    reload();
    return () => unsubscribes.forEach((stop) => stop());
  },
};
