"""Topics: c-TF-IDF keywords, representative documents, reduction, topic metrics and the noise policy."""

from __future__ import annotations

import csv
import logging
from math import log

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from conftest import compose_small, log_every_update, read_json, run_textcluster
from textcluster import registry
from textcluster.contracts import SkipEvaluation
from textcluster.errors import UserError
from textcluster.evaluation import evaluate
from textcluster.experiment import run_experiment
from textcluster.labels import cluster_centres
from textcluster.noise import to_nearest_centre
from textcluster.results import EvaluationInput
from textcluster.topics import TopicModeler, ctfidf
from textcluster.topics.coherence import pair_npmi, topic_diversity, topic_npmi
from textcluster.topics.ctfidf import c_tf_idf, evenly_spread_terms, fit_document_terms, shared_terms
from textcluster.topics.settings import VECTORIZER_DEFAULTS

# Three clusters of three documents. Word counts per cluster (9 words each, so A = 27 / 3 = 9):
#   c0: rocket 3, orbit 2, launch 2, news 2       c1: hockey 3, team 3, goal 1, season 1, news 1
#   c2: god 3, church 2, bible 1, faith 1, prayer 1, news 1
# Totals over all clusters f: news 4; rocket, hockey, team, god 3; orbit, launch, church 2; the rest 1.
CORPUS = [
    "rocket orbit news",
    "rocket launch news",
    "rocket orbit launch",
    "hockey team news",
    "hockey goal team",
    "hockey team season",
    "god church news",
    "god bible church",
    "god faith prayer",
]
LABELS = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
PLAIN = {"stop_words": None, "min_df": 1}  # keep every word of the tiny corpus


def embeddings_for(n: int) -> np.ndarray:
    # rows 0,1,2 sit at (0,0), (0,2), (0,1): their centre is (0,1), so row 2 is the most central of cluster 0
    points = np.zeros((n, 2))
    points[:3, 1] = [0.0, 2.0, 1.0]
    return points


def fit(texts=CORPUS, labels=LABELS, **settings):
    settings.setdefault("vectorizer", PLAIN)
    return TopicModeler(**settings).fit(texts, np.asarray(labels), embeddings_for(len(texts)))


# ------------------------------------------------------------------------------------- c-TF-IDF


def test_ctfidf_ranks_the_distinctive_word_first_and_matches_the_formula():
    topics = fit(n_representative=3, label_words=3, shared_words="keep")  # the formula alone: news is shared
    space, hockey, religion = topics.topics
    # W = tf / 9 * ln(1 + 9 / f): rocket 3/9 ln 4 = .462 > orbit = launch 2/9 ln 5.5 = .379 > news 2/9 ln 3.25 = .262
    assert space.keywords == ["rocket", "launch", "orbit", "news"]  # launch/orbit tie: alphabetical
    assert space.keyword_scores == pytest.approx([log(4) / 3, 2 / 9 * log(5.5), 2 / 9 * log(5.5), 2 / 9 * log(3.25)])
    # news is as frequent as orbit in c0, but occurs everywhere: the IDF puts it last
    assert hockey.keywords[:2] == ["hockey", "team"] and hockey.keywords[-1] == "news"
    assert religion.keywords[0] == "god" and religion.keywords[1] == "church"
    assert space.label == "rocket, launch, orbit"
    assert [t.size for t in topics.topics] == [3, 3, 3] and [t.id for t in topics.topics] == [0, 1, 2]
    assert space.representative_docs == [2, 0, 1]  # closest to the centre (0, 1) first; 0 and 1 tie: row order
    assert topics.mapping == {0: 0, 1: 1, 2: 2} and list(topics.labels) == list(LABELS)


