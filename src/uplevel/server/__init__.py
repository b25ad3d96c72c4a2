"""The update server: docs/repository.md's HTTP API over a repository directory.

Modules, each with one job:
    names        strict patterns for what a request may name; the traversal rule (pure)
    conditional  Range, ETag, If-None-Match, If-Range (pure)
    files        open files only inside REPO and stream them (200/206/304/416)
    publisher    the one door into the publisher's code: authorize, timestamp re-signing
    refresher    the background task that keeps timestamp.json fresh
    pathguard    ASGI middleware: refuse unsafe paths with 400 before routing
    accesslog    ASGI middleware: one JSON line per request, never the token
    apidoc       what the OpenAPI document says about each answer
    app          the FastAPI application (`create_app`)

It never writes to the repository except through the publisher's timestamp
re-signing, and never imports the client's code.
"""
