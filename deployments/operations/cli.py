"""The `nightshift` command: bootstrap a profile, load demo data, run the demo's extraction."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path


def _bootstrap(args: argparse.Namespace) -> int:
    from deployments.operations.bootstrap import bootstrap, prepare_embedder

    profile = bootstrap(args.profile, Path(args.home) if args.home else None, args.database_url, args.overwrite)
    print("bootstrapped: block types registered, profile ready, database migrated, work pools cpu and gpu")
    print(f"  database: {profile.database.engine().url.render_as_string(hide_password=True)}")
    if not args.no_model_export:
        print(f"  {prepare_embedder(profile, announce=lambda text: print(f'  {text}', flush=True))}")
    return 0


# Further demo steps: (heading, module with run_demo(profile_name, user_email) -> lines to print).
DEMO_STEPS = [
    ("Daily todo e-mail of the demo user (outbox):", "deployments.demo.emails"),
    ("PDF ingestion:", "deployments.demo.pdf"),
    ("Web page ingestion:", "deployments.demo.web"),
]


def _demo(args: argparse.Namespace) -> int:
    """Load the demo data, run the extract-todos deployment for it through the Prefect API, print todos."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL

    from blocks.prefect_calls import sync_result
    from blocks.profile import load_profile
    from deployments.demo.data import DEMO_EMAIL, load_demo_data
    from store.todos import scheduled_todos

    database = load_profile(args.profile).database
    execution_id = load_demo_data(database)
    print(f"demo data: task execution {execution_id} (user Ada Martin, a finished pitch-deck review)")
    print("running deployment extract-todos/extract-todos through the Prefect API…")
    run = sync_result(run_deployment(
        "extract-todos/extract-todos", parameters={"task_execution_id": execution_id}, timeout=args.timeout
    ), "run_deployment")
    print(f"flow run {run.name!r}: {run.state.name if run.state else 'unknown'}")
    with database.session() as session:
        rows = scheduled_todos(session, execution_id)
    print(f"\ntodos of execution {execution_id} ({len(rows)}):")
    for todo_id, description, day in rows:
        print(f"  #{todo_id}  due {day:%a %Y-%m-%d}  {description}")
    ui = PREFECT_API_URL.value().removesuffix("/api")
    print(f"\nPrefect UI: {ui}/runs/flow-run/{run.id}  (its Artifacts tab lists what was extracted)")
    ok = bool(run.state and run.state.is_completed())
    for title, module in DEMO_STEPS:
        print(f"\n{title}")
        try:
            lines = importlib.import_module(module).run_demo(args.profile, DEMO_EMAIL)
        except Exception as exc:  # noqa: BLE001 — one failing step is reported, the others still run
            ok = False
            lines = [f"  failed: {exc}"]
        print("\n".join(lines))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("nightshift").setLevel(logging.INFO)
    parser = argparse.ArgumentParser(prog="nightshift", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    boot = commands.add_parser("bootstrap", help="register block types, create a profile's blocks and work pools")
    boot.add_argument("--profile", help="profile name (default: NIGHTSHIFT_PROFILE or 'local')")
    boot.add_argument("--home", help="data folder of the embedded default (default: NIGHTSHIFT_HOME)")
    boot.add_argument("--database-url", help="use this database instead of the embedded SQLite file")
    boot.add_argument("--overwrite", action="store_true",
                      help="replace existing block documents and reset the pools' job templates")
    boot.add_argument("--no-model-export", action="store_true",
                      help="skip the embedding model's ONNX export (the first run that embeds makes it then)")
    boot.set_defaults(handler=_bootstrap)

    demo = commands.add_parser("demo", help="load demo data and run extract-todos on it through the API")
    demo.add_argument("--profile", help="profile name (default: NIGHTSHIFT_PROFILE or 'local')")
    demo.add_argument("--timeout", type=float, default=300, help="seconds to wait for the run")
    demo.set_defaults(handler=_demo)

    worker = commands.add_parser(
        "worker", help="start a Prefect process worker whose flow runs fork from a preloaded process",
        description="Arguments after the options go to `prefect worker start` (e.g. --name, --limit).",
    )
    worker.add_argument("--pool", default="cpu", help="work pool (default: cpu)")
    worker.add_argument("--no-fork-server", action="store_true",
                        help="start each flow run in a new interpreter (Prefect's default)")
    worker.add_argument("--fork-server-timeout", type=float, default=60, help="seconds to wait for the preload")
    worker.add_argument("--stop-timeout", type=float, default=10,
                        help="seconds the Prefect worker gets to stop after SIGTERM before it is killed (default: 10)")

    args, extra = parser.parse_known_args(argv)
    if args.command == "worker":
        from deployments.worker.supervisor import run_worker

        return run_worker(args, extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.handler(args)
    finally:
        from deployments.worker.forkserver import deliver_events

        deliver_events()  # the events of the blocks it loaded, sent now rather than during exit


if __name__ == "__main__":
    sys.exit(main())