def test_counting_words_reports_its_progress_and_counts_every_document(monkeypatch, caplog):
    """At a million texts the word count takes most of the topic stage (8 s of 12): it logs how far it is."""
    texts = [f"apple banana word{i % 7} cherry" for i in range(25)]
    monkeypatch.setattr(ctfidf, "COUNTING_BLOCK", 10)
    monkeypatch.setattr(ctfidf, "track", log_every_update)
    with caplog.at_level("INFO", logger="textcluster.progress"):
        doc_term, terms = fit_document_terms(CountVectorizer(), texts)
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split(" (")[0] for line in lines[:2]] == [
        "topics: counting words: 10/25 docs",
        "topics: counting words: 20/25 docs",
    ]
    assert lines[2].startswith("topics: counting words: 25 docs in") and len(lines) == 3
    expected = CountVectorizer().fit_transform(texts)  # the blocks change nothing in what is counted
    assert (doc_term != expected).nnz == 0 and doc_term.shape == (25, 10) and "word6" in terms


def test_ctfidf_ignores_emptied_rows():
    # a row emptied by a merge must not lower A (the average words per class) for the others
    counts = sp.csr_matrix(np.array([[3.0, 0.0, 2.0], [0.0, 4.0, 1.0]]))
    padded = sp.vstack([counts, sp.csr_matrix((1, 3))])
    assert np.allclose(c_tf_idf(padded).toarray()[:2], c_tf_idf(counts).toarray())
    # A = 10 / 2 = 5; row 0: 3/5 ln(1 + 5/3), 2/5 ln(1 + 5/3)
    assert c_tf_idf(counts).toarray()[0] == pytest.approx([0.6 * log(1 + 5 / 3), 0.0, 0.4 * log(1 + 5 / 3)])


def test_top_n_words_caps_the_keywords_and_noise_is_its_own_topic():
    labels = LABELS.copy()
    labels[8] = -1  # "god faith prayer" is noise
    topics = fit(labels=labels, top_n_words=2)
    assert [t.id for t in topics.topics] == [-1, 0, 1, 2] and topics.topics[0].label == "outliers"
    # the noise row is one more class: faith, prayer (only there) outrank god (also in cluster 2)
    assert topics.topics[0].keywords == ["faith", "prayer"] and len(topics) == 3  # noise is not counted as a topic
    assert all(len(t.keywords) == 2 for t in topics.topics)
    assert topics.top_words(1) == [["rocket"], ["hockey"], ["church"]]  # noise left out


def split_on_pipes(text: str) -> list[str]:
    return [token for token in text.split("|") if token]


def test_custom_tokenizer_from_an_import_path():
    texts = ["苹果|香蕉|水果", "苹果|香蕉", "足球|比赛|球队", "足球|球队"]
    topics = fit(
        texts,
        [0, 0, 1, 1],
        vectorizer={"tokenizer": "test_topics:split_on_pipes", "stop_words": None, "lowercase": False},
    )
    assert topics.topics[0].keywords[:2] == ["苹果", "香蕉"] and topics.topics[1].keywords[:2] == ["球队", "足球"]
    with pytest.raises(UserError, match="topics.vectorizer.tokenizer='nowhere:split' cannot be imported"):
        TopicModeler(vectorizer={"tokenizer": "nowhere:split"})


# ------------------------------------------------------------------------------------- shared words


def test_a_word_every_cluster_has_is_no_keyword_and_the_other_weights_stay():
    plain, topics = fit(shared_words="keep"), fit()
    assert all("news" in topic.keywords for topic in plain.topics)  # in the top 10 of all three clusters
    assert topics.shared_words == ["news"] and not any("news" in topic.keywords for topic in topics.topics)
    space = topics.topics[0]
    assert space.keywords == ["rocket", "launch", "orbit"] and space.label == "rocket, launch, orbit"
    # dropping a word sets its weight to 0 and leaves every other weight as the formula gives it
    assert space.keyword_scores == plain.topics[0].keyword_scores[:3]
    assert [leaf["keywords"] for leaf in topics.tree["leaves"]] == [t.keywords for t in topics.topics]


def hand_counts(rows: list[dict[str, int]], terms: list[str]) -> sp.csr_matrix:
    return sp.csr_matrix(np.array([[row.get(term, 0) for term in terms] for row in rows], dtype=float))


def dropped_words(rows, terms, top_n, evenly_spread=None) -> list[str]:
    mask = shared_terms(hand_counts(rows, terms), np.ones(len(terms)), top_n, evenly_spread)
    return [term for term, dropped in zip(terms, mask) if dropped]


