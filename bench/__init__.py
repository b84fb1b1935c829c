"""The benchmark: `bench/.venv/bin/python -m bench` from the project root (`make bench`); see bench/__main__.py."""
