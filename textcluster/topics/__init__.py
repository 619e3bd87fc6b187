"""The topic stage of text runs: c-TF-IDF keywords, representative documents, labels, reduction, coherence."""

from textcluster.topics.model import Topic, TopicModeler, Topics

__all__ = ["Topic", "TopicModeler", "Topics"]