def test_shared_words_are_dropped_round_after_round_but_never_a_topics_last_keyword():
    terms = ["alpha", "beta", "first", "gamma", "second"]  # sorted, as the vectorizer's vocabulary
    rows = [
        {"first": 5, "second": 4, "alpha": 3},
        {"first": 5, "second": 4, "beta": 3},
        {"first": 5, "gamma": 4, "second": 1},
    ]
    # the top word of all three goes; then 'second' tops two of three and goes; then each top word is its own
    assert dropped_words(rows, terms, top_n=1) == ["first", "second"]
    assert dropped_words(rows[:1], terms, top_n=1) == []  # one topic shares nothing
    # two topics whose only top word is the same: dropping it would leave the second with no keyword
    assert dropped_words([{"first": 5, "alpha": 1}, {"first": 5}], terms, top_n=1) == []


def test_an_evenly_spread_word_goes_from_two_top_lists_a_concentrated_one_stays():
    terms = ["alpha", "beta", "delta", "epsilon", "even", "gamma", "own", "pair"]
    rows = [
        {"alpha": 5, "even": 3},
        {"beta": 5, "even": 3},
        {"gamma": 5, "pair": 3, "even": 1},
        {"delta": 5, "pair": 3, "even": 1},
        {"epsilon": 5, "own": 3, "even": 1},
    ]
    # 'even' and 'pair' each top two of five lists: no majority
    assert dropped_words(rows, terms, top_n=2) == []
    evenly_spread = np.array([term == "even" for term in terms])
    assert dropped_words(rows, terms, top_n=2, evenly_spread=evenly_spread) == ["even"]


def test_evenly_spread_means_common_in_most_clusters_relative_to_the_words_peak():
    # clusters of four documents; present in: everywhere in 2 of 4 documents; topical in all of cluster 0 and
    # one document of cluster 1; rare in one document of every cluster (its peak is 1/4: common everywhere)
    documents = []
    for cluster in range(3):
        for index in range(4):
            words = ["everywhere"] if index < 2 else []
            words += ["topical"] if cluster == 0 or (cluster == 1 and index == 0) else []
            words += ["rare"] if index == 3 else []
            documents.append(" ".join(words + ["filler"]))
    vectorizer = CountVectorizer()
    doc_term = vectorizer.fit_transform(documents)
    spread = evenly_spread_terms(doc_term, np.repeat([0, 1, 2], 4), np.array([0, 1, 2]))
    assert dict(zip(vectorizer.get_feature_names_out(), spread)) == {
        "everywhere": True,
        "filler": True,
        "rare": True,
        "topical": False,
    }


def test_an_explicit_max_df_still_prunes_the_vocabulary():
    for shared in ("drop", "keep"):
        topics = fit(vectorizer={**PLAIN, "max_df": 0.4}, shared_words=shared)  # news: 4 of 9 documents
        assert "news" not in topics.vocabulary and topics.shared_words == []
        assert topics.topics[0].keywords == ["rocket", "launch", "orbit"]
    # passed on as given, over the defaults of the keys not given (as topics.vectorizer.max_df=0.15 composes)
    assert TopicModeler(vectorizer={"max_df": 0.15}).vectorizer == {**VECTORIZER_DEFAULTS, "max_df": 0.15}


def test_newsgroup_boilerplate_is_no_label_on_a_slice(data_file):
    import pandas as pd

    posts = pd.read_csv(data_file("20newsgroups", "test.csv")).iloc[::8]  # about 940 posts of every group
    texts, labels = posts["text"].fillna("").tolist(), pd.factorize(posts["label"])[0]
    settings = {"stop_words": "english", "min_df": 2}
    plain = TopicModeler(shared_words="keep", vectorizer=settings).fit(texts, labels, np.zeros((len(texts), 1)))
    topics = TopicModeler(vectorizer=settings).fit(texts, labels, np.zeros((len(texts), 1)))
    words = {word for topic in topics.topics for word in topic.keywords}
    assert sum("edu" in topic.keywords for topic in plain.topics) >= len(plain) / 2  # the problem, measured
    assert not {"edu", "writes", "article", "com"} & words
    assert not any({"edu", "writes"} & set(merge["keywords"]) for merge in topics.tree["merges"])
    assert topics.diversity(10) > plain.diversity(10)
    assert {"god", "space", "hockey"} <= words  # a group's own words are still keywords


