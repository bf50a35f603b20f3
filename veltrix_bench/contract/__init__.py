"""The engine contract: the OpenAPI document vbench's traffic relies on, and checks against it."""
