"""The benchmark: ``python bench/run.py`` (docs/benchmarks.md).

The harness lives here (run, report, targets, measure, probes, validate, workloads with randgraph, impls);
the implementations it times beside the compiled path in ``bench.references``; one-off measurements
behind the tuning decisions of docs/benchmarks.md in ``bench.studies``.
"""