# ------------------------------------------------------------------------------------- reduction


def test_reduce_cuts_the_topic_tree_and_renumbers():
    # cluster 1 is one extra space document: the closest pair, so the tree's first merge and the first to go;
    # 2 and 3 become 1 and 2
    texts = CORPUS[:3] + ["rocket moon orbit"] + CORPUS[3:]
    labels = [0, 0, 0, 1, 2, 2, 2, 3, 3, 3]
    topics = fit(texts, labels, n_topics=3)
    merges = topics.tree["merges"]
    assert merges[0]["children"] == [0, 1] and [leaf["id"] for leaf in topics.tree["leaves"]] == [0, 1, 2, 3]
    assert topics.mapping == {0: 0, 1: 0, 2: 1, 3: 2}
    assert list(topics.labels) == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert [(t.id, t.size, t.clusters) for t in topics.topics] == [(0, 4, [0, 1]), (1, 3, [2]), (2, 3, [3])]
    assert topics.topics[0].keywords[0] == "rocket" and topics.n_clusters_before == 4
    assert merges[0]["distance"] < topics.tree["cut"]["distance"] < merges[1]["distance"]
    assert topics.tree["cut"]["n_topics"] == 3 and [leaf["topic"] for leaf in topics.tree["leaves"]] == [0, 0, 1, 2]
    merged_twice = fit(texts, labels, n_topics=2)  # the same tree, one merge more kept
    assert merged_twice.tree["merges"] == merges
    # hockey and religion share only 'news' with the space pair; religion's one-off words (bible, faith, prayer)
    # leave news a smaller part of its vector, so hockey joins first
    second = merges[1]["leaves"]
    assert second == [0, 1, 2] and merged_twice.mapping == {0: 0, 1: 0, 2: 0, 3: 1}
    assert [(t.size, t.clusters) for t in merged_twice.topics] == [(7, second), (3, [3])]
    assert sum(t.size for t in merged_twice.topics) == len(texts)
    assert "cut" not in fit(texts, labels).tree and fit(texts, labels).tree["merges"] == merges


def test_reduce_to_more_topics_than_clusters_keeps_one_topic_per_cluster(caplog):
    with caplog.at_level(logging.WARNING, logger="textcluster.topics.model"):
        topics = fit(n_topics=4)
    assert "topics.n_topics=4 is more than the 3 clusters found: one topic per cluster" in caplog.text
    assert len(topics) == 3 and topics.mapping == {0: 0, 1: 1, 2: 2} and "cut" not in topics.tree


def test_reduce_errors():
    with pytest.raises(UserError, match=r"topics\.n_topics=0 is not valid: it must be an integer >= 1 or null"):
        TopicModeler(n_topics=0).check_params()
    with pytest.raises(UserError, match="could not build a vocabulary"):
        fit(vectorizer={"stop_words": None, "min_df": 5})
    with pytest.raises(UserError, match=r"topics\.shared_words='off' is not valid: it must be one of 'drop', 'keep'"):
        TopicModeler(shared_words="off").check_params()


# ------------------------------------------------------------------------------------- topic metrics


def test_npmi_by_hand():
    documents = ["apple banana", "apple banana cherry", "apple cherry", "durian"]
    vectorizer = CountVectorizer()
    doc_term = vectorizer.fit_transform(documents)
    # N = 4; D(apple) = 3, D(banana) = D(cherry) = 2, D(durian) = 1
    # apple-banana: p = 2/4, NPMI = ln(.5 / (.75 * .5)) / -ln .5 = ln(4/3) / ln 2 = 0.415; apple-cherry the same
    # banana-cherry: p = 1/4 = p(banana) p(cherry): NPMI 0.    banana-durian: never together: -1 (convention)
    scores = topic_npmi(
        [["apple", "banana", "cherry"], ["banana", "durian"], ["banana"]], doc_term, vectorizer.vocabulary_
    )
    expected_first = (2 * log(4 / 3) / log(2) + 0.0) / 3
    assert scores[0] == pytest.approx(expected_first) and expected_first == pytest.approx(0.27669, abs=1e-5)
    assert scores[1] == -1.0 and np.isnan(scores[2])  # a one-word topic has no pair
    assert pair_npmi(4, 4, 4, 4) == 1.0  # both words in every document: complete co-occurrence
    assert pair_npmi(0, 3, 0, 4) == -1.0  # a word absent from the corpus
    assert topic_npmi([["apple", "zebra"]], doc_term, vectorizer.vocabulary_) == [-1.0]


