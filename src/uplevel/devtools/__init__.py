"""Developer tools shipped with uplevel: the demo, the sample product, the TUF conformance client."""
