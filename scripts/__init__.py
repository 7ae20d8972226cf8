"""`make run` (run_stack.py) and the process launcher it shares with `make bench` and the tests
(processes.py)."""
