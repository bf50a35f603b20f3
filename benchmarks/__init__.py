"""The scripts behind vbench's figures: `python -m benchmarks.<script>` from the repo root."""
