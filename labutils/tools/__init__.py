"""Tools around the notebooks: the runner, the freezer and the command line."""
