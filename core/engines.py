"""The warehouse engines by name: the one list that settings, the registry, the API, the
commands and the write paths read (bottom layer: settings may import it)."""

# Canonical SQL runs on each; their order is the order of choices and error messages.
ENGINE_NAMES = ("duckdb", "athena", "redshift", "postgres")
# The lake read in-process: the portal changes it file by file, never with SQL statements.
EMBEDDED_ENGINE = "duckdb"
# The warehouses the portal also writes to through a write session (DSAR erasure, retention,
# experiment results).
REMOTE_ENGINES = tuple(name for name in ENGINE_NAMES if name != EMBEDDED_ENGINE)
