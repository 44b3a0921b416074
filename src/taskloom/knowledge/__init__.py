"""Knowledge bases: documents read, cut into chunks, embedded, indexed and searched.

extract.py     a document's bytes as text with its structure (headings) kept
chunking.py    text cut at headings and paragraphs into overlapping chunks (pure)
embedders.py   the embedder port, and any OpenAI-compatible `/embeddings` endpoint
local_model.py the default embedder: a small model that ships in a package, run locally
index.py       where chunks are stored and searched, per store (SQLite, PostgreSQL)
fusion.py      reciprocal rank fusion of the vector and the full-text rankings (pure)
search.py      a query against knowledge bases, for the API and for agents' tool
ingest.py      the durable background work: claim a document, fetch, chunk, embed, index
"""
