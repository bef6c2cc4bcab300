// Forms: each form file's definition rendered as labelled controls; submitting runs its workflow
// (POST /api/forms/{id}/submit, answered like execute) and shows the execution, or the server's
// refusal (a 422 naming the field) next to the form.
import { h, fill, say, badge, field, duration } from "../dom.js";
import { listAll, sendJson } from "../api.js";

/** Options as [{label, value}]: a list of scalars or of {label, value}; null for a data provider. */
function optionsOf(spec) {
  if (!Array.isArray(spec.options)) return null;
  return spec.options.map((o) => (o !== null && typeof o === "object" ? o :
    { label: String(o), value: o }));
}

/** One control for a field, and how to read its answer (undefined: not answered). */
function control(spec) {
  const id = `form-field-${spec.name}`;
  const label = `${spec.label || spec.name}${spec.required ? " (required)" : ""}`;
  const initial = spec.default ?? undefined;
  const options = optionsOf(spec);
  const text = (type, extra = {}) => {
    const input = h("input", { id, name: spec.name, type, required: spec.required,
      value: initial === undefined ? "" : String(initial), ...extra });
    return { node: field(label, input), read: () => (input.value === "" ? undefined : input.value),
      input };
  };
  switch (spec.type) {
    case "textarea": {
      const input = h("textarea", { id, name: spec.name, rows: 3, required: spec.required },
        initial === undefined ? "" : String(initial));
      return { node: field(label, input), read: () => (input.value === "" ? undefined : input.value) };
    }
    case "email": return text("email");
    case "date": return text("date");
    case "datetime": return text("datetime-local", { step: "1" });
    case "number": case "integer": {
      const made = text("number", { step: spec.type === "integer" ? "1" : "any" });
      const parse = spec.type === "integer" ? (v) => parseInt(v, 10) : parseFloat;
      return { node: made.node, read: () => (made.input.value === "" ? undefined : parse(made.input.value)) };
    }
    case "boolean": {
      const input = h("input", { id, name: spec.name, type: "checkbox", checked: initial === true });
      return { node: h("div", { class: "field check" }, input, h("label", { for: id }, label)),
        read: () => input.checked };
    }
    case "select": {
      if (!options) return text("text"); // a data provider's choices: typed in
      const select = h("select", { id, name: spec.name, required: spec.required },
        h("option", { value: "" }, "—"),
        options.map((o, i) => h("option", { value: String(i), selected: o.value === initial }, o.label)));
      return { node: field(label, select),
        read: () => (select.value === "" ? undefined : options[Number(select.value)].value) };
    }
    case "multiselect": {
      if (!options) {
        const made = text("text", { "aria-describedby": `${id}-hint` });
        return { node: h("div", {}, made.node, h("p", { id: `${id}-hint`, class: "hint" }, "Comma-separated")),
          read: () => (made.input.value === "" ? undefined :
            made.input.value.split(",").map((v) => v.trim()).filter(Boolean)) };
      }
      const chosen = Array.isArray(initial) ? initial : [];
      const boxes = options.map((o, i) => h("input", { type: "checkbox", id: `${id}-${i}`,
        checked: chosen.includes(o.value) }));
      return { node: h("fieldset", { class: "field", id },
        h("legend", {}, label),
        options.map((o, i) => h("div", { class: "check" }, boxes[i], h("label", { for: `${id}-${i}` }, o.label)))),
      read: () => options.filter((o, i) => boxes[i].checked).map((o) => o.value) };
    }
    default: return text("text");
  }
}

function outcome(run) {
  const error = run.error;
  return h("section", { class: `card execution status-${run.status}`, id: "form-result",
    "aria-label": "Result" },
  h("h3", {}, "Result ", badge(run.status, run.status), ` · ${duration(run.duration_ms)}`),
  h("pre", { class: "result" },
    run.result === null || run.result === undefined ? "–" : JSON.stringify(run.result, null, 2)),
  run.logs ? [h("h4", {}, "Logs"), h("pre", { class: "logs" }, run.logs)] : null,
  error ? [h("h4", {}, `${error.type}: ${error.message}`),
    error.traceback ? h("pre", { class: "traceback" }, error.traceback) : null] : null);
}

function formView(form) {
  const flags = [form.invalid ? badge("invalid", "bad") : null,
    form.broken_refs.length ? badge("broken references", "bad") : null];
  const head = [h("h2", { id: "form-title" }, form.definition?.title || form.name, " ", flags),
    h("p", {}, h("code", {}, form.path)),
    form.invalid ? h("p", { class: "message error" }, `Invalid: ${form.invalid}`) : null,
    form.broken_refs.length ? h("p", { class: "message error" },
      `Names no workflow: ${form.broken_refs.join(", ")}`) : null];
  if (!form.definition) return h("section", { class: "card", "aria-labelledby": "form-title" }, head);
  const definition = form.definition;
  const controls = definition.fields.map((spec) => ({ spec, ...control(spec) }));
  const message = h("p", { class: "message", id: "form-message" });
  const result = h("div", { id: "form-outcome" });
  const submit = h("button", { type: "submit", class: "primary", id: "form-submit" }, "Submit");
  const body = h("form", { id: "entity-form", "aria-labelledby": "form-title" },
    definition.description ? h("p", {}, definition.description) : null,
    controls.map((c) => c.node), submit, message);
  body.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = {};
    for (const c of controls) {
      const value = c.read();
      if (value !== undefined && !(typeof value === "number" && Number.isNaN(value))) fields[c.spec.name] = value;
    }
    submit.disabled = true;
    say(message, "running…");
    try {
      const run = await sendJson("POST", `/api/forms/${encodeURIComponent(form.id)}/submit`, { fields });
      say(message, `${run.status}`, run.status === "success" ? "ok" : "error");
      fill(result, outcome(run));
    } catch (error) {
      say(message, error.message, "error"); // the server's detail: which field, what to fix
      fill(result);
    } finally {
      submit.disabled = false;
    }
  });
  return [h("section", { class: "card", "aria-labelledby": "form-title" }, head,
    h("p", { class: "hint" }, `Runs ${definition.workflow}`), body), result];
}

export default {
  id: "forms",
  title: "Forms",
  mount(root, { argument }) {
    const list = h("ul", { class: "rows", id: "form-list" });
    const detail = h("div", { id: "form-detail" });
    const message = h("p", { class: "message" });
    fill(root, h("h1", {}, "Forms"), message,
      h("div", { class: "split" }, h("section", { class: "card", "aria-label": "All forms" }, list), detail));
    (async () => {
      try {
        const forms = await listAll("/api/forms");
        fill(list, forms.length ? forms.map((f) => h("li", {},
          h("a", { href: `#/forms/${encodeURIComponent(f.id)}`, "data-id": f.id,
            "aria-current": f.id === argument ? "true" : null }, f.definition?.title || f.name),
          h("span", { class: "path" }, f.path),
          f.invalid ? badge("invalid", "bad") : null,
          f.broken_refs.length ? badge("broken references", "bad") : null)) :
          h("li", {}, "No forms: write forms/<name>.form.json, or POST /api/forms."));
        const chosen = forms.find((f) => f.id === argument) || forms[0];
        if (chosen) fill(detail, formView(chosen));
      } catch (error) {
        say(message, error.message, "error");
      }
    })();
  },
};
