"""WSO2 update zips (wum-uc format): the reader, and publishing one as an update level."""
