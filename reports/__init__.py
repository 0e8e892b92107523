"""Report builders over a run directory and its annotation store: the report's tables with the
statistics they lacked, a static HTML leaderboard, and CSV / JSON / Markdown / LaTeX files.

Builders are pure functions from DataFrames to DataFrames:

- `pairwise`: Table 2 (a focal model's W-T-L per dimension and domain), per-item resolution,
  exclusions, consistency check; `statistics`: win rates, Wilson and bootstrap intervals, sign
  test, agreement, gold accuracy, position bias (all computed by `stepeval.stats`);
- `leaderboard`: Bradley-Terry with bootstrap intervals, Elo view, pair matrices;
- `vbench_table`: Table 3 (VBench-I2V), motion-score sweep, requested-vs-measured motion;
- `breakdowns`: by domain, aspect and taxonomy category (`taxonomy`: schema + label files);
- `auto_judgments`: metric-derived judgments, labelled ``auto``, never mixed with human ones;
- `gallery`: every item's videos side by side (data, page), `media`: previews made for the report
  (cached, in worker processes), `links`: every number linked to the videos behind it.

`build_report(run_dir, out_dir)` reads a run and writes the whole report; `stepeval report` is
its command line.
"""

from reports.build import FORMATS, Report, ReportOptions, ReportPaths, assemble_report, build_report, write_report
from reports.inputs import ReportInputs, load_inputs

__all__ = ["FORMATS", "Report", "ReportInputs", "ReportOptions", "ReportPaths", "assemble_report", "build_report",
           "load_inputs", "write_report"]
