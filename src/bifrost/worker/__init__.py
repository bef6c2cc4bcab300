"""Getting executions to the executor: the queue, the job handler and the worker process."""
