"""The listener daemon: LISTEN for new requests, claim them, run the model, write results, sweep leases.

`python -m listener --help` for the command line; `listener.daemon.Listener` owns the loop.
"""
