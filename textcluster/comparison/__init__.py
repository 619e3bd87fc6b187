"""What ``textcluster-compare`` does, by job: read the run folders (:mod:`~textcluster.comparison.runs`),
group and sort them into a table (:mod:`~textcluster.comparison.aggregate`) and write that table as markdown,
CSV and HTML (:mod:`~textcluster.comparison.render`). The command itself, its arguments and its files, is
:mod:`textcluster.compare`.

This ``__init__`` imports none of them: each imports its siblings through this package.
"""

PROG = "textcluster-compare"  # the command's name: in its messages and in the tables' titles
