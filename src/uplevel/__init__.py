"""uplevel: bring a Java server product home to a newer level, in place, safely."""

__version__ = "0.1.0"

DISTRIBUTION = "uplevel-updater"
"""The name uplevel is published and installed under (`pip install uplevel-updater`): the
name `uplevel` on the public package index belongs to an unrelated project. The command
and the import package keep the name `uplevel`."""
