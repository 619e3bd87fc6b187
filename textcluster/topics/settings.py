"""The topic stage's settings (the ``topics`` config group), apart from the model so that checking a
config imports no scikit-learn."""

from textcluster.params import NULL, Block, Bool, Choice, Float, Int, ListOf, Str

VECTORIZER_SETTINGS = Block(
    {
        "stop_words": Choice("english") | NULL | ListOf(Str()),
        "ngram_range": ListOf(Int(min=1), length=2),
        "min_df": Int(min=1) | Float(min=0, max=1),
        "max_df": Int(min=1) | Float(min=0, max=1, min_open=True),
        "max_features": Int(min=1) | NULL,
        "lowercase": Bool(),
        "token_pattern": Str() | NULL,
        "tokenizer": Str() | NULL,
    },
    open=True,
)
VECTORIZER_DEFAULTS = {
    "stop_words": "english",
    "ngram_range": (1, 1),
    "min_df": 2,
    "max_df": 1.0,
    "max_features": None,
    "lowercase": True,
    "token_pattern": r"(?u)\b[^\W\d_][^\W\d_]+\b",  # words of 2+ letters (no digits); ignored with a tokenizer
    "tokenizer": None,
}
"""``topics.vectorizer``: what TopicModeler's CountVectorizer gets unless told otherwise (any further
CountVectorizer argument may be added)."""
TOPIC_SETTINGS = {
    "top_n_words": Int(min=1),
    "n_representative": Int(min=0),
    "label_words": Int(min=1),
    "n_topics": Int(min=1) | NULL,
    "shared_words": Choice("drop", "keep"),
    "vectorizer": VECTORIZER_SETTINGS,
}
GUIDANCE_SETTINGS = {
    "seed_topics": ListOf(ListOf(Str(), min_length=1)),
    "seed_weight": Float(min=0, max=1, min_open=True),
    "zero_shot": ListOf(Str()),
    "zero_shot_min_similarity": Float(min=-1, max=1),
}
"""Guided and zero-shot topics (:mod:`textcluster.topics.guided`): in the topics group, but they steer the
clustering, so they are the pipeline's ``guidance`` rather than the topic model's parameters."""
