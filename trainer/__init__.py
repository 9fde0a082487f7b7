"""Offline trainer: environments, multi-agent training, int8 TFLite export.

Needs the ``trainer`` extra (TensorFlow). Nothing under ``runtime/`` imports it
at module level.
"""
