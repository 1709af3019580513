"""Data pipeline: read and split the corpus, train sentencepiece, cache ids, batch them.

Modules: corpus (read, normalise, split), download (locate/fetch the corpus),
tokenizer (sentencepiece), prepare (`nmt data prepare`), dataset (read prepared files),
batching (token-budgeted padded batches).
"""
