"""Which seed_weight makes a guided topic (topics.seed_topics): the slice of tests/test_guided_topics.py.

    python benchmarks/guided_seed_weight.py 0.25 0.5 0.75     # prints posts per topic and class, and the labels

500 posts of five 20 Newsgroups-test classes, encoder=pretrained (64 tokens), k-means k=4 (one less than the
classes), seeds [hockey, nhl, puck]; the first fit encodes, the others read the embedding cache.
"""

from __future__ import annotations

import sys

import pandas as pd
from run import data_dir

from textcluster import Pipeline

CLASSES = ["comp.graphics", "rec.sport.baseball", "rec.sport.hockey", "sci.space", "talk.religion.misc"]
BASE = {"encoder": "pretrained", "encoder.max_length": 64, "clusterer.n_clusters": 4}


def main(weights: list[float]) -> None:
    pd.set_option("display.width", 200)
    frame = pd.read_csv(data_dir() / "20newsgroups" / "test.csv")
    frame = frame[frame.label.isin(CLASSES)].groupby("label", group_keys=False).head(100).reset_index(drop=True)
    texts, truth = frame.text.tolist(), frame.label.str.split(".").str[-1].to_numpy()
    for weight in weights:
        seeds = {} if weight == 0 else {"topics.seed_topics": [["hockey", "nhl", "puck"]], "topics.seed_weight": weight}
        pipeline = Pipeline.from_config({**BASE, **seeds}).fit(texts)
        print(f"== seed_weight {weight} (0: no seeds)")
        print(pd.crosstab(pipeline.labels_, truth))
        for topic in pipeline.topics_.topics:
            print(f"  topic {topic.id}: {topic.size} posts, {topic.label}")


if __name__ == "__main__":
    main([float(value) for value in sys.argv[1:]] or [0, 0.25, 0.5, 0.75])
