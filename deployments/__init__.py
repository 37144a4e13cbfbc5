"""What triggers and runs nightshift's deployments, one subfolder per kind:

- api/         the Jobs API service (HTTP) and its dispatcher, which hands accepted jobs to Prefect
- worker/      the worker plumbing: the fork server and the launcher flow runs start through
- operations/  the operator commands: `nightshift` (bootstrap, worker, demo), automations, the watchdog,
               the embedded default's Prefect server
- demo/        the local all-in-one demo (local.sh, demo data and steps) and the publication corpus loader
"""
