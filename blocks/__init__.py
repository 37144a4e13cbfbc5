"""Every connection to the outside world, as Prefect blocks with a production and an embedded implementation."""
