"""Great Expectations suites as code, the validation gate and quarantine."""
