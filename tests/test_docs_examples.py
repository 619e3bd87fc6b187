"""The examples in docs/ run as a user would run them (on a small slice, so CI can afford them).

In this process rather than a new one: UMAP's compiled code and the loaded MiniLM, which other tests have
paid for already, are reused (a new process spends about 40 s on them again on two cores)."""

from __future__ import annotations

import runpy

from conftest import DATA_DIR, REPO_ROOT


def test_topics_in_python_walkthrough_runs(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TEXTCLUSTER_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("EXAMPLE_DOCUMENTS", "200")
    monkeypatch.setenv("EXAMPLE_OUTPUT", str(tmp_path))
    runpy.run_path(str(REPO_ROOT / "docs" / "examples" / "topics_in_python.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "topic_info() lists the topics" in out and "['split', 'merge', 'rename', 'update']" in out
    loaded_topics = out[out.rindex("Topics: ") :].splitlines()  # the last print: the loaded model's, largest first
    assert "the largest topic" in loaded_topics[1]  # it keeps the edited labels
    assert (tmp_path / "topics-in-python" / "manifest.json").is_file()
