"""nightshift's processes as Prefect flows; each is also a plain function for notebooks."""
