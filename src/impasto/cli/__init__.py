"""The `impasto` command: one module per command (stylize, serve, info, layers), the dry run, the
option table, the running of a job, errors and exit codes. May import api, config, io, runtime and
metrics; web only inside serve."""
