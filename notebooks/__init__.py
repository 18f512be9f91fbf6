"""Figure-reproduction notebooks (see notebooks/README.md); ``python -m notebooks.run`` executes them."""
