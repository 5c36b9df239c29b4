"""The `cliniko-connector` command line."""