def test_topic_diversity():
    assert topic_diversity([["a", "b", "c"], ["a", "d", "e"]]) == pytest.approx(5 / 6)
    assert topic_diversity([["a", "b"], ["b", "a"]]) == 0.5


def test_topic_evaluators_read_the_topics_coherence_and_skip_for_images():
    topics = fit()
    npmi = registry.evaluators.build({"name": "npmi", "top_n": 3})
    diversity = registry.evaluators.build({"name": "topic_diversity", "top_n": 3})
    X, labels = embeddings_for(9), topics.labels

    def run(modality="text", with_topics=True):
        return EvaluationInput(X, labels, None, X, modality, CORPUS, topics if with_topics else None)

    words = topics.top_words(3)  # [rocket launch orbit] [hockey team goal] [god church bible]
    assert words[0] == ["rocket", "launch", "orbit"]
    expected = np.mean(topic_npmi(words, topics.doc_term, topics.vocabulary))
    assert npmi.evaluate(run()) == {"npmi": pytest.approx(expected)}
    assert diversity.evaluate(run()) == {"topic_diversity": 1.0}
    # the coherence is computed once per top_n, by the topics, for every reader
    assert topics.coherence(3) is topics.coherence(3)
    assert list(topics.coherence(3).values()) == pytest.approx(topic_npmi(words, topics.doc_term, topics.vocabulary))
    # hand check of one topic: rocket (D=3) with launch (D=2, both in 2 docs): ln((2/9)/(3/9*2/9)) / -ln(2/9)
    assert topic_npmi([["rocket", "launch"]], topics.doc_term, topics.vocabulary)[0] == pytest.approx(
        log(3) / log(9 / 2)
    )

    metrics, skipped = evaluate(
        {
            "npmi": npmi,
            "topic_diversity": diversity,
            "cluster_counts": registry.evaluators.build({"name": "cluster_counts"}),
        },
        run("image"),
    )
    assert set(skipped) == {"npmi", "topic_diversity"} and "topic metrics need text data" in skipped["npmi"]
    assert metrics == {"n_clusters": 3.0, "noise_fraction": 0.0}
    with pytest.raises(SkipEvaluation, match="no topics were computed"):
        npmi.evaluate(run(with_topics=False))


# ------------------------------------------------------------------------------------- noise policy


def noise_policy(key: str):
    return registry.noise_policies.build({"name": key})


def test_noise_policies_on_points(caplog):
    X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 10.0], [10.0, 11.0], [9.0, 9.0], [1.0, 0.0]])
    labels = np.array([0, 0, 1, 1, -1, -1])
    assert list(to_nearest_centre(labels, X, *cluster_centres(X, labels))) == [0, 0, 1, 1, 1, 0]
    kept, report = noise_policy("keep").apply(labels, X, None)
    assert list(kept) == list(labels) and report.fraction_before == report.fraction_after == pytest.approx(2 / 6)
    kmeans = registry.clusterers.build({"name": "kmeans", "n_clusters": 2})  # gives no membership probabilities
    with caplog.at_level(logging.INFO, logger="textcluster.noise"):
        soft, report = noise_policy("soft").apply(labels, X, kmeans)
    assert list(soft) == [0, 0, 1, 1, 1, 0] and report.policy == "soft"
    assert report.fraction_after == 0.0 and "gives no membership probabilities" in caplog.text
    with pytest.raises(UserError, match="unknown noise policy 'drop'; known noise_policies: keep, nearest, soft"):
        noise_policy("drop")


