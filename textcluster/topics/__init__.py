"""Topic representation for text runs: c-TF-IDF keywords, representative documents, labels, reduction."""

from textcluster.topics.ctfidf import build_vectorizer, c_tf_idf, class_term_counts
from textcluster.topics.model import Topic, TopicModeler, Topics, merge_smallest, representative_documents
from textcluster.topics.report import topics_markdown, topics_payload, write_topics

__all__ = ["Topic", "TopicModeler", "Topics", "build_vectorizer", "c_tf_idf", "class_term_counts", "merge_smallest",
           "representative_documents", "topics_markdown", "topics_payload", "write_topics"]
