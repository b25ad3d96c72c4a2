"""uplevel: bring a Java server product home to a newer level, in place, safely."""

__version__ = "0.1.0"
