// The code editor: CodeMirror 6 with line numbers, search (Ctrl/Cmd+F), Python highlighting for
// .py files, and Ctrl/Cmd+S bound to the caller's save.
import { basicSetup } from "codemirror";
import { EditorView, keymap } from "@codemirror/view";
import { EditorState, Compartment } from "@codemirror/state";
import { indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";

export function createEditor(parent, { onSave, onChange, label }) {
  const language = new Compartment();
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: "",
      extensions: [
        keymap.of([
          { key: "Mod-s", preventDefault: true, run: () => (onSave(), true) },
          indentWithTab,
        ]),
        basicSetup,
        language.of([]),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) onChange(update.state.doc.toString());
        }),
        EditorView.contentAttributes.of({ "aria-label": label }),
      ],
    }),
  });
  return {
    view,
    /** Show ``text`` for ``path`` (Python highlighting when it ends in .py). */
    load(path, text) {
      view.dispatch({
        changes: { from: 0, to: view.state.doc.length, insert: text },
        effects: language.reconfigure(path.endsWith(".py") ? python() : []),
        selection: { anchor: 0 },
      });
    },
    get text() {
      return view.state.doc.toString();
    },
    focus() {
      view.focus();
    },
  };
}
