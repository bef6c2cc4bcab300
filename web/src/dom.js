// Building the page from data without HTML strings: every value the API returns goes in as text
// (textContent, attributes), so nothing it holds is ever parsed as markup.

/** h("button", {class: "x", onclick: fn, "aria-label": "..."}, "text", child, [more]) */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "text") {
      node.textContent = value;
    } else if (key in node && typeof value !== "string") {
      node[key] = value; // properties such as checked, value, disabled
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace a node's children. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A status line: role=status for progress, role=alert for a failure the user must see. */
export function say(node, text, kind = "info") {
  node.textContent = text;
  node.className = `message ${kind}`;
  node.setAttribute("role", kind === "error" ? "alert" : "status");
}

export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${kind}` }, text);
}

let ids = 0;
/** A unique id for label/input pairs. */
export function uid(prefix = "f") {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A labelled control: label + input (or any element), linked by id. */
export function field(label, control) {
  if (!control.id) control.id = uid();
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
}

/** Ask in place (no modal): a message and two buttons, the first focused. */
export function confirmInline(container, message, yesLabel, onYes) {
  const yes = h("button", { class: "danger", type: "button" }, yesLabel);
  const no = h("button", { type: "button" }, "Cancel");
  const box = h("div", { class: "confirm", role: "group", "aria-label": message },
    h("p", {}, message), yes, no);
  const done = () => box.remove();
  yes.addEventListener("click", async () => { done(); await onYes(); });
  no.addEventListener("click", done);
  container.append(box);
  yes.focus();
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}
