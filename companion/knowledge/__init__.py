"""Knowledge: loaders, chunking, embeddings, the vector store, keyword search, retrieval, ingest and the
guide viewer. Uses storage; knows nothing of the assistant, matching or the HTTP edge."""
