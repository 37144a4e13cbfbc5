"""What runs nightshift: bootstrap, the local all-in-one demo, and (later) the Jobs API service."""
