"""The topic tree: average-linkage merges of the topics' c-TF-IDF vectors, its cut by topics.n_topics, the files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import compose_small, read_json
from textcluster.labels import NOISE
from textcluster.reporting import plots
from textcluster.reporting.topics_files import topics_markdown, write_topics
from textcluster.topics import TopicModeler
from textcluster.topics.ctfidf import c_tf_idf, class_idf, class_term_counts

PNG = b"\x89PNG\r\n\x1a\n"
PLAIN = {"stop_words": None, "min_df": 1}  # keep every word of the tiny corpus

# Four clusters, two pairs: rockets and planets share space words (space, orbit, nasa),
# hockey and baseball share sports words (team, game, season); the pairs share nothing.
CORPUS = [
    "rocket launch nasa orbit",  # 0: rockets
    "rocket launch pad nasa",
    "rocket booster launch space",
    "planet orbit space telescope",  # 1: planets
    "planet moon orbit nasa",
    "hockey ice team puck",  # 2: hockey
    "hockey ice game season",
    "hockey puck team goal",
    "hockey ice rink team",
    "baseball bat team game",  # 3: baseball
    "baseball pitcher season game",
]
LABELS = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3])
SPACE_DOCS, SPORT_DOCS = CORPUS[:5], CORPUS[5:]


def fit(texts=CORPUS, labels=LABELS, **settings):
    settings.setdefault("vectorizer", PLAIN)
    return TopicModeler(**settings).fit(list(texts), np.asarray(labels), np.zeros((len(texts), 2)))


def words_of(documents) -> set[str]:
    return {word for document in documents for word in document.split()}


def merge_shape(tree: dict) -> list:
    return [(merge["children"], merge["keywords"]) for merge in tree["merges"]]


def check_binary_tree(tree: dict, topic_ids: list[int]) -> None:
    """k - 1 merges over the k leaves, each leaf and each node but the root a child exactly once, in order."""
    merges, k = tree["merges"], len(topic_ids)
    assert [leaf["id"] for leaf in tree["leaves"]] == topic_ids and len(merges) == k - 1
    assert [merge["id"] for merge in merges] == list(range(max(topic_ids) + 1, max(topic_ids) + k))
    children = [child for merge in merges for child in merge["children"]]
    assert sorted(children) == sorted(topic_ids + [merge["id"] for merge in merges[:-1]])  # each once
    under = {leaf["id"]: [leaf["id"]] for leaf in tree["leaves"]}
    size = {leaf["id"]: leaf["size"] for leaf in tree["leaves"]}
    for merge in merges:
        a, b = merge["children"]
        assert a in under and b in under  # children are merged before their parent
        assert merge["leaves"] == sorted(under[a] + under[b]) and merge["size"] == size[a] + size[b]
        under[merge["id"]], size[merge["id"]] = merge["leaves"], merge["size"]
    assert merges[-1]["leaves"] == sorted(topic_ids)  # the root covers every topic
    distances = [merge["distance"] for merge in merges]
    assert distances == sorted(distances) and all(0 <= d <= 1 for d in distances)


# ------------------------------------------------------------------------------------- the tree


def test_the_similar_pairs_merge_first_and_the_root_covers_every_topic():
    topics = fit()
    tree = topics.tree
    check_binary_tree(tree, [0, 1, 2, 3])
    space, sport = sorted(tree["merges"][:2], key=lambda merge: merge["leaves"])
    root = tree["merges"][2]
    assert (space["leaves"], sport["leaves"]) == ([0, 1], [2, 3])  # the two pairs first, in either order
    assert sorted(root["children"]) == sorted([space["id"], sport["id"]]) and root["distance"] == 1.0  # no word shared
    assert max(space["distance"], sport["distance"]) < root["distance"]
    assert (space["size"], sport["size"], root["size"]) == (5, 6, 11)
    assert "cut" not in tree and topics.mapping == {0: 0, 1: 1, 2: 2, 3: 3}
    # the leaves are the topics: same keywords, labels and sizes
    for leaf, topic in zip(tree["leaves"], topics.topics):
        assert (leaf["id"], leaf["topic"], leaf["size"]) == (topic.id, topic.id, topic.size)
        assert leaf["keywords"] == topic.keywords and leaf["label"] == topic.label


def test_node_keywords_are_the_c_tf_idf_of_the_members_together():
    topics = fit(top_n_words=6)
    merges = {tuple(merge["leaves"]): merge for merge in topics.tree["merges"]}
    space, sport = merges[(0, 1)], merges[(2, 3)]
    assert set(space["keywords"]) <= words_of(SPACE_DOCS) and set(sport["keywords"]) <= words_of(SPORT_DOCS)
    # the node has its own keywords: words of both members rank high, not just one member's top words
    assert {"orbit", "nasa"} & set(space["keywords"][:3]) and {"team", "game"} & set(sport["keywords"][:3])
    assert space["keywords"] != topics.topics[0].keywords and space["keywords"] != topics.topics[1].keywords
    # by hand: the summed counts of clusters 0 and 1, with the IDF fitted on the four clusters
    counts = class_term_counts(topics.doc_term, LABELS, np.arange(4))
    weights = c_tf_idf(sp.csr_matrix(counts[0] + counts[1]), class_idf(counts)).toarray().ravel()
    expected = sorted(range(len(weights)), key=lambda i: (-weights[i], topics.terms[i]))[:6]
    assert space["keywords"] == [str(topics.terms[i]) for i in expected]
    root = topics.tree["merges"][-1]
    assert set(root["keywords"]) <= words_of(CORPUS) and len(root["keywords"]) == 6


def test_noise_is_no_leaf_ids_need_not_be_consecutive_and_one_topic_has_no_tree():
    labels = np.array([0, 0, 0, 2, 2, 5, 5, 5, NOISE, 7, 7])  # one hockey document is noise
    topics = fit(labels=labels)
    check_binary_tree(topics.tree, [0, 2, 5, 7])  # merge ids continue after 7: 8, 9, 10
    assert topics.tree["merges"][-1]["size"] == 10 and topics.topics[0].id == NOISE
    assert {tuple(merge["leaves"]) for merge in topics.tree["merges"][:2]} == {(0, 2), (5, 7)}
    one = fit(labels=np.where(LABELS == 3, NOISE, 0))
    assert one.tree["merges"] == [] and [leaf["id"] for leaf in one.tree["leaves"]] == [0]


def test_boilerplate_in_every_cluster_labels_no_node_and_no_longer_joins_the_pairs():
    quoted = [f"{document} writes article" for document in CORPUS]  # every post quotes: the boilerplate of posts
    plain, topics = fit(quoted, shared_words="keep"), fit(quoted)
    plain_nodes = plain.tree["leaves"] + plain.tree["merges"]
    assert all({"writes", "article"} <= set(node["keywords"]) for node in plain_nodes)
    assert set(plain.tree["merges"][-1]["keywords"][:2]) == {"article", "writes"}  # the root's label
    assert plain.tree["merges"][-1]["distance"] < 1.0  # the shared words make the two pairs look alike
    assert topics.shared_words == ["article", "writes"]
    for node in topics.tree["leaves"] + topics.tree["merges"]:
        assert not {"writes", "article"} & set(node["keywords"])
    labels = {tuple(merge["leaves"]): merge["keywords"][:4] for merge in topics.tree["merges"]}
    plain_labels = {tuple(merge["leaves"]): merge["keywords"][:4] for merge in plain.tree["merges"]}
    assert labels[(0, 1)] == ["launch", "nasa", "orbit", "rocket"] and labels[(2, 3)][0] == "hockey"
    assert plain_labels[(0, 1, 2, 3)] != labels[(0, 1, 2, 3)] == labels[(2, 3)]  # the root: its larger half's words
    # without them the tree is the one of the plain posts (the idf's average words differ a little): the pairs
    # share nothing
    assert merge_shape(topics.tree) == merge_shape(fit().tree) and topics.tree["merges"][-1]["distance"] == 1.0
    merged = fit(quoted, n_topics=2)  # the cut's topics lose the shared words too
    assert [t.clusters for t in merged.topics] == [[0, 1], [2, 3]]
    assert not any({"writes", "article"} & set(t.keywords) for t in merged.topics)


# ------------------------------------------------------------------------------------- the cut


def test_n_topics_cuts_the_tree_into_the_two_pairs_and_records_the_cut():
    uncut, topics = fit(), fit(n_topics=2)
    tree = topics.tree
    assert tree["merges"] == uncut.tree["merges"]  # the tree over the clusters, whatever the cut
    assert topics.mapping == {0: 0, 1: 0, 2: 1, 3: 1} and topics.n_clusters_before == 4
    assert [(t.id, t.clusters, t.size) for t in topics.topics] == [(0, [0, 1], 5), (1, [2, 3], 6)]
    assert list(topics.labels) == [topics.mapping[c] for c in LABELS]  # every document follows its cluster
    assert [leaf["topic"] for leaf in tree["leaves"]] == [0, 0, 1, 1]
    first_two, root = tree["merges"][:2], tree["merges"][2]
    assert tree["cut"]["n_topics"] == 2
    assert max(m["distance"] for m in first_two) < tree["cut"]["distance"] < root["distance"]
    assert tree["cut"]["distance"] == pytest.approx((first_two[1]["distance"] + root["distance"]) / 2, abs=1e-6)
    # the topics' keywords come from the pairs' documents
    assert set(topics.topics[0].keywords) <= words_of(SPACE_DOCS)
    assert set(topics.topics[1].keywords) <= words_of(SPORT_DOCS)


def test_n_topics_three_and_one():
    three = fit(n_topics=3)  # only the closest pair merges
    closest = three.tree["merges"][0]["leaves"]
    assert len(three) == 3 and closest in ([0, 1], [2, 3])
    assert [t.clusters for t in three.topics if len(t.clusters) == 2] == [closest]
    assert [t.id for t in three.topics] == [0, 1, 2]  # renumbered in cluster order
    assert three.tree["merges"][0]["distance"] < three.tree["cut"]["distance"] < three.tree["merges"][1]["distance"]
    one = fit(n_topics=1)
    assert len(one) == 1 and one.mapping == {0: 0, 1: 0, 2: 0, 3: 0}
    assert one.tree["cut"] == {"n_topics": 1, "distance": one.tree["merges"][-1]["distance"]}
    assert "cut" not in fit(n_topics=4).tree  # as many topics as clusters: nothing to merge


# ------------------------------------------------------------------------------------- files and the plot


def test_topics_json_and_md_hold_the_tree(tmp_path):
    topics = fit(n_topics=2)
    payload = write_topics(tmp_path, topics, CORPUS, list(range(len(CORPUS))))
    written = json.loads((tmp_path / "topics.json").read_text())
    assert written["tree"] == payload["tree"] == json.loads(json.dumps(topics.tree))
    assert written["tree"]["cut"]["n_topics"] == 2 and len(written["tree"]["merges"]) == 3
    markdown = (tmp_path / "topics.md").read_text()
    tree_part = markdown[markdown.index("## Topic tree") :]
    lines = [line for line in tree_part.splitlines() if line.lstrip().startswith("- ")]
    assert len(lines) == 7 and lines[0].startswith("- ") and "node 6" in lines[0]  # the root first, not indented
    assert "into 2 topics (topics.n_topics)" in tree_part
    leaf_lines = [line for line in lines if "Cluster" in line]
    assert len(leaf_lines) == 4 and all(line.startswith("    - Cluster") for line in leaf_lines)  # depth 2
    assert f"Cluster 0 ({topics.tree['leaves'][0]['label']}) in Topic 0: {topics.topics[0].label}" in tree_part
    # without a cut the leaves are the topics
    plain = fit()
    uncut = topics_markdown(write_topics(tmp_path, plain, CORPUS, list(range(len(CORPUS)))))
    assert re.search(rf"^    - Topic 0: {plain.topics[0].label}$", uncut, re.MULTILINE) and "- Cluster" not in uncut
    one_topic = fit(labels=np.zeros(len(CORPUS), dtype=int))
    assert "Topic tree" not in topics_markdown(write_topics(tmp_path, one_topic, CORPUS, list(range(len(CORPUS)))))


def test_topic_tree_plot(tmp_path, monkeypatch):
    for settings in ({}, {"n_topics": 2}):
        payload = write_topics(tmp_path, fit(**settings), CORPUS, list(range(len(CORPUS))))
        path = tmp_path / f"tree{len(settings)}.png"
        caption = plots.topic_tree(payload["tree"], payload["topics"], path)
        assert path.read_bytes().startswith(PNG) and "average-linkage" in caption
        assert ("cut at distance" in caption) == bool(settings)
    Z, leaf_ids = plots.tree_linkage(payload["tree"])
    assert leaf_ids == [0, 1, 2, 3] and Z.shape == (3, 4) and list(Z[-1, 2:]) == [1.0, 4.0]
    monkeypatch.setattr(plots, "MAX_TREE_LEAVES", 3)  # a tree too large to show whole: its last branches
    assert "the last 3 branches" in plots.topic_tree(payload["tree"], payload["topics"], tmp_path / "cut.png")
    with pytest.raises(ValueError, match="no merges"):
        plots.topic_tree({"leaves": [], "merges": []}, [], tmp_path / "none.png")


def test_the_report_draws_the_tree(tmp_path):
    import pandas as pd

    from textcluster.experiment import run_experiment

    path = tmp_path / "docs.csv"
    pd.DataFrame({"text": [f"{text} extra{i % 3}" for i, text in enumerate(CORPUS * 4)]}).to_csv(path, index=False)
    run_dir = tmp_path / "run"
    run_experiment(
        compose_small(
            "data=csv",
            f"data.path={path}",
            "encoder=raw",
            "encoder.features.min_df=1",
            "clusterer.n_clusters=4",
            "topics.n_topics=2",
            "topics.vectorizer.min_df=1",
        ),
        run_dir,
    )
    tree = read_json(run_dir / "topics.json")["tree"]
    check_binary_tree(tree, [0, 1, 2, 3])
    assert tree["cut"]["n_topics"] == 2
    assert (run_dir / "plots" / "topic_tree.png").read_bytes().startswith(PNG)
    assert '<figure id="topic_tree">' in (run_dir / "report.html").read_text()


# ------------------------------------------------------------------------------------- real data


def test_tree_on_a_searchsnippets_slice(data_file):
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    lines = Path(data_file("searchsnippets", "SearchSnippets.txt")).read_text(encoding="utf-8-sig").splitlines()
    texts = lines[::20]  # about 600 snippets from every class (the file is ordered by class)
    X = TfidfVectorizer(stop_words="english", min_df=2).fit_transform(texts)
    embeddings = TruncatedSVD(20, random_state=0).fit_transform(X)
    labels = KMeans(25, n_init=1, random_state=0).fit_predict(embeddings)
    topics = TopicModeler().fit(texts, labels, embeddings)
    check_binary_tree(topics.tree, list(range(25)))
    assert topics.tree["merges"][-1]["size"] == len(texts)
    assert all(merge["keywords"] for merge in topics.tree["merges"])
    cut = TopicModeler(n_topics=6).fit(texts, labels, embeddings)
    assert cut.tree["merges"] == topics.tree["merges"] and len(cut) == 6
    assert list(cut.labels) == [cut.mapping[c] for c in labels]
    groups = {t.id: t.clusters for t in cut.topics}
    kept = topics.tree["merges"][: 25 - 6]
    for merge in kept:  # every kept merge lies inside one topic
        assert len({cut.mapping[leaf] for leaf in merge["leaves"]}) == 1
    assert sorted(c for clusters in groups.values() for c in clusters) == list(range(25))
