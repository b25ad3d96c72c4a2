"""The update repository: the publisher's side of docs/repository.md.

Modules, each with one job:
    layout     where every file of a repository lives (paths only, no I/O)
    config     repo.json, and parsing of --expires / --threshold
    lock       one publisher at a time (flock on REPO/.lock)
    keys       private signing keys on disk (PEM, mode 0600)
    metadata   TUF metadata: load the newest versions, sign, write targets → snapshot → timestamp
    roles      use cases that change who signs: init, rotate-key
    documents  the manifest.json / update.json target documents (shared with the client)
    blobs      content-addressed file contents (raw or zstd)
    db         the SQLite index (levels, blobs, products, tokens)
    packzip    read a product's pack zip without extracting it
    state      an opened, locked repository and the one write path for new levels
    product    add-product (level 0)
    update     add-update (bundle, trees, or any source of changes)
    catalog    list products, channels and levels
    tokens     subscriber tokens and the authorisation rule the server applies
    tufapi     the python-tuf / securesystemslib names used here, imported once (typing)

Importing this package imports nothing heavy: the server and the client import the
modules they need.
"""
