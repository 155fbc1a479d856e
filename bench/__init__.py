"""``python -m bench`` (``make bench``): performance against reference engines.

Generates synthetic cohorts of 1,000, 10,000 and 100,000 patients with the demo generator
(cached under ``bench/data/``, git-ignored), measures in one run the paths a user waits
for, each against a reference engine where one exists, and prints a table of medians
with the ratio to the reference. Results go to ``bench/results/`` (JSON, git-ignored)
and a summary to ``docs/performance.md``.

Sections (``--only`` picks some):

- ``ingest``: ``analytics.io.load_canonical`` on the canonical CSV vs
  ``pyarrow.csv.read_csv`` of the same file (the parsing floor);
- ``derive``: ``derive_patient_outcomes`` (pcl5, default definition) vs the same
  derivation as one DuckDB SQL query over the same in-memory frame (:mod:`bench.reference`);
- ``overview``: what the Overview recomputes for a filter not seen before, warm;
- ``cli``: ``python -m analytics summary FILE --json`` as a process vs a DuckDB process
  computing the same figures from the same CSV;
- ``pages``: a full AppTest run of every page on a stored dataset, cold and warm, in a
  subprocess per size (which also gives that process's peak RSS);
- ``memory``: peak RSS of a process that loads the CSV and computes the Overview;
- ``upload``: ``analytics.ingest`` on a messy 100,000-patient export, stage by stage;
- ``models``: ``bench/bench_models.py`` when present (owned by the prediction work).

``bench/bench_models.py`` (the prediction work's) is called as ``run()`` with its own sizes
and models and returns a DataFrame (``patients``, ``model``, ``fit_s``, ``cv_s``,
``target_s``, ...) that becomes rows of the table. Tests never assert timings.
"""
