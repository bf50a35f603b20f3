"""A second Veltrix engine, written from the contract alone, to test vbench against."""