def test_soft_policy_uses_hdbscan_membership():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.3, (60, 2)), rng.normal(5, 0.3, (60, 2)), rng.uniform(-2, 7, (20, 2))])
    clusterer = registry.clusterers.build({"name": "hdbscan", "min_cluster_size": 10}).fit(X)
    noise = clusterer.labels_ == -1
    assert noise.sum() >= 5  # some of the scattered points
    clusters, probabilities = clusterer.soft_membership()
    assert list(clusters) == [0, 1] and probabilities.shape == (len(X), 2)
    soft, report = noise_policy("soft").apply(clusterer.labels_, X, clusterer)
    assert report.policy == "soft" and report.fraction_after == 0.0 and report.fraction_before == noise.mean()
    assert list(soft[noise]) == list(clusters[probabilities[noise].argmax(axis=1)])
    assert list(soft[~noise]) == list(clusterer.labels_[~noise])  # clustered points never move
    # where one centre is clearly nearer (distance ratio above 1.2), membership and geometry agree
    centres = np.stack([X[clusterer.labels_ == c].mean(axis=0) for c in clusters])
    distances = np.linalg.norm(X[noise][:, None, :] - centres[None], axis=2)
    clear = distances.max(axis=1) > 1.2 * distances.min(axis=1)
    assert clear.sum() >= 3 and list(soft[noise][clear]) == list(clusters[distances[clear].argmin(axis=1)])


NO_REPORT = "++report=false"  # the HTML report's 2-D map (UMAP) would cost more than the run itself
SNIPPETS = (
    "data=lines",
    "encoder=raw",
    "reducer=pca",
    "reducer.n_components=10",
    "clusterer=hdbscan",
    "clusterer.min_cluster_size=10",
    NO_REPORT,
)


def snippet_run(tmp_path, data_file, *overrides: str):
    cfg = compose_small(
        *SNIPPETS,
        f"data.path={data_file('searchsnippets', 'SearchSnippets.txt')}",
        f"data.labels_path={data_file('searchsnippets', 'SearchSnippets_gnd.txt')}",
        *overrides,
        limit=800,
    )
    run_dir = tmp_path / "run"
    pipeline = run_experiment(cfg, run_dir).pipeline
    with open(run_dir / "assignments.csv", newline="") as handle:
        clusters = np.array([int(row["cluster"]) for row in csv.DictReader(handle)])
    return pipeline, read_json(run_dir / "metrics.json"), clusters, read_json(run_dir / "topics.json")


@pytest.mark.parametrize("policy", ["keep", "nearest"])
def test_noise_policy_on_searchsnippets(tmp_path, data_file, policy):
    pipeline, metrics, clusters, topics = snippet_run(tmp_path, data_file, f"noise={policy}")
    before = float(np.mean(pipeline.cluster_labels_ == -1))
    assert 0.05 < before < 0.95 and metrics["noise_fraction_before"] == pytest.approx(before)  # hdbscan left noise
    assert metrics["noise_fraction_after"] == pytest.approx(float(np.mean(clusters == -1)))
    assert metrics["noise_fraction"] == metrics["noise_fraction_after"]
    sizes = {t["id"]: t["size"] for t in topics["topics"]}
    assert sizes == {int(c): int((clusters == c).sum()) for c in np.unique(clusters)}
    if policy == "keep":
        assert metrics["noise_fraction_after"] == pytest.approx(before) and topics["topics"][0]["id"] == -1
    else:
        assert not (clusters == -1).any() and metrics["noise_fraction_after"] == 0.0
        kept = pipeline.cluster_labels_ != -1
        assert (clusters[kept] == pipeline.cluster_labels_[kept]).all()
        assert metrics["acc"] > 0  # acc now scores the formerly noisy points too


def test_bad_topic_and_noise_settings_fail_with_one_line(tmp_path):
    with pytest.raises(UserError, match="noise: unknown noise policy 'maybe'"):
        run_experiment(compose_small("noise=maybe"), tmp_path / "a")
    with pytest.raises(UserError, match="topics.n_topics=3 needs text data; data=digits gives image data"):
        run_experiment(compose_small("topics.n_topics=3"), tmp_path / "b")
    with pytest.raises(UserError, match="topics.n_topic is not a setting; topics takes: enabled, label_words"):
        run_experiment(compose_small("+topics.n_topic=3"), tmp_path / "c")
    with pytest.raises(UserError, match="topics.shared_words='some' is not valid"):  # a key of default.yaml
        run_experiment(compose_small("topics.shared_words=some"), tmp_path / "d")


