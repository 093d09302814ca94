"""Evaluation pages: configs with their run history, a run's results, a config's trend."""
