"""GitHub sync through the REST API alone: client, configuration, the three-way plan, pull, push."""
