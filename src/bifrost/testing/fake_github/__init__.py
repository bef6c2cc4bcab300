"""A fake GitHub REST API over real git objects (dulwich), with GitHub's rules and answers, and a
control API for faults, races and a teammate's commits. Imports no other bifrost module."""
