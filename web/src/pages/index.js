// The pages of the app, in menu order. A page is a module whose default export is
// { id, title, mount(root, ctx) -> optional unmount() }; adding one (Forms, say) is a new module
// here and one line in this list.
import files from "./files.js";
import workflows from "./workflows.js";
import packages from "./packages.js";
import sourceControl from "./source-control.js";
import health from "./health.js";

export const pages = [files, workflows, packages, sourceControl, health];
