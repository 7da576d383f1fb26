"""One module per row of the issue's table; each has `run(quick, workdir) -> {"rows": [...]}`."""
