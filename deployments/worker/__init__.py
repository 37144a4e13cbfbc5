"""Worker plumbing: `nightshift worker` (supervisor.py), the fork server and the launcher of flow runs."""
