"""The local all-in-one demo (`make demo` runs local.sh), its data and steps, and the publication corpus loader."""
