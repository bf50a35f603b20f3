"""`vbench run`: one load test from start to run directory."""
