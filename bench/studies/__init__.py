"""One-off measurements, each run from the repository root as ``python -m bench.studies.NAME``; what they
found is in docs/benchmarks.md ("Tuning decisions") and the documents that cite them."""
