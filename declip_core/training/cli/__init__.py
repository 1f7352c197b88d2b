"""Command-line programs behind training/*.py and the console scripts in pyproject.toml (`main(argv)`)."""
