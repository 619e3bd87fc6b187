# %% [markdown]
# # Topics in Python: fit, read, edit, predict, over time, save and load
#
# A walk through textcluster's Python API on 20 Newsgroups posts (the `test.csv` of the shared data
# folder: see `../shared/data/README.md`). Each `# %%` block is a notebook cell (VS Code and JupyterLab
# with jupytext open this file as a notebook); `python docs/examples/topics_in_python.py` runs it whole,
# and CI runs it on a small slice (`tests/test_docs_examples.py`).
#
# Set `TEXTCLUSTER_DATA_DIR` to the folder holding `20newsgroups/`, and `EXAMPLE_DOCUMENTS` to how many
# posts to use (2,000 by default: a few minutes on two CPU cores, most of it encoding).

# %%
import os
from pathlib import Path

import pandas as pd

from textcluster import Pipeline

data_dir = Path(os.environ.get("TEXTCLUSTER_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))
posts = pd.read_csv(data_dir / "20newsgroups" / "test.csv").sample(
    n=int(os.environ.get("EXAMPLE_DOCUMENTS", 2000)), random_state=0
)
texts = posts.text.tolist()

# %% [markdown]
# ## Fit with the defaults
#
# No configuration: texts get the text recipe (MiniLM sentence embeddings beside TF-IDF, UMAP, k-means
# with the number of topics searched). The embeddings are cached under `~/.cache/textcluster`
# (`$TEXTCLUSTER_CACHE_DIR`), so running this cell again skips the encoder; `{"cache": False}` turns the
# cache off.

# %%
pipeline = Pipeline.from_config({})
labels = pipeline.fit_predict(texts)
print(pipeline)  # the stages, their settings that differ from the defaults, and what the fit found
print(pipeline.topics_)  # a short table: id, size, label

# %% [markdown]
# ## The topics as a table
#
# One row per topic, largest first: its label (top keywords), size, share, keywords and the posts closest
# to its centre.

# %%
info = pipeline.topic_info()
print(info[["topic", "label", "size", "share"]].to_string(index=False))
print(info.representative_texts.iloc[0][0][:200])

# %% [markdown]
# ## Edit the topics without encoding again
#
# Split the largest topic in two, join the two topics the topic tree finds closest, give the largest a name,
# and drop words common to more than 15% of the posts from every label. Each edit takes seconds: only the
# keywords, the tree and the representative posts are computed again.

# %%
pipeline.split_topic(int(info.topic.iloc[0]))
closest = pipeline.topics_.tree["merges"][0]["children"]  # the tree's first merge joins its two closest leaves
pipeline.merge_topics(closest)
pipeline.rename_topic(int(pipeline.topic_info().topic.iloc[0]), "the largest topic")
pipeline.update_topics(**{"vectorizer.max_df": 0.15})
print(pipeline.topics_)
print([edit["edit"] for edit in pipeline.topic_edits_])

# %% [markdown]
# ## New documents, with their topic's label
#
# `predict` gives topic ids, as scikit-learn does; `predict_details(...).frame()` puts the label and the
# distance beside them. Predictions follow the edits above.

# %%
new = [
    "The shuttle launch was delayed again because of the weather at the cape.",
    "Which graphics card gives the best frame rate for 3D rendering?",
]
print(pipeline.predict_details(new).frame()[["cluster", "topic"]])

# %% [markdown]
# ## Topics over time and per group
#
# 20 Newsgroups keeps no dates, so this cell gives the posts stand-in months, in turn, to show the call
# (the shares come out flat): swap in your own column of dates, `topics_over_time(df["date"])`. The groups
# are real: the newsgroup hierarchy (comp, rec, sci, talk, ...).

# %%
months = pd.date_range("1993-01-01", periods=6, freq="MS")
stand_in_dates = months[[i * len(months) // len(texts) for i in range(len(texts))]]
over_time = pipeline.topics_over_time(stand_in_dates, bins="M")
print(over_time.head(8).to_string(index=False))
per_group = pipeline.topics_per_group(posts.label.str.split(".").str[0])
print(per_group.sort_values("share", ascending=False).head(8).to_string(index=False))

# %% [markdown]
# ## Save and load
#
# A saved model is a folder of data (JSON and safetensors: loading it runs no code). It keeps the topics,
# their labels and the edits, so a loaded model names the topics of new documents too.

# %%
folder = pipeline.save(Path(os.environ.get("EXAMPLE_OUTPUT", "outputs")) / "topics-in-python")
loaded = Pipeline.load(folder)
assert loaded.topic_info().label.tolist() == pipeline.topic_info().label.tolist()
assert (loaded.predict(new) == pipeline.predict(new)).all()
print(loaded.topics_)
