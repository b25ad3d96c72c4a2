"""File formats uplevel writes and reads whole: the bundle file and the zip pack writer."""
