// Extra actions on a workflow's detail, each (workflow, ctx) -> Node | null, rendered in the
// order listed; ctx.reload(id) reloads the page showing that workflow. The orphan dialog
// (recreate, deactivate, compatible replacements) and what uses the workflow plug in here.
import { orphanDialog, activate, usedBy } from "./orphans.js";

export const workflowActions = [orphanDialog, activate, usedBy];