def test_a_topic_stage_that_cannot_run_leaves_the_clustering_finished(tmp_path, caplog):
    """Two documents left after the empty ones are dropped: no vocabulary for topics, the run still completes."""
    import pandas as pd

    path = tmp_path / "two.csv"
    pd.DataFrame({"text": ["alpha beta", "", "gamma delta", "  "]}).to_csv(path, index=False)
    cfg = compose_small(
        "data=csv", f"data.path={path}", "encoder=raw", "encoder.features.min_df=1", "clusterer.n_clusters=2", NO_REPORT
    )
    with caplog.at_level(logging.WARNING, logger="textcluster.pipeline"):
        pipeline = run_experiment(cfg, tmp_path / "run").pipeline
    assert "topics skipped: topics.vectorizer could not build a vocabulary" in caplog.text
    assert read_json(tmp_path / "run" / "status.json")["status"] == "completed"
    assert pipeline.topics_ is None and not (tmp_path / "run" / "topics.json").exists()
    assert sorted(pipeline.labels_.tolist()) == [0, 1]
    assert "no topics were computed" in read_json(tmp_path / "run" / "skipped_metrics.json")["npmi"]


# ------------------------------------------------------------------------------------- the CLI


def test_cli_newsgroups_slice_writes_topics(tmp_path, data_file):
    """The newsgroups preset on 300 posts (raw TF-IDF and k-means instead of MiniLM, UMAP and GMM, for speed),
    merged to 6."""
    path = data_file("20newsgroups", "test.csv")
    run_dir = tmp_path / "run"
    done = run_textcluster(
        "experiment=newsgroups",
        f"data.path={path}",
        "data.limit=300",
        "encoder=raw",
        "reducer=none",
        "clusterer.n_init=1",  # the preset's kmeans_labels: k = the 20 newsgroups
        "topics.n_topics=6",
        "cache=false",
        NO_REPORT,
        run_dir=run_dir,
        threads=1,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    payload = read_json(run_dir / "topics.json")
    topics = payload["topics"]
    assert payload["n_topics"] == 6 and payload["n_clusters_before"] == 20 and len(topics) == 6
    for topic in topics:
        assert set(topic) >= {"id", "size", "label", "keywords", "representative_docs"}
        assert len(topic["keywords"]) == 10 and topic["label"] == ", ".join(topic["keywords"][:4])
        assert 1 <= len(topic["representative_docs"]) <= 5 and {"id", "text"} <= set(topic["representative_docs"][0])
    with open(run_dir / "assignments.csv", newline="") as handle:
        clusters = [int(row["cluster"]) for row in csv.DictReader(handle)]
    assert {t["id"]: t["size"] for t in topics} == {c: clusters.count(c) for c in set(clusters)}
    assert sorted(c for t in topics for c in t["clusters"]) == list(range(20))
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["n_clusters"] == 6.0  # the metrics see the merged labels
    assert -1 <= metrics["npmi"] <= 1 and 0 < metrics["topic_diversity"] <= 1
    markdown = (run_dir / "topics.md").read_text()
    assert markdown.startswith("# Topics") and "merged from 20 clusters" in markdown
    assert topics[0]["label"] in markdown


def test_representative_documents_read_in_blocks_are_the_closest_to_the_mean(monkeypatch):
    from textcluster.topics import model as topic_model

    embeddings = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
    members = np.random.default_rng(1).permutation(200)[:90]
    distances = ((embeddings[members].astype(np.float64) - embeddings[members].mean(axis=0)) ** 2).sum(axis=1)
    expected = [int(members[i]) for i in np.argsort(distances)[:6]]
    monkeypatch.setattr(topic_model, "CENTRE_BLOCK", 7)  # 13 blocks, the last of 6 members
    assert topic_model.representative_documents(embeddings, members, 6) == expected
    assert topic_model.representative_documents(embeddings, members[:0], 6) == []
