"""After the load: histograms, per-second rows and counters become the run's summary."""
