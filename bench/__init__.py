"""`make bench`: latency and throughput of the whole stack, measured side by side in one run."""
