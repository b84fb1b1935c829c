"""The bench's scenarios, one module each; bench/__main__.py chooses which run and at what size."""
