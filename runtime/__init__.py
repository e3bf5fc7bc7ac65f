"""The service runtime: the composition root (build.py), the background jobs (jobs.py) and the served process
(serve.py). It sits above api/: it builds the Service the adapters serve, then runs them."""
