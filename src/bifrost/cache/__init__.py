"""The module cache: manifest, blobs by hash and generation, in Redis or read from the database."""
