"""Helpers the tests share: sample homes and the real CLI, one `uplevel serve --port 0`
start-up, repositories, TUF fixtures, crash injection, migration worlds, fleets."""
