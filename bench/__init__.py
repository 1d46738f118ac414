"""geomonitor benchmark (issue 7): the floor, the pipeline's marts, a pandas baseline, end to end.

Entry point: ``python -m bench.run`` (``make bench``); see bench/README.md.
"""
