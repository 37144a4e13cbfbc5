"""Operator commands: `nightshift` (cli.py), bootstrap, automations, the watchdog, the embedded Prefect server."""
