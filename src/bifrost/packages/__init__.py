"""User-installed Python packages, persisted as the workspace's requirements.txt."""
