"""Topics over time and per group: time bins, the tables (counts, shares, per-bin keywords), the loader's checks,
and a run that leaves topics_over_time.csv, topics_per_group.csv and their charts.

None of the shared data sets has dates, so the tests give 20 Newsgroups test posts synthetic ones (see
:func:`dated_posts`): every class spread evenly over 2021 but one, which only appears from July on.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from conftest import compose_small, read_json, run_textcluster
from textcluster.data import load_dataset
from textcluster.dataset import Dataset, parse_times
from textcluster.errors import UserError
from textcluster.experiment import run_experiment
from textcluster.topics.model import TopicModeler
from textcluster.topics.over_time import choose_frequency, time_bins, topics_over_time, topics_per_group

POSTS_PER_CLASS = 100
EVEN = ["comp.graphics", "rec.sport.hockey", "sci.space"]  # spread over the whole year
LATE = "talk.politics.mideast"  # only from July on
YEAR = 2021
# words (teams, players, the game's own) that name one sport of rec.sport.baseball / rec.sport.hockey
BASEBALL = {"baseball", "pitcher", "pitching", "runs", "umpire", "jays", "mets", "braves", "morris", "gant"}
HOCKEY = {"hockey", "goalie", "nhl", "puck", "buffalo", "sabres", "bruins", "penguins", "wings", "leafs"}


def dated_posts(
    newsgroups: pd.DataFrame, classes: list[str], late: set[str], early: frozenset[str] = frozenset(), seed: int = 0
) -> pd.DataFrame:
    """The first POSTS_PER_CLASS test posts of each class, each given a synthetic date and source.

    Dates: each post of a class in ``late`` gets a month drawn uniformly from July to December of YEAR, of a
    class in ``early`` one from January to June, of every other class one from January to December, and
    each post a day drawn uniformly from 1 to 28 of its month (seeded), so
    a late class's share is 0 in the first half of the year and about ``100 / (150 + 100) = 0.4`` in the
    second (with four classes of 100, three of them even). Source (the group column): the first class of
    ``classes`` all "mail", the second all "forum", the others alternate post by post, so the first two
    classes each sit in one group only.
    """
    rng = np.random.default_rng(seed)
    frame = pd.concat([newsgroups[newsgroups.label == c].head(POSTS_PER_CLASS) for c in classes], ignore_index=True)
    is_late, is_early = frame.label.isin(late).to_numpy(), frame.label.isin(early).to_numpy()
    month = np.select([is_late, is_early], [rng.integers(7, 13, len(frame)), rng.integers(1, 7, len(frame))])
    month = np.where(is_late | is_early, month, rng.integers(1, 13, len(frame)))
    frame["date"] = pd.to_datetime({"year": YEAR, "month": month, "day": rng.integers(1, 29, len(frame))})
    alternate = np.where(np.arange(len(frame)) % 2 == 0, "mail", "forum")
    fixed = {classes[0]: "mail", classes[1]: "forum"}
    frame["source"] = [fixed.get(label, other) for label, other in zip(frame.label, alternate)]
    return frame


@pytest.fixture(scope="module")
def newsgroups(data_file) -> pd.DataFrame:
    return pd.read_csv(data_file("20newsgroups", "test.csv"))


# ------------------------------------------------------------------------------------- time bins


@pytest.mark.parametrize(
    "days, frequency, n_bins",
    [(5, "D", 5), (40, "D", 40), (60, "W", 9), (400, "M", 14), (1200, "Q", 14), (4000, "Y", 11)],
)
def test_auto_bins_pick_the_calendar_unit_nearest_10_to_30_bins(days, frequency, n_bins):
    times = pd.Series(pd.date_range("2020-01-01", periods=days, freq="D"))
    assert choose_frequency(times) == frequency
    bins = time_bins(times)
    assert len(bins.categories) == n_bins and bins.codes.min() == 0 and bins.codes.max() == n_bins - 1


def test_explicit_bins_name_calendar_units_and_equal_slices():
    times = ["2020-01-05", None, "2020-03-01", "2020-02-29", ""]
    weeks = time_bins(times, "W")
    assert weeks.categories[0] == "2019-12-30" and len(weeks.categories) == 9  # weeks named by their Monday
    assert list(weeks.codes) == [0, -1, 8, 8, -1]  # no time: no bin
    assert list(time_bins(times, "Q").categories) == ["2020Q1"]
    thirds = time_bins(times, 3)
    assert list(thirds.codes) == [0, -1, 2, 2, -1]  # the span cut in three, the last time in the last third
    assert thirds.categories[0] == "2020-01-05 00:00:00" and len(thirds.categories) == 3
    assert list(time_bins(["2020-01-05"] * 2, 3).codes) == [0, 0]  # one moment: one bin


def test_times_parse_from_text_numbers_and_datetimes():
    parsed = parse_times(["2021-03-15", "03/16/2021 10:00", "2021-03-15T10:00+02:00", ""], "t")
    assert list(pd.DatetimeIndex(parsed).strftime("%Y-%m-%d %H:%M")[:3]) == [
        "2021-03-15 00:00",
        "2021-03-16 10:00",
        "2021-03-15 08:00",  # offsets become UTC
    ]
    assert np.isnat(parsed[3])
    assert str(parse_times([2019, 2020], "t")[1])[:10] == "2020-01-01"  # whole numbers in 1000-2999: years
    assert str(parse_times([20210315], "t")[0])[:10] == "2021-03-15"
    assert str(parse_times([1.6e9], "t")[0])[:10] == "2020-09-13"  # other numbers: Unix seconds
    with pytest.raises(UserError, match=r"^t: cannot read 'yesterday' \(row 1\) as a date; fix that value"):
        parse_times(["2021-01-01", "yesterday"], "t")


# ------------------------------------------------------------------------------------- the dataset and loader


def test_times_and_groups_follow_the_rows_they_belong_to():
    dataset = Dataset(
        name="d",
        texts=["a", " ", "c", "d"],
        times=parse_times(["2021-01-01", "2021-01-02", "2021-01-03", "2021-01-04"], "t"),
        groups=np.array(["x", "y", "z", "w"], dtype=object),
    )
    kept = dataset.drop_empty_texts()
    assert list(kept.groups) == ["x", "z", "w"] and str(kept.times[1])[:10] == "2021-01-03"
    sample = kept.subsample(2, seed=0)
    assert [kept.groups.tolist().index(g) for g in sample.groups] == [kept.ids.tolist().index(i) for i in sample.ids]
    with pytest.raises(UserError, match="d: 3 groups for 4 items"):
        Dataset(name="d", texts=["a", "b", "c", "d"], groups=np.array(["x", "y", "z"]))


def write_table(tmp_path, frame: pd.DataFrame, suffix: str = ".csv"):
    path = tmp_path / f"docs{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, date_format="iso")
    else:
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_the_table_loader_reads_times_and_groups(tmp_path, suffix):
    frame = pd.DataFrame(
        {
            "text": ["alpha", "beta", "gamma"],
            "when": pd.to_datetime(["2021-01-05", "2021-02-01", "2021-03-09"]),
            "who": ["x", "y", "x"],
        }
    )
    config = {"name": "csv", "path": str(write_table(tmp_path, frame, suffix)), "time_column": "when"}
    dataset = load_dataset({**config, "group_column": "who"})
    assert list(pd.DatetimeIndex(dataset.times).strftime("%Y-%m-%d")) == ["2021-01-05", "2021-02-01", "2021-03-09"]
    assert list(dataset.groups) == ["x", "y", "x"]


def test_bad_time_and_group_settings_fail_with_one_line_naming_the_fix(tmp_path):
    path = write_table(tmp_path, pd.DataFrame({"text": ["a", "b"], "date": ["2021-01-01", "13th of Nevuary"]}))
    csv = {"name": "csv", "path": str(path)}
    with pytest.raises(UserError, match=r"no column 'when' for time; columns found: text, date\. Set data\.time_col"):
        load_dataset({**csv, "time_column": "when"})
    with pytest.raises(UserError, match=r"no column 'team' for group; columns found: text, date\. Set data\.group_c"):
        load_dataset({**csv, "group_column": "team"})
    with pytest.raises(UserError, match=r"^data.time_column='date': cannot read '13th of Nevuary' \(row 1\) as a da"):
        load_dataset({**csv, "time_column": "date"})
    with pytest.raises(UserError, match=r"^data.time_bins=M needs data.time_column=<the column of dates>$"):
        load_dataset({**csv, "time_bins": "M"})
    for bad in ("'month'", "1"):  # refused with the rest of the config, before any data loads (no such file)
        with pytest.raises(UserError, match=rf"^data.time_bins={bad} is not valid: it must be one of 'auto', 'D', "):
            run_experiment(compose_small("data=csv", "data.path=/nonexistent", f"data.time_bins={bad}"), tmp_path)


# ------------------------------------------------------------------------------------- the tables


@pytest.fixture(scope="module")
def sports_topics(newsgroups):
    """Topics fitted on known clusters: baseball and hockey posts together as cluster 0 (baseball in January to
    June, hockey in July to December), sci.space 1 and sci.med 2 (all year); embeddings only pick
    representative documents, so random ones do."""
    rng = np.random.default_rng(1)
    classes = {"rec.sport.baseball": 0, "rec.sport.hockey": 0, "sci.space": 1, "sci.med": 2}
    frame = dated_posts(newsgroups, list(classes), late={"rec.sport.hockey"}, early={"rec.sport.baseball"})
    topics = TopicModeler().fit(frame.text.tolist(), frame.label.map(classes).to_numpy(), rng.normal(size=(400, 4)))
    return topics, frame


def test_one_bin_gives_each_topic_its_own_keywords(sports_topics):
    topics, frame = sports_topics
    table = topics_over_time(topics, topics.labels, ["2021-06-01"] * len(frame), top_n=10)
    assert len(table) == 3 and table["count"].tolist() == [200, 100, 100]
    assert table["share"].tolist() == [0.5, 0.25, 0.25]
    for row, topic in zip(table.itertuples(), topics.topics):  # per-bin c-TF-IDF with the global IDF
        assert row.keywords.split(", ") == topic.keywords and row.label == topic.label


def test_keywords_per_quarter_follow_the_documents_of_that_quarter(sports_topics):
    topics, frame = sports_topics
    table = topics_over_time(topics, topics.labels, frame.date, bins="Q", top_n=10)
    assert table["bin"].unique().tolist() == ["2021Q1", "2021Q2", "2021Q3", "2021Q4"]
    assert table.groupby("topic")["count"].sum().tolist() == [200, 100, 100]
    assert np.allclose(table.groupby("bin")["share"].sum(), 1.0)
    sports = table[table.topic == 0].set_index("bin")["keywords"].str.split(", ").map(set)
    assert not HOCKEY & set(topics.topics[0].keywords)  # the merged topic's own keywords hide hockey ...
    for quarter in ("2021Q1", "2021Q2"):  # ... which only its late posts are about
        assert sports[quarter] & BASEBALL and not sports[quarter] & HOCKEY, sports[quarter]
    for quarter in ("2021Q3", "2021Q4"):
        assert sports[quarter] & HOCKEY and not sports[quarter] & BASEBALL, sports[quarter]
    weekly = topics_over_time(topics, topics.labels, frame.date, bins="W")  # 53 weeks x 3 topics: over 127 pairs
    assert weekly["bin"].nunique() == 53 and weekly.groupby("topic")["count"].sum().tolist() == [200, 100, 100]
    space = table[table.topic == 1].set_index("bin")["keywords"].str.split(", ")
    assert all("space" in space[quarter] for quarter in space.index)  # an even topic keeps its main word


def test_shares_per_group_follow_the_uneven_split(sports_topics):
    topics, frame = sports_topics  # source: baseball all "mail", hockey all "forum", space and med alternate
    table = topics_per_group(topics, topics.labels, frame.source.to_numpy(), top_n=10)
    shares = table.pivot(index="group", columns="topic", values="share")
    counts = table.pivot(index="group", columns="topic", values="count")
    assert counts.loc["mail"].tolist() == [100, 50, 50] and counts.loc["forum"].tolist() == [100, 50, 50]
    assert shares.loc["mail", 0] == 0.5
    sports = table[table.topic == 0].set_index("group")["keywords"].str.split(", ").map(set)
    assert sports["mail"] & BASEBALL and not sports["mail"] & HOCKEY  # mail holds the baseball posts
    assert sports["forum"] & HOCKEY and not sports["forum"] & BASEBALL  # forum the hockey ones
    uneven = frame.source.where(frame.label != "sci.med", "clinic").to_numpy()  # every med post in its own group
    per_clinic = topics_per_group(topics, topics.labels, uneven).set_index(["group", "topic"])["share"]
    assert per_clinic[("clinic", 2)] == 1.0 and per_clinic[("mail", 2)] == 0.0 and per_clinic[("forum", 2)] == 0.0
    assert per_clinic[("mail", 0)] == pytest.approx(100 / 150)  # 100 baseball and 50 space posts


def test_labels_that_do_not_fit_the_topics_are_refused(sports_topics):
    topics, frame = sports_topics
    with pytest.raises(UserError, match="fitted on 400 documents but got 399 labels and 400 times"):
        topics_over_time(topics, topics.labels[:-1], frame.date)
    with pytest.raises(UserError, match=r"labels hold \[7\], which are no topic ids"):
        topics_per_group(topics, np.full(400, 7), frame.source)
    loaded = dataclasses.replace(topics, doc_term=None)  # as a model loaded from a folder: no corpus
    with pytest.raises(UserError, match=r"these topics carry no document-term counts \(a model loaded from a"):
        topics_over_time(loaded, topics.labels, frame.date)


# ------------------------------------------------------------------------------------- a run


def test_a_run_with_dates_and_sources_writes_the_tables_and_charts(newsgroups, tmp_path):
    """A late class's topic: share 0 in January to June, about 0.4 from July on (see dated_posts)."""
    frame = dated_posts(newsgroups, [*EVEN, LATE], late={LATE})
    frame["date"] = frame.date.dt.strftime("%Y-%m-%d")  # dates as text, as in most files
    path = tmp_path / "dated.csv"
    frame.to_csv(path, index=False)
    cfg = compose_small(
        "data=csv",
        f"data.path={path}",
        "data.label_column=label",
        "data.time_column=date",
        "data.group_column=source",
        "encoder=raw",
        "reducer=pca",
        "reducer.n_components=20",
        "clusterer.n_clusters=4",
    )
    run_dir = tmp_path / "run"
    run_experiment(cfg, run_dir)
    assert read_json(run_dir / "status.json")["status"] == "completed"
    over_time = pd.read_csv(run_dir / "topics_over_time.csv", keep_default_na=False)
    per_group = pd.read_csv(run_dir / "topics_per_group.csv", keep_default_na=False)
    assert over_time.columns.tolist() == ["bin", "topic", "label", "count", "share", "keywords"]
    assert per_group.columns.tolist() == ["group", "topic", "label", "count", "share", "keywords"]
    assert over_time["bin"].unique().tolist() == [f"{YEAR}-{month:02d}" for month in range(1, 13)]  # auto: months

    # the tables count the run's own assignments by month and by source (k-means on these raw counts lands in
    # another optimum on another CPU's float sums, so the clusters themselves are not what is checked here)
    assignments = pd.read_csv(run_dir / "assignments.csv", keep_default_na=False)
    assignments["bin"], assignments["source"] = frame.date.str[:7].to_numpy(), frame.source.to_numpy()
    for table, column in ((over_time, "bin"), (per_group, "source")):
        expected = assignments.groupby([column, "cluster"]).size()
        counted = table.set_index([table.columns[0], "topic"])["count"]
        assert counted[counted > 0].sort_index().to_dict() == expected.sort_index().to_dict()
        shares = table.set_index([table.columns[0], "topic"])["share"]
        np.testing.assert_allclose(shares, counted / counted.groupby(level=0).transform("sum"), atol=1e-6)
    late_topic = assignments[assignments.label == LATE].cluster.mode()[0]  # the late posts' topic gains from July
    late = over_time[over_time.topic == late_topic].set_index("bin")["share"]
    assert late.iloc[6:].mean() > late.iloc[:6].mean() + 0.1, late.to_dict()
    report = (run_dir / "report.html").read_text()
    assert 'id="topics_over_time"' in report and 'id="topics_per_group"' in report
    assert (run_dir / "plots" / "topics_over_time.png").stat().st_size > 10_000


def test_the_command_refuses_a_date_it_cannot_read_in_one_line(tmp_path):
    frame = pd.DataFrame({"text": ["apple pear", "stock bond", "plum fruit"], "posted": ["2021-01-01", "soon", ""]})
    path = write_table(tmp_path, frame)
    run_dir = tmp_path / "run"
    args = ("data=csv", f"data.path={path}", "data.time_column=posted", "encoder=raw", "reducer=none")
    result = run_textcluster(*args, "clusterer.n_clusters=2", run_dir=run_dir, threads=1)
    errors = [line for line in result.stderr.splitlines() if line.startswith("textcluster: error: ")]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert errors == [
        "textcluster: error: data.time_column='posted': cannot read 'soon' (row 1) as a date; "
        "fix that value, or write the column as dates such as 2021-03-15"
    ], result.stderr
