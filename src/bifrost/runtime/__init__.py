"""Running user code: the import hook, the template process and the executor."""
