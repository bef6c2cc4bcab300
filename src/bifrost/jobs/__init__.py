"""Background jobs: durable records, progress events on ``job:<id>``, run by the scheduler role."""
