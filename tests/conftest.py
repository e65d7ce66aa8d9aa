"""pytester runs a test file in a subprocess (tests/client/test_plugin.py uses it to
check that the installed pytest plugin loads by itself)."""
pytest_plugins = ["pytester"]
