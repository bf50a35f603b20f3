"""Typed data that crosses a stage boundary (msgspec Structs: decoded and validated in one step)."""
