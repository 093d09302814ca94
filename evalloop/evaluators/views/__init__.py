"""Evaluator pages, split by screen: evaluators, and the providers under settings."""
