// Files: the workspace tree (entity type, git status), the editor, save with If-Match, new file,
// rename, delete. What the user typed stays in memory (drafts) until the server took it.
import { h, fill, say, badge, field, confirmInline } from "../dom.js";
import { request, listAll, filePath, ApiError } from "../api.js";
import { createEditor } from "../editor.js";

const drafts = new Map(); // path -> text not saved yet (kept across page changes in this tab)

function tree(files, open) {
  const rootFolder = { folders: new Map(), files: [] };
  for (const file of files) {
    const parts = file.path.split("/");
    let folder = rootFolder;
    for (const part of parts.slice(0, -1)) {
      if (!folder.folders.has(part)) folder.folders.set(part, { folders: new Map(), files: [] });
      folder = folder.folders.get(part);
    }
    folder.files.push({ name: parts.at(-1), file });
  }
  const render = (folder) => h("ul", { class: "tree" },
    [...folder.folders.entries()].sort().map(([name, sub]) =>
      h("li", {}, h("details", { open: true }, h("summary", {}, `${name}/`), render(sub)))),
    folder.files.sort((a, b) => a.name.localeCompare(b.name)).map(({ name, file }) =>
      h("li", {}, h("button", {
        type: "button", class: "file", "data-path": file.path, onclick: () => open(file.path),
      }, h("span", { class: "name" }, name), badge(file.entity_type, "entity"),
      badge(file.git_status), drafts.has(file.path) ? badge("unsaved", "unsaved") : null))));
  return render(rootFolder);
}

export default {
  id: "files",
  title: "Files",
  mount(root) {
    let files = [];
    let current = null; // {path, etag, saved, binary}
    const listing = h("div", { class: "file-tree", id: "file-tree" });
    const listMessage = h("p", { class: "message" });
    const pathLabel = h("h2", { id: "editor-path" }, "No file open");
    const fileMessage = h("p", { id: "file-message", class: "message" });
    const results = h("div", { id: "file-workflows" });
    const holder = h("div", { class: "editor", id: "editor" });
    const actions = h("div", { class: "actions", id: "file-actions" });
    const editorBox = h("section", { class: "card editor-card", "aria-labelledby": "editor-path" },
      pathLabel, fileMessage, actions, holder, results);
    const editor = createEditor(holder, {
      label: "File content",
      onSave: () => save(),
      onChange: (text) => {
        if (!current || current.binary) return;
        if (text === current.saved) drafts.delete(current.path);
        else drafts.set(current.path, text);
      },
    });

    const newPath = h("input", { id: "new-path", placeholder: "folder/name.py", required: true });
    const newForm = h("form", { id: "new-file", class: "inline" },
      field("New file", newPath), h("button", { type: "submit" }, "Create"));
    newForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const path = newPath.value.trim();
      if (!path) return;
      current = { path, etag: null, saved: "", binary: false, isNew: true };
      showCurrent("");
      newPath.value = "";
      editor.focus();
    });

    fill(root,
      h("h1", {}, "Files"),
      h("div", { class: "split" },
        h("section", { class: "card", "aria-label": "Workspace files" }, newForm, listMessage,
          listing),
        editorBox));

    async function refresh() {
      try {
        files = await listAll("/api/files", { limit: 500 });
        fill(listing, files.length ? tree(files, open) : h("p", {}, "The workspace is empty."));
        say(listMessage, `${files.length} files`);
      } catch (error) {
        say(listMessage, error.message, "error");
      }
    }

    async function open(path) {
      try {
        const response = await request("GET", filePath(path));
        const bytes = new Uint8Array(await response.arrayBuffer());
        let text = null;
        try {
          text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
        } catch {
          text = null;
        }
        current = { path, etag: response.headers.get("ETag"), saved: text ?? "", binary: text === null };
        showCurrent(drafts.get(path) ?? text ?? "");
        say(fileMessage, current.binary ? "binary file: not editable here" :
          drafts.has(path) ? "unsaved changes from before" : "");
        editor.focus();
      } catch (error) {
        say(fileMessage, error.message, "error");
      }
    }

    function showCurrent(text) {
      pathLabel.textContent = current.path;
      editor.load(current.path, text);
      results.replaceChildren();
      fill(actions,
        h("button", { type: "button", class: "primary", id: "save", onclick: save,
          disabled: current.binary }, "Save"),
        current.isNew ? null : h("button", { type: "button", id: "rename", onclick: rename },
          "Rename"),
        current.isNew ? null : h("button", { type: "button", id: "delete", class: "danger",
          onclick: remove }, "Delete"),
        h("span", { class: "hint" }, "Ctrl/Cmd+S saves; Ctrl/Cmd+F searches; Esc then Tab leaves the editor"));
    }

    async function save() {
      if (!current || current.binary) return;
      const text = editor.text;
      const headers = current.etag ? { "If-Match": current.etag } : { "If-None-Match": "*" };
      say(fileMessage, "saving…");
      try {
        const response = await request("PUT", filePath(current.path), {
          body: new TextEncoder().encode(text), headers: { ...headers,
            "Content-Type": "application/octet-stream" },
        });
        const written = await response.json();
        current = { path: current.path, etag: `"${written.file.content_hash}"`, saved: text,
          binary: false };
        if (editor.text === text) drafts.delete(current.path);
        showCurrent(editor.text);
        say(fileMessage, written.changed ? `saved (generation ${written.generation})` :
          "saved: no change", "ok");
        showWorkflows(written.workflows);
        await refresh();
      } catch (error) {
        drafts.set(current.path, editor.text); // nothing typed is lost
        const hint = error instanceof ApiError && error.status === 409 && current.etag ?
          " Your text is kept here; copy it, reopen the file to see the other change, and " +
          "merge." : "";
        say(fileMessage, `not saved: ${error.message.replace(/\.$/, "")}.${hint}`, "error");
      }
    }

    function showWorkflows(workflows) {
      fill(results, workflows.length ? [h("h3", {}, "Workflows in this file"),
        h("ul", {}, workflows.map((w) => h("li", {},
          h("a", { href: `#/workflows/${w.id}` }, `Run ${w.name}`))))] : null);
    }

    function rename() {
      const input = h("input", { id: "rename-path", value: current.path, required: true });
      const form = h("form", { class: "inline", id: "rename-form" }, field("New path", input),
        h("button", { type: "submit" }, "Rename"),
        h("button", { type: "button", onclick: () => form.remove() }, "Cancel"));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          const written = await request("POST", "/api/files/rename", {
            json: { old_path: current.path, new_path: input.value.trim() },
          }).then((r) => r.json());
          const draft = drafts.get(current.path);
          drafts.delete(current.path);
          if (draft !== undefined) drafts.set(written.file.path, draft);
          form.remove();
          await refresh();
          await open(written.file.path);
          say(fileMessage, `renamed to ${written.file.path}`, "ok");
        } catch (error) {
          say(fileMessage, `not renamed: ${error.message}`, "error");
        }
      });
      actions.append(form);
      input.focus();
    }

    function remove() {
      confirmInline(actions, `Delete ${current.path}?`, "Delete", async () => {
        try {
          await request("DELETE", filePath(current.path));
          drafts.delete(current.path);
          const gone = current.path;
          current = null;
          pathLabel.textContent = "No file open";
          actions.replaceChildren();
          editor.load("", "");
          say(fileMessage, `deleted ${gone}`, "ok");
          await refresh();
        } catch (error) {
          say(fileMessage, `not deleted: ${error.message}`, "error");
        }
      });
    }

    refresh();
  },
};
