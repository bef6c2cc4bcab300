// Extra actions on a workflow's detail, each (workflow, ctx) -> Node | null, rendered in the
// order listed. The orphan dialog (issue 9: recreate, deactivate, compatible replacements)
// plugs in here: a module exporting such a function for workflows with is_orphaned, appended to
// this list.
export const workflowActions = [];
