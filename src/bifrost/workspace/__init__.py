"""Pure rules about workspace content, with no I/O: paths, entities, requirements."""
