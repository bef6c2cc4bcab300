"""GitHub sync: the fake GitHub, the client, the engine, the routes and the CLI."""
