"""Evaluator endpoints, split by resource: evaluators and providers."""
